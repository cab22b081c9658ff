"""Run-level user actions: trigger a DAG run; read runs and their task instances."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flowctl import strict_json
from flowctl.db.models import DagRun, TaskInstance
from flowctl.db.queries.log_events import record_event
from flowctl.exceptions import AlreadyExists, InvalidInput, NotFound
from flowctl.logs import check_path_id
from flowctl.params import Param, resolve_params
from flowctl.services.actor import Actor
from flowctl.services.dags import dag_spec, require_dag
from flowctl.state import RunState, RunType


def trigger_dag(
    session: Session,
    dag_id: str,
    *,
    actor: Actor,
    run_id: str | None = None,
    logical_date: datetime | None = None,
    conf: Any = None,
) -> DagRun:
    """Create a queued manual run; conf is checked against the DAG's params first (nothing is written
    when it is refused). The scheduler starts it, once the DAG is unpaused."""
    dag = require_dag(session, dag_id)
    spec = dag_spec(session, dag_id)
    conf = {} if conf is None else conf
    if not isinstance(conf, dict):
        raise InvalidInput("conf must be a JSON object")
    strict_json.check(conf, what="conf")  # whatever path it came by, it is stored and served as JSON
    resolve_params({name: Param.from_dict(data) for name, data in spec.params.items()}, conf)
    when = logical_date or actor.at
    if when.tzinfo is None:
        raise InvalidInput("logical date must carry a timezone")
    run_id = run_id or f"{RunType.MANUAL}__{when.isoformat()}"
    check_path_id("run_id", run_id)  # it names the run's log folder
    interval = spec.timetable.infer_manual_data_interval(when)
    run = DagRun(
        dag_id=dag_id,
        run_id=run_id,
        run_type=RunType.MANUAL,
        state=RunState.QUEUED,
        logical_date=when,
        data_interval_start=interval.start,
        data_interval_end=interval.end,
        queued_at=actor.at,
        conf=conf,
        external_trigger=True,
        dag_version_id=dag.latest_version_id,
        updated_at=actor.at,
    )
    try:
        with session.begin_nested():
            session.add(run)
    except IntegrityError:
        raise AlreadyExists(
            f"DAG {dag_id!r} already has a run with id {run_id!r} or logical date {when.isoformat()}"
        ) from None
    record_event(session, "dag.trigger", owner=actor.name, at=actor.at, dag_id=dag_id, run_id=run_id)
    return run


def require_run(session: Session, dag_id: str, run_id: str) -> DagRun:
    run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
    if run is None:
        require_dag(session, dag_id)
        raise NotFound(f"DAG {dag_id!r} has no run {run_id!r}")
    return run


def list_runs(session: Session, dag_id: str, *, state: str | None = None, limit: int | None = None) -> list[DagRun]:
    if state is not None and state not in set(RunState):
        raise InvalidInput(f"unknown run state {state!r}: valid states are {', '.join(RunState)}")
    require_dag(session, dag_id)
    query = select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.logical_date.desc())
    if state:
        query = query.where(DagRun.state == state)
    if limit:
        query = query.limit(limit)
    return list(session.scalars(query))


def task_instances(session: Session, dag_id: str, run_id: str) -> list[TaskInstance]:
    require_run(session, dag_id, run_id)
    return list(
        session.scalars(
            select(TaskInstance)
            .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id, TaskInstance.state != "removed")
            .order_by(TaskInstance.task_id, TaskInstance.map_index)
        )
    )
