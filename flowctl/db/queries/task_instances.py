"""Task instances and their tries: creation, guarded state changes, the counts dispatch needs."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.orm import Session

from flowctl.db.models import DagRun, TaskInstance, TaskInstanceTry
from flowctl.planning import PastRun, TIKey
from flowctl.state import TaskState, allowed_sources

if TYPE_CHECKING:
    from flowctl.serialization import DagSpec


def for_run(session: Session, dag_id: str, run_id: str) -> list[TaskInstance]:
    return list(
        session.scalars(
            select(TaskInstance)
            .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
            .order_by(TaskInstance.task_id, TaskInstance.map_index)
        )
    )


def states_for_run(session: Session, dag_id: str, run_id: str) -> list[Any]:
    """(id, task_id, map_index, state, try_number, next_try_at) rows: what planning reads, no ORM objects
    (read through the Core connection: the scheduler does this for a whole run after each finished try)."""
    session.flush()
    return list(
        session.connection().execute(
            select(
                TaskInstance.id,
                TaskInstance.task_id,
                TaskInstance.map_index,
                TaskInstance.state,
                TaskInstance.try_number,
                TaskInstance.next_try_at,
            ).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
        )
    )


def get(session: Session, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> TaskInstance | None:
    return session.scalar(
        select(TaskInstance).where(
            TaskInstance.dag_id == dag_id,
            TaskInstance.run_id == run_id,
            TaskInstance.task_id == task_id,
            TaskInstance.map_index == map_index,
        )
    )


def get_many(
    session: Session, keys: Iterable[tuple[str, str, str, int]]
) -> dict[tuple[str, str, str, int], TaskInstance]:
    """Task instances by (dag_id, run_id, task_id, map_index), one query per run among `keys`."""
    by_run: dict[tuple[str, str], set[str]] = {}
    for dag_id, run_id, task_id, _ in keys:
        by_run.setdefault((dag_id, run_id), set()).add(task_id)
    found = {}
    for (dag_id, run_id), task_ids in by_run.items():
        query = select(TaskInstance).where(
            TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id, TaskInstance.task_id.in_(task_ids)
        )
        for ti in session.scalars(query):
            found[(ti.dag_id, ti.run_id, ti.task_id, ti.map_index)] = ti
    return found


def transition(
    session: Session,
    ti_ids: Sequence[int],
    target: TaskState,
    *,
    values: dict[str, Any] | None = None,
    expected: Iterable[TaskState] | None = None,
) -> int:
    """Move task instances to `target` where the transition table allows it from their current state
    (and, with `expected`, only from those states: the ones the caller read); returns how many moved.
    A racing clear or mark wins, and the other update finds nothing to do."""
    if not ti_ids:
        return 0
    sources = allowed_sources(target)
    if expected is not None:
        sources = sources & frozenset(expected)
    result = session.execute(
        update(TaskInstance)
        .where(TaskInstance.id.in_(list(ti_ids)), TaskInstance.state.in_(list(sources)))
        .values(state=target, **(values or {}))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def active_counts(session: Session) -> tuple[int, dict[str, int], dict[tuple[str, str], int], dict[str, int]]:
    """Queued + running task instances: in total, per DAG, per (DAG, task), and pool slots per pool."""
    active = [TaskState.QUEUED, TaskState.RUNNING]
    total = 0
    per_dag: dict[str, int] = {}
    per_task: dict[tuple[str, str], int] = {}
    per_pool: dict[str, int] = {}
    rows = session.execute(
        select(
            TaskInstance.dag_id,
            TaskInstance.task_id,
            TaskInstance.pool,
            func.count(),
            func.sum(TaskInstance.pool_slots),
        )
        .where(TaskInstance.state.in_(active))
        .group_by(TaskInstance.dag_id, TaskInstance.task_id, TaskInstance.pool)
    )
    for dag_id, task_id, pool, count, slots in rows:
        total += count
        per_dag[dag_id] = per_dag.get(dag_id, 0) + count
        per_task[(dag_id, task_id)] = per_task.get((dag_id, task_id), 0) + count
        per_pool[pool] = per_pool.get(pool, 0) + int(slots or 0)
    return total, per_dag, per_task, per_pool


def scheduled(
    session: Session,
    *,
    limit: int,
    offset: int = 0,
    skip_locked: bool,
    full_dags: Collection[str] = (),
    full_pools: Collection[str] = (),
) -> list[TaskInstance]:
    """Task instances ready to queue (but those of DAGs and pools that have no room), in the order they
    get slots: the most important first; among equals, by turn, a run's waiting tasks queueing behind the
    ones it already runs, so that a run holding no slot goes before one holding many (a wide run cannot
    take every slot while another waits); then the oldest."""
    active = (
        select(TaskInstance.dag_id, TaskInstance.run_id, func.count().label("holding"))
        .where(TaskInstance.state.in_([TaskState.QUEUED, TaskState.RUNNING]))
        .group_by(TaskInstance.dag_id, TaskInstance.run_id)
        .subquery()
    )
    turn = func.coalesce(active.c.holding, 0) + func.row_number().over(
        partition_by=(TaskInstance.dag_id, TaskInstance.run_id),
        order_by=(TaskInstance.priority_weight.desc(), TaskInstance.id),
    )
    ready = (
        select(TaskInstance.id, TaskInstance.priority_weight, turn.label("turn"))
        .outerjoin(active, (active.c.dag_id == TaskInstance.dag_id) & (active.c.run_id == TaskInstance.run_id))
        .where(TaskInstance.state == TaskState.SCHEDULED)
    )
    if full_dags:
        ready = ready.where(TaskInstance.dag_id.not_in(list(full_dags)))
    if full_pools:
        ready = ready.where(TaskInstance.pool.not_in(list(full_pools)))
    ranked = ready.subquery()
    in_turn = (ranked.c.priority_weight.desc(), ranked.c.turn, ranked.c.id)
    if not skip_locked:
        query = select(TaskInstance).join(ranked, ranked.c.id == TaskInstance.id).order_by(*in_turn)
        return list(session.scalars(query.limit(limit).offset(offset)))
    # Locked in a second statement: row locks and window functions do not go together in one.
    order = list(session.scalars(select(ranked.c.id).order_by(*in_turn).limit(limit).offset(offset)))
    if not order:
        return []
    query = select(TaskInstance).where(TaskInstance.id.in_(order), TaskInstance.state == TaskState.SCHEDULED)
    found = {ti.id: ti for ti in session.scalars(query.with_for_update(skip_locked=True))}
    return [found[ti_id] for ti_id in order if ti_id in found]


def orphaned(session: Session, live_job_ids: Iterable[int]) -> list[TaskInstance]:
    """Queued, running or restarting task instances whose scheduler job is no longer alive."""
    states = [TaskState.QUEUED, TaskState.RUNNING, TaskState.RESTARTING]
    query = select(TaskInstance).where(TaskInstance.state.in_(states))
    live = list(live_job_ids)
    if live:
        query = query.where((TaskInstance.queued_by_job_id.is_(None)) | TaskInstance.queued_by_job_id.not_in(live))
    return list(session.scalars(query))


def get_try(session: Session, ti_id: int, try_number: int) -> TaskInstanceTry | None:
    return session.scalar(
        select(TaskInstanceTry).where(
            TaskInstanceTry.task_instance_id == ti_id, TaskInstanceTry.try_number == try_number
        )
    )


def tries_by_number(session: Session, ti_tries: Iterable[tuple[int, int]]) -> dict[tuple[int, int], TaskInstanceTry]:
    """Try rows by (task_instance_id, try_number), in one query."""
    wanted = set(ti_tries)
    if not wanted:
        return {}
    query = select(TaskInstanceTry).where(
        TaskInstanceTry.task_instance_id.in_({ti_id for ti_id, _ in wanted}),
        TaskInstanceTry.try_number.in_({number for _, number in wanted}),
    )
    return {
        (row.task_instance_id, row.try_number): row
        for row in session.scalars(query)
        if (row.task_instance_id, row.try_number) in wanted
    }


def tries_of(session: Session, ti_ids: Sequence[int]) -> list[TaskInstanceTry]:
    if not ti_ids:
        return []
    return list(
        session.scalars(
            select(TaskInstanceTry)
            .where(TaskInstanceTry.task_instance_id.in_(list(ti_ids)))
            .order_by(TaskInstanceTry.task_instance_id, TaskInstanceTry.try_number)
        )
    )


def queue_next_tries(session: Session, ti_ids: Sequence[int], *, job_id: int | None, at: datetime) -> set[int]:
    """Queue these task instances at their next try number in one UPDATE (a rescheduled sensor, with
    first_poke_at set, keeps its try); returns the ids that moved (those still in a state that may be
    queued)."""
    if not ti_ids:
        return set()
    next_try = case((TaskInstance.first_poke_at.is_(None), TaskInstance.try_number + 1), else_=TaskInstance.try_number)
    moved = session.execute(
        update(TaskInstance)
        .where(TaskInstance.id.in_(list(ti_ids)), TaskInstance.state.in_(list(allowed_sources(TaskState.QUEUED))))
        .values(state=TaskState.QUEUED, try_number=next_try, queued_at=at, queued_by_job_id=job_id, updated_at=at)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved == len(ti_ids):
        return set(ti_ids)
    # Some changed state since they were read (a clear or mark won): find the ones this update moved.
    rows = session.execute(
        select(TaskInstance.id).where(
            TaskInstance.id.in_(list(ti_ids)),
            TaskInstance.state == TaskState.QUEUED,
            TaskInstance.queued_at == at,
            TaskInstance.queued_by_job_id.is_(None) if job_id is None else TaskInstance.queued_by_job_id == job_id,
        )
    )
    return set(rows.scalars())


def take_back_try(session: Session, ti: TaskInstance, *, at: datetime) -> bool:
    """Undo the queueing of a try that never ran: the instance is scheduled again and its next queueing
    gets the same try number (a rescheduled sensor's poke keeps its try, which waits for that poke
    again). A restarting instance (cleared while queued) goes back to none, as its clear meant."""
    poke_again = ti.first_poke_at is not None
    if ti.state == TaskState.RESTARTING:
        target, values = TaskState.NONE, {}
    else:
        target, values = TaskState.SCHEDULED, {}
        if not poke_again and ti.try_number >= 1:
            values["try_number"] = ti.try_number - 1
    moved = transition(
        session,
        [ti.id],
        target,
        values={**values, "queued_at": None, "queued_by_job_id": None, "pid": None, "updated_at": at},
        expected=[ti.state],
    )
    if not moved or ti.try_number < 1:
        return bool(moved)
    attempt = get_try(session, ti.id, ti.try_number)
    if attempt is None:
        return True
    if poke_again:
        attempt.state = TaskState.UP_FOR_RESCHEDULE
    elif target is TaskState.SCHEDULED:
        session.delete(attempt)
    else:
        attempt.state, attempt.end_date, attempt.error = TaskState.NONE, at, "cleared before it started"
    return True


def mark_running(session: Session, starts: Sequence[tuple[int, int | None, str | None, datetime]]) -> None:
    """queued -> running for each (task instance id, pid, hostname, start time), in one executemany; an
    instance no longer queued (cleared, marked) is left as it is."""
    if not starts:
        return
    table = TaskInstance.__table__
    start = bindparam("b_start", type_=table.c.start_date.type)
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.state == TaskState.QUEUED)
        .values(
            state=TaskState.RUNNING,
            pid=bindparam("b_pid"),
            hostname=bindparam("b_host", type_=table.c.hostname.type),
            start_date=start,
            updated_at=bindparam("b_updated", type_=table.c.updated_at.type),
        )
    )
    params = [{"b_id": i, "b_pid": pid, "b_host": host, "b_start": at, "b_updated": at} for i, pid, host, at in starts]
    session.execute(statement, params)


def record_try_starts(session: Session, starts: Sequence[tuple[int, int, bool]], *, at: datetime) -> None:
    """For each (task instance id, try number, poke_again): a new try row, or (poke_again: a rescheduled
    sensor poking once more) the same row again."""
    again = tries_by_number(session, [(ti_id, number) for ti_id, number, poke_again in starts if poke_again])
    for ti_id, number, _ in starts:
        existing = again.get((ti_id, number))
        if existing is not None:
            existing.state, existing.queued_at, existing.end_date = TaskState.QUEUED, at, None
        else:
            row = TaskInstanceTry(task_instance_id=ti_id, try_number=number, state=TaskState.QUEUED, queued_at=at)
            session.add(row)


def states_for_runs(session: Session, dag_id: str, run_ids: Sequence[str]) -> list[Any]:
    """(run_id, task_id, map_index, state) of every task instance of these runs: the grid's cells."""
    if not run_ids:
        return []
    query = select(TaskInstance.run_id, TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state).where(
        TaskInstance.dag_id == dag_id, TaskInstance.run_id.in_(list(run_ids))
    )
    return list(session.connection().execute(query).all())  # Core rows: a 1 000 x 25 grid reads 25 000 of them


def tries_for_run(session: Session, dag_id: str, run_id: str) -> list[Any]:
    """(task_id, map_index, try_number, state, queued_at, start_date, end_date) of every try of a run's
    task instances, in try order: the Gantt chart's bars."""
    return list(
        session.execute(
            select(
                TaskInstance.task_id,
                TaskInstance.map_index,
                TaskInstanceTry.try_number,
                TaskInstanceTry.state,
                TaskInstanceTry.queued_at,
                TaskInstanceTry.start_date,
                TaskInstanceTry.end_date,
            )
            .join(TaskInstanceTry, TaskInstanceTry.task_instance_id == TaskInstance.id)
            .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
            .order_by(TaskInstance.task_id, TaskInstance.map_index, TaskInstanceTry.try_number)
        )
    )


def states_on(session: Session, dag_id: str, logical_dates: Iterable[datetime], task_ids: Iterable[str]) -> list[Any]:
    """(logical_date, task_id, map_index, state) rows of these tasks in the DAG's runs on these logical
    dates (what ExternalTaskSensor waits on)."""
    dates, ids = list(set(logical_dates)), list(set(task_ids))
    if not dates or not ids:
        return []
    query = (
        select(DagRun.logical_date, TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state)
        .join(DagRun, (DagRun.dag_id == TaskInstance.dag_id) & (DagRun.run_id == TaskInstance.run_id))
        .where(DagRun.dag_id == dag_id, DagRun.logical_date.in_(dates), TaskInstance.task_id.in_(ids))
    )
    return list(session.execute(query))


def past_for_planning(session: Session, spec: DagSpec, run: DagRun) -> PastRun | None:
    """What planning needs of the run before `run` (by logical date) for depends_on_past: None when there
    is no such run, and no states at all when no task depends on the past (nothing is read then)."""
    from flowctl.db.queries.runs import previous_run

    if not any(task.depends_on_past for task in spec.tasks.values()):
        return PastRun(states={})
    previous = previous_run(session, run.dag_id, run.logical_date)
    if previous is None:
        return None
    states = {state.value: state for state in TaskState}
    rows = states_for_run(session, previous.dag_id, previous.run_id)
    return PastRun(states={TIKey(r.task_id, r.map_index): states.get(r.state, TaskState.NONE) for r in rows})
