"""Clearing (rerunning) task instances and marking them success or failed: shared by CLI, UI and API.

Clearing resets task instances to `none` (a running one to `restarting`, so the scheduler stops its
process first), keeps every try's history, gives each the task's retries again, and sends a finished
run back to `queued`. Marking sets the state directly; the scheduler stops a process that was running.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from flowctl.db.models import DagRun, SerializedDag, TaskInstance
from flowctl.db.queries import task_instances as ti_queries
from flowctl.db.queries.log_events import record_event
from flowctl.exceptions import InvalidInput
from flowctl.serialization import DagSpec, deserialize_dag
from flowctl.services.actor import Actor
from flowctl.services.dags import require_dag
from flowctl.state import FINISHED_RUN_STATES, RunState, TaskState

FAILED_STATES = frozenset({TaskState.FAILED, TaskState.UPSTREAM_FAILED})


@dataclass(frozen=True, slots=True)
class Selection:
    """Which task instances a clear or mark is about."""

    run_ids: list[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    task_regex: str | None = None
    task_ids: list[str] | None = None
    map_indexes: list[int] | None = None
    downstream: bool = False
    upstream: bool = False
    only_failed: bool = False


def select_task_instances(session: Session, dag_id: str, selection: Selection) -> list[TaskInstance]:
    """The matching task instances (with relatives when asked), in run and task order."""
    require_dag(session, dag_id)
    pattern = _compile(selection.task_regex)
    chosen: list[TaskInstance] = []
    for run in _runs(session, dag_id, selection):
        spec = _spec(session, run.dag_version_id)
        task_ids = {t for t in spec.tasks if (pattern is None or pattern.search(t))}
        if selection.task_ids is not None:
            task_ids &= set(selection.task_ids)
        task_ids |= _relatives(spec, task_ids, selection)
        for ti in ti_queries.for_run(session, run.dag_id, run.run_id):
            if ti.task_id not in task_ids:
                continue
            if selection.map_indexes is not None and ti.map_index not in selection.map_indexes:
                continue
            if selection.only_failed and ti.state not in FAILED_STATES:
                continue
            chosen.append(ti)
    return chosen


def clear(
    session: Session, dag_id: str, selection: Selection, *, actor: Actor, dry_run: bool = False
) -> list[TaskInstance]:
    tis = select_task_instances(session, dag_id, selection)
    if dry_run or not tis:
        return tis
    runs = {run.run_id: run for run in _runs(session, dag_id, selection)}
    for ti in tis:
        task = _spec(session, runs[ti.run_id].dag_version_id).tasks.get(ti.task_id)
        retries = task.retries if task else 0
        target = TaskState.RESTARTING if ti.state == TaskState.RUNNING else TaskState.NONE
        values = {
            "first_poke_at": None,
            "max_tries": ti.try_number + retries,
            "next_try_at": None,
            "end_date": None,
            "updated_at": actor.at,
        }
        ti_queries.transition(session, [ti.id], target, values=values)
    _reset_mapped(session, tis)
    for run_id in {ti.run_id for ti in tis}:
        run = runs[run_id]
        if run.state in FINISHED_RUN_STATES:
            run.state, run.end_date, run.updated_at = RunState.QUEUED, None, actor.at
    record_event(session, "task.clear", owner=actor.name, at=actor.at, dag_id=dag_id, extra=f"{len(tis)} instances")
    return tis


def mark(session: Session, dag_id: str, selection: Selection, state: TaskState, *, actor: Actor) -> list[TaskInstance]:
    """Set success or failed directly; the run's state follows at the scheduler's next look."""
    if state not in (TaskState.SUCCESS, TaskState.FAILED):
        raise InvalidInput(f"can only mark success or failed, not {state}")
    # A removed instance (a mapped task's placeholder, a task gone from the DAG) has nothing to mark.
    tis = [ti for ti in select_task_instances(session, dag_id, selection) if ti.state not in (state, TaskState.REMOVED)]
    now = actor.at
    ti_queries.transition(session, [ti.id for ti in tis], state, values={"end_date": now, "updated_at": now})
    for run_id in {ti.run_id for ti in tis}:
        run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        if run is not None and run.state in FINISHED_RUN_STATES:
            run.state, run.end_date, run.updated_at = RunState.QUEUED, None, now
    record_event(session, f"task.mark_{state}", owner=actor.name, at=now, dag_id=dag_id, extra=f"{len(tis)} instances")
    return tis


def _reset_mapped(session: Session, tis: Iterable[TaskInstance]) -> None:
    """A cleared mapped task expands again: its map indexes go, its placeholder comes back."""
    for ti in tis:
        if ti.map_index >= 0:
            session.execute(
                delete(TaskInstance).where(
                    TaskInstance.dag_id == ti.dag_id,
                    TaskInstance.run_id == ti.run_id,
                    TaskInstance.task_id == ti.task_id,
                    TaskInstance.map_index >= 0,
                    TaskInstance.state != TaskState.RESTARTING,
                )
            )
            placeholder = ti_queries.get(session, ti.dag_id, ti.run_id, ti.task_id, -1)
            if placeholder is not None:
                ti_queries.transition(session, [placeholder.id], TaskState.NONE)


def _runs(session: Session, dag_id: str, selection: Selection) -> list[DagRun]:
    query = select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.logical_date)
    if selection.run_ids is not None:
        query = query.where(DagRun.run_id.in_(selection.run_ids))
    if selection.start is not None:
        query = query.where(DagRun.logical_date >= selection.start)
    if selection.end is not None:
        query = query.where(DagRun.logical_date <= selection.end)
    return list(session.scalars(query))


def _spec(session: Session, version_id: int | None) -> DagSpec:
    data = session.scalar(select(SerializedDag.data).where(SerializedDag.id == version_id))
    if data is None:
        raise InvalidInput("this run has no stored DAG version to clear against")
    return deserialize_dag(data)


def _relatives(spec: DagSpec, task_ids: set[str], selection: Selection) -> set[str]:
    found: set[str] = set()
    for direction, wanted in (("downstream", selection.downstream), ("upstream", selection.upstream)):
        frontier = list(task_ids) if wanted else []
        while frontier:
            for neighbour in getattr(spec.tasks[frontier.pop()], direction):
                if neighbour not in found:
                    found.add(neighbour)
                    frontier.append(neighbour)
    return found


def _compile(regex: str | None) -> re.Pattern[str] | None:
    if regex is None:
        return None
    try:
        return re.compile(regex)
    except re.error as exc:
        raise InvalidInput(f"bad task regex {regex!r}: {exc}") from None
