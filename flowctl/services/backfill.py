"""Backfill: runs for every interval whose logical date lies in [start, end], both inclusive.

The runs carry the backfill job's id; while that job's heartbeat is fresh, a scheduler leaves them
alone (the command runs them itself), so a run is never executed by both. If the command dies, its
heartbeat goes stale and a scheduler takes the runs over.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from flowctl.db.models import DagRun
from flowctl.db.queries.log_events import record_event
from flowctl.exceptions import InvalidInput
from flowctl.schedule import DataInterval, upcoming_intervals
from flowctl.services.actor import Actor
from flowctl.services.clear import Selection, clear
from flowctl.services.dags import dag_spec, require_dag
from flowctl.state import RunState, RunType

MAX_BACKFILL_RUNS = 10_000
BACKFILL_JOB = "backfill"


def backfill_intervals(session: Session, dag_id: str, *, start: datetime, end: datetime) -> list[DataInterval]:
    if end < start:
        raise InvalidInput(f"end {end.isoformat()} is before start {start.isoformat()}")
    spec = dag_spec(session, dag_id)
    if not spec.timetable.periodic:
        raise InvalidInput(f"DAG {dag_id!r} has no periodic schedule ({spec.schedule}): nothing to backfill")
    first = max(start, spec.start_date) if spec.start_date else start
    last = min(end, spec.end_date) if spec.end_date else end
    intervals = upcoming_intervals(spec.timetable, start_date=first, end_date=last, after=None, n=MAX_BACKFILL_RUNS)
    return [interval for interval in intervals if start <= interval.start <= end]


def create_backfill_runs(
    session: Session,
    dag_id: str,
    intervals: list[DataInterval],
    *,
    job_id: int | None,
    reset: bool,
    actor: Actor,
) -> list[str]:
    """A queued backfill run per interval; an existing run at that logical date is kept as it is, or
    cleared (all its tasks rerun) with `reset`. Returns the run ids to wait for."""
    dag = require_dag(session, dag_id)
    existing = {
        run.logical_date: run
        for run in session.scalars(
            select(DagRun).where(DagRun.dag_id == dag_id, DagRun.logical_date.in_([i.start for i in intervals]))
        )
    }
    run_ids = []
    for interval in intervals:
        run = existing.get(interval.start)
        if run is not None:
            if reset:
                clear(session, dag_id, Selection(run_ids=[run.run_id]), actor=actor)
                run.creating_job_id = job_id
            run_ids.append(run.run_id)
            continue
        run_id = f"{RunType.BACKFILL}__{interval.start.isoformat()}"
        session.add(
            DagRun(
                dag_id=dag_id,
                run_id=run_id,
                run_type=RunType.BACKFILL,
                state=RunState.QUEUED,
                logical_date=interval.start,
                data_interval_start=interval.start,
                data_interval_end=interval.end,
                queued_at=actor.at,
                conf={},
                external_trigger=True,
                dag_version_id=dag.latest_version_id,
                creating_job_id=job_id,
                updated_at=actor.at,
            )
        )
        run_ids.append(run_id)
    record_event(session, "dag.backfill", owner=actor.name, at=actor.at, dag_id=dag_id, extra=f"{len(run_ids)} runs")
    return run_ids
