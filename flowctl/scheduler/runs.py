"""DAG runs from the scheduler's side: create the runs that are due, start queued runs (making their
task instances), and keep each DAG's next-run fields current."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flowctl.db.models import Dag, DagRun, SerializedDag, TaskInstance
from flowctl.db.queries.jobs import DEAD_AFTER, live_job_ids
from flowctl.planning import priority_weights
from flowctl.schedule import DataInterval
from flowctl.serialization import DagSpec, deserialize_dag
from flowctl.state import RunState, RunType, TaskState


@dataclass
class DagVersions:
    """Serialized DAG versions, read once each: versions never change."""

    specs: dict[int, DagSpec] = field(default_factory=dict)
    weights: dict[int, dict[str, int]] = field(default_factory=dict)

    def get(self, session: Session, version_id: int) -> DagSpec:
        if version_id not in self.specs:
            data = session.scalar(select(SerializedDag.data).where(SerializedDag.id == version_id))
            self.specs[version_id] = deserialize_dag(data)
            self.weights[version_id] = priority_weights(self.specs[version_id])
        return self.specs[version_id]


def scheduled_run_id(logical_date: datetime) -> str:
    return f"{RunType.SCHEDULED}__{logical_date.isoformat()}"


def active_run_counts(session: Session, dag_ids: list[str]) -> dict[str, int]:
    if not dag_ids:
        return {}
    rows = session.execute(
        select(DagRun.dag_id, func.count())
        .where(DagRun.dag_id.in_(dag_ids), DagRun.state.in_([RunState.QUEUED, RunState.RUNNING]))
        .group_by(DagRun.dag_id)
    )
    return {dag_id: count for dag_id, count in rows}


def create_due_runs(session: Session, versions: DagVersions, *, now: datetime) -> list[tuple[str, str]]:
    """Create every scheduled run whose interval has ended, within each DAG's max_active_runs."""
    dags = list(
        session.scalars(
            select(Dag).where(
                Dag.is_paused.is_(False),
                Dag.is_stale.is_(False),
                Dag.next_dagrun_create_after <= now,
                Dag.latest_version_id.is_not(None),
            )
        )
    )
    active = active_run_counts(session, [dag.dag_id for dag in dags])
    created = []
    for dag in dags:
        spec = versions.get(session, dag.latest_version_id)  # type: ignore[arg-type]
        room = dag.max_active_runs - active.get(dag.dag_id, 0)
        while room > 0 and dag.next_dagrun_create_after is not None and dag.next_dagrun_create_after <= now:
            interval = DataInterval(dag.next_dagrun_data_interval_start, dag.next_dagrun_data_interval_end)  # type: ignore[arg-type]
            run_id = scheduled_run_id(interval.start)
            if _insert_run(session, dag, interval, run_id=run_id, at=now):
                created.append((dag.dag_id, run_id))
                room -= 1
            _advance(dag, spec, interval, now=now)
    return created


def _insert_run(session: Session, dag: Dag, interval: DataInterval, *, run_id: str, at: datetime) -> bool:
    """Insert a queued scheduled run; False when one exists for that run id or logical date already."""
    run = DagRun(
        dag_id=dag.dag_id,
        run_id=run_id,
        run_type=RunType.SCHEDULED,
        state=RunState.QUEUED,
        logical_date=interval.start,
        data_interval_start=interval.start,
        data_interval_end=interval.end,
        queued_at=at,
        conf={},
        external_trigger=False,
        dag_version_id=dag.latest_version_id,
        updated_at=at,
    )
    try:
        with session.begin_nested():
            session.add(run)
    except IntegrityError:
        return False  # the unique keys make a repeated step harmless
    return True


def _advance(dag: Dag, spec: DagSpec, last: DataInterval, *, now: datetime) -> None:
    upcoming = spec.next_dagrun(last=last, now=now)
    dag.next_dagrun = upcoming.start if upcoming else None
    dag.next_dagrun_data_interval_start = upcoming.start if upcoming else None
    dag.next_dagrun_data_interval_end = upcoming.end if upcoming else None
    dag.next_dagrun_create_after = upcoming.end if upcoming else None


def start_queued_runs(session: Session, versions: DagVersions, *, now: datetime) -> list[DagRun]:
    """Queued runs of unpaused DAGs become running (oldest first, within max_active_runs), with their
    task instances created from the DAG version each run was made with."""
    queued = list(
        session.scalars(
            select(DagRun)
            .join(Dag, Dag.dag_id == DagRun.dag_id)
            .where(DagRun.state == RunState.QUEUED, Dag.is_paused.is_(False))
            .order_by(DagRun.logical_date)
        )
    )
    if not queued:
        return []
    dags = {d.dag_id: d for d in session.scalars(select(Dag).where(Dag.dag_id.in_({r.dag_id for r in queued})))}
    running = {
        dag_id: count
        for dag_id, count in session.execute(
            select(DagRun.dag_id, func.count())
            .where(DagRun.dag_id.in_(list(dags)), DagRun.state == RunState.RUNNING)
            .group_by(DagRun.dag_id)
        )
    }
    # Runs made by a live command (backfill, dags test) are run by that command.
    owned = set(live_job_ids(session, None, now=now, stale_after=DEAD_AFTER))
    started = []
    for run in queued:
        if run.creating_job_id in owned:
            continue  # its backfill command runs it
        dag = dags[run.dag_id]
        if running.get(run.dag_id, 0) >= dag.max_active_runs:
            continue
        if run.dag_version_id is None:
            run.dag_version_id = dag.latest_version_id
        if run.dag_version_id is None:
            continue
        start_run(session, run, versions, now=now)
        running[run.dag_id] = running.get(run.dag_id, 0) + 1
        started.append(run)
    return started


def start_run(session: Session, run: DagRun, versions: DagVersions, *, now: datetime) -> None:
    """queued -> running, with a task instance for every task of the run's DAG version."""
    run.state = RunState.RUNNING
    run.start_date = run.start_date or now
    run.updated_at = now
    _create_task_instances(session, run, versions, now=now)


def _create_task_instances(session: Session, run: DagRun, versions: DagVersions, *, now: datetime) -> None:
    spec = versions.get(session, run.dag_version_id)  # type: ignore[arg-type]
    weights = versions.weights[run.dag_version_id]  # type: ignore[index]
    existing = set(
        session.scalars(
            select(TaskInstance.task_id).where(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)
        )
    )
    session.add_all(
        TaskInstance(
            dag_id=run.dag_id,
            run_id=run.run_id,
            task_id=task.task_id,
            map_index=-1,
            state=TaskState.NONE,
            try_number=0,
            max_tries=task.retries,
            operator=task.operator,
            pool=task.pool,
            pool_slots=task.pool_slots,
            queue=task.queue,
            priority_weight=weights.get(task.task_id, task.priority_weight),
            updated_at=now,
        )
        for task in spec.tasks.values()
        if task.task_id not in existing
    )
