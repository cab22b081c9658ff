"""Queueing scheduled task instances within every limit: parallelism, the executor's free slots, each
DAG's max_active_tasks, each task's max_active_tis_per_dag and pool slots; most important first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from flowctl.db.models import Dag, DagRun, Pool, TaskInstance
from flowctl.db.queries import task_instances as ti_queries
from flowctl.db.queries import xcoms as xcom_queries
from flowctl.db.queries.runs import previous_successful_run
from flowctl.executors.base import RunSnapshot, TaskCommand, TaskKey
from flowctl.logs import task_log_path
from flowctl.scheduler.runs import DagVersions
from flowctl.serialization import DagSpec, TaskSpec
from flowctl.state import TaskState


@dataclass(frozen=True, slots=True)
class Limits:
    parallelism: int
    executor_free: int
    batch: int
    skip_locked: bool


def dispatch_ready(
    session: Session,
    versions: DagVersions,
    limits: Limits,
    *,
    log_folder: Path,
    job_id: int,
    now: datetime,
    snapshots: RunSnapshots | None = None,
) -> list[TaskCommand]:
    """Move the task instances that fit from scheduled to queued; returns the commands to submit
    (after the transaction commits). `snapshots` may be kept between calls (see RunSnapshots)."""
    total, per_dag, per_task, per_pool = ti_queries.active_counts(session)
    room = min(limits.parallelism - total, limits.executor_free)
    if room <= 0:
        return []
    pools = dict(session.execute(select(Pool.pool, Pool.slots)).all())
    capacity = _Capacity(room, per_dag, per_task, per_pool, pools, _max_active_tasks(session, set(per_dag)))
    chosen: list[_Queueing] = []
    # Candidates come a page at a time, a page about twice the free slots: most of them start, and the
    # next page is only read when per-task or pool-size limits held many back.
    page, offset = max(2 * room, 16), 0
    while capacity.room > 0 and offset < limits.batch:
        candidates = ti_queries.scheduled(
            session,
            limit=min(page, limits.batch - offset),
            offset=offset,
            skip_locked=limits.skip_locked,
            # left out of the query, so that what cannot start never fills a page
            full_dags=capacity.full_dags(),
            full_pools=capacity.full_pools(),
        )
        runs = _runs_of(session, candidates)
        capacity.dag_limits |= _max_active_tasks(session, {c.dag_id for c in candidates} - set(capacity.dag_limits))
        for ti in candidates:
            run = runs[(ti.dag_id, ti.run_id)]
            spec = versions.get(session, run.dag_version_id)  # type: ignore[arg-type]
            task = spec.tasks.get(ti.task_id)
            if capacity.room > 0 and task is not None and capacity.take(ti, task, spec):
                chosen.append(_Queueing(ti, task, spec, run))
        if len(candidates) < page:
            break  # nothing more is ready
        offset += page
    return queue_task_instances(
        session, chosen, log_folder=log_folder, job_id=job_id, now=now, snapshots=snapshots or RunSnapshots()
    )


@dataclass(slots=True)
class _Capacity:
    """What may still start in this dispatch: free slots, and what each DAG, task and pool already runs."""

    room: int
    per_dag: dict[str, int]
    per_task: dict[tuple[str, str], int]
    per_pool: dict[str, int]
    pools: dict[str, int]
    dag_limits: dict[str, int]  # max_active_tasks by DAG id

    def full_dags(self) -> list[str]:
        return [dag_id for dag_id, count in self.per_dag.items() if count >= self.dag_limits.get(dag_id, count + 1)]

    def full_pools(self) -> list[str]:
        return [pool for pool, used in self.per_pool.items() if used >= self.pools.get(pool, 0)]

    def take(self, ti: TaskInstance, task: TaskSpec, spec: DagSpec) -> bool:
        """Count `ti` in if every limit leaves it room; returns whether it did."""
        per_task_key = (ti.dag_id, ti.task_id)
        if self.per_dag.get(ti.dag_id, 0) >= self.dag_limits.get(ti.dag_id, spec.max_active_tasks):
            return False
        if task.max_active_tis_per_dag and self.per_task.get(per_task_key, 0) >= task.max_active_tis_per_dag:
            return False
        if self.per_pool.get(ti.pool, 0) + ti.pool_slots > self.pools.get(ti.pool, 0):
            return False
        self.room -= 1
        self.per_dag[ti.dag_id] = self.per_dag.get(ti.dag_id, 0) + 1
        self.per_task[per_task_key] = self.per_task.get(per_task_key, 0) + 1
        self.per_pool[ti.pool] = self.per_pool.get(ti.pool, 0) + ti.pool_slots
        return True


@dataclass(frozen=True, slots=True)
class _Queueing:
    ti: TaskInstance
    task: TaskSpec
    spec: DagSpec
    run: DagRun


def queue_task_instance(
    session: Session,
    ti: TaskInstance,
    task: TaskSpec,
    spec: DagSpec,
    run: DagRun,
    *,
    log_folder: Path,
    job_id: int | None,
    now: datetime,
) -> TaskCommand | None:
    """Start the next try of one task instance (None if it changed state meanwhile)."""
    commands = queue_task_instances(
        session, [_Queueing(ti, task, spec, run)], log_folder=log_folder, job_id=job_id, now=now, snapshots=None
    )
    return commands[0] if commands else None


def queue_task_instances(
    session: Session,
    chosen: list[_Queueing],
    *,
    log_folder: Path,
    job_id: int | None,
    now: datetime,
    snapshots: RunSnapshots | None,
) -> list[TaskCommand]:
    """Start the next try of each chosen task instance: queued (one UPDATE for all), a try row each, and
    their commands. One that changed state meanwhile is left out."""
    if not chosen:
        return []
    moved = ti_queries.queue_next_tries(session, [c.ti.id for c in chosen], job_id=job_id, at=now)
    chosen = [c for c in chosen if c.ti.id in moved]
    # A rescheduled sensor (first_poke_at set) pokes again in its current try; anything else starts a new
    # one. Every path that ends a try for good (finish, clear, orphan recovery) resets first_poke_at.
    tries = {c.ti.id: c.ti.try_number if c.ti.first_poke_at else c.ti.try_number + 1 for c in chosen}
    # An earlier try's XComs must not leak into this one.
    xcom_queries.clear_xcoms(session, [ti_id for ti_id, number in tries.items() if number > 1])
    ti_queries.record_try_starts(
        session, [(c.ti.id, tries[c.ti.id], c.ti.first_poke_at is not None) for c in chosen], at=now
    )
    snapshots = snapshots or RunSnapshots()
    commands = []
    for c in chosen:
        key = TaskKey(c.ti.dag_id, c.ti.run_id, c.ti.task_id, c.ti.map_index, tries[c.ti.id])
        commands.append(
            TaskCommand(
                key=key,
                fileloc=c.spec.fileloc,
                log_path=str(try_log_path(log_folder, key)),
                execution_timeout=c.task.execution_timeout,
                run=snapshots.get(session, c.run),
                first_poke_at=c.ti.first_poke_at,
                queued_at=now,
                max_tries=c.ti.max_tries,
            )
        )
    return commands


def _max_active_tasks(session: Session, dag_ids: set[str]) -> dict[str, int]:
    if not dag_ids:
        return {}
    query = select(Dag.dag_id, Dag.max_active_tasks).where(Dag.dag_id.in_(dag_ids))
    return {dag_id: limit for dag_id, limit in session.execute(query)}


def _runs_of(session: Session, tis: list[TaskInstance]) -> dict[tuple[str, str], DagRun]:
    if not tis:
        return {}
    keys = {(ti.dag_id, ti.run_id) for ti in tis}
    runs = session.scalars(
        select(DagRun).where(DagRun.dag_id.in_({d for d, _ in keys}), DagRun.run_id.in_({r for _, r in keys}))
    )
    return {(run.dag_id, run.run_id): run for run in runs}


def try_log_path(folder: Path, key: TaskKey) -> Path:
    return task_log_path(
        folder,
        dag_id=key.dag_id,
        run_id=key.run_id,
        task_id=key.task_id,
        map_index=key.map_index,
        try_number=key.try_number,
    )


class RunSnapshots:
    """The RunSnapshot of each run tries are queued for. Finding the previous successful run is a query,
    so the scheduler keeps one cache and empties it each second: a snapshot is a run as it was when its
    first try of that second was queued (a restarted run, with a new start_date, gets a new one)."""

    MAX_RUNS = 1000

    def __init__(self) -> None:
        self.by_run: dict[tuple[int, datetime | None], RunSnapshot] = {}

    def get(self, session: Session, run: DagRun) -> RunSnapshot:
        key = (run.id, run.start_date)
        if key not in self.by_run:
            if len(self.by_run) >= self.MAX_RUNS:
                self.by_run.clear()
            previous = previous_successful_run(session, run.dag_id, run.logical_date)
            self.by_run[key] = RunSnapshot.of(run, previous)
        return self.by_run[key]

    def clear(self) -> None:
        self.by_run.clear()


def stale_tries(session: Session, running: set[TaskKey]) -> set[TaskKey]:
    """Tries the executor runs whose task instance is no longer queued or running at that try number."""
    if not running:
        return set()
    columns = (TaskInstance.dag_id, TaskInstance.run_id, TaskInstance.task_id, TaskInstance.map_index)
    rows = session.execute(
        select(*columns, TaskInstance.state, TaskInstance.try_number).where(
            TaskInstance.dag_id.in_({k.dag_id for k in running}),
            TaskInstance.run_id.in_({k.run_id for k in running}),
        )
    )
    current = {(r.dag_id, r.run_id, r.task_id, r.map_index): (r.state, r.try_number) for r in rows}
    stale = set()
    for key in running:
        state, try_number = current.get((key.dag_id, key.run_id, key.task_id, key.map_index), (None, None))
        if state not in (TaskState.QUEUED, TaskState.RUNNING) or try_number != key.try_number:
            stale.add(key)
    return stale
