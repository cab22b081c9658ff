"""Advancing running runs: read each run's task states in one query, ask `planning.plan_run` what
follows, and write those transitions (and the run's end) in one batch."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from flowctl.db.models import DagRun, TaskInstance
from flowctl.db.queries import task_instances as ti_queries
from flowctl.db.queries import xcoms as xcom_queries
from flowctl.planning import RunPlan, TIKey, TIView, plan_run
from flowctl.scheduler.runs import DagVersions
from flowctl.serialization import DagSpec
from flowctl.state import FINISHED_TASK_STATES, RunState, TaskState
from flowctl.xcom_codec import decode_xcom

log = logging.getLogger(__name__)


def running_runs(session: Session, keys: Iterable[tuple[str, str]] | None = None) -> list[DagRun]:
    """Every running run, or only those among `keys`."""
    query = select(DagRun).where(DagRun.state == RunState.RUNNING)
    if keys is not None:
        wanted = set(keys)
        if not wanted:
            return []
        query = query.where(DagRun.dag_id.in_({d for d, _ in wanted}), DagRun.run_id.in_({r for _, r in wanted}))
        return [run for run in session.scalars(query) if (run.dag_id, run.run_id) in wanted]
    return list(session.scalars(query))


def advance_runs(
    session: Session, runs: list[DagRun], versions: DagVersions, *, now: datetime, skip_jobs: set[int] | None = None
) -> datetime | None:
    """Plan and apply each run (except those owned by `skip_jobs`); returns the earliest future time a run
    needs another look (retries)."""
    next_check: datetime | None = None
    for run in runs:
        if run.dag_version_id is None or (skip_jobs and run.creating_job_id in skip_jobs):
            continue
        spec = versions.get(session, run.dag_version_id)
        if _timed_out(spec, run, now):
            _fail_timed_out(session, run, spec, now=now)
            continue
        rows = _Rows(ti_queries.states_for_run(session, run.dag_id, run.run_id))
        plan = plan_run(spec, rows.views, now=now, past=ti_queries.past_for_planning(session, spec, run))
        _apply(session, run, spec, rows, plan, now=now)
        if plan.next_check_at and (next_check is None or plan.next_check_at < next_check):
            next_check = plan.next_check_at
    return next_check


_STATES = {state.value: state for state in TaskState}  # a dict lookup is cheaper than TaskState(...)


def _timed_out(spec: DagSpec, run: DagRun, now: datetime) -> bool:
    return bool(spec.dagrun_timeout and run.start_date and (now - run.start_date).total_seconds() > spec.dagrun_timeout)


def _fail_timed_out(session: Session, run: DagRun, spec: DagSpec, *, now: datetime) -> None:
    """dagrun_timeout passed: running tries are failed (the scheduler then stops their processes), what
    has not run is skipped, and the run fails."""
    rows = ti_queries.states_for_run(session, run.dag_id, run.run_id)
    active = [row.id for row in rows if row.state in (TaskState.QUEUED, TaskState.RUNNING)]
    waiting = [row.id for row in rows if row.state not in FINISHED_TASK_STATES and row.id not in active]
    stamp = {"end_date": now, "updated_at": now}
    ti_queries.transition(session, active, TaskState.FAILED, values=stamp)
    ti_queries.transition(session, waiting, TaskState.SKIPPED, values=stamp)
    run.state, run.end_date, run.updated_at = RunState.FAILED, now, now
    log.warning("run %s of %s failed: dagrun_timeout of %ss exceeded", run.run_id, run.dag_id, spec.dagrun_timeout)


class _Rows:
    """A run's task instance rows, keyed for planning (views) and for writing its plan (ids, states)."""

    def __init__(self, rows: list[Any]) -> None:
        self.views: dict[TIKey, TIView] = {}
        self.ids: dict[TIKey, int] = {}
        self.states: dict[TIKey, str] = {}
        for ti_id, task_id, map_index, state, try_number, next_try_at in rows:
            key = TIKey(task_id, map_index)
            self.views[key] = TIView(key, _STATES[state], try_number, next_try_at)
            self.ids[key] = ti_id
            self.states[key] = state


def _apply(
    session: Session,
    run: DagRun,
    spec: DagSpec,
    rows: _Rows,
    plan: RunPlan,
    *,
    now: datetime,
) -> None:
    ids, states = rows.ids, rows.states
    stamp = {"updated_at": now}
    for keys, target, values in (
        (plan.to_schedule, TaskState.SCHEDULED, stamp),
        (plan.to_upstream_failed, TaskState.UPSTREAM_FAILED, {**stamp, "end_date": now}),
        (plan.to_skip, TaskState.SKIPPED, {**stamp, "end_date": now}),
    ):
        # Guarded by the states planning saw: a user's clear or mark in between wins.
        expected = {states[k] for k in keys}
        ti_queries.transition(session, [ids[k] for k in keys], target, values=values, expected=expected)
    for task_id in plan.to_expand:
        _expand(session, run, spec, task_id, ids[TIKey(task_id, -1)], now=now)
    if plan.run_state is not None:
        run.state = plan.run_state
        run.end_date = now
        run.updated_at = now


def _expand(
    session: Session,
    run: DagRun,
    spec: DagSpec,
    task_id: str,
    placeholder_id: int,
    *,
    now: datetime,
) -> None:
    """Replace a mapped task's placeholder with one task instance per element of its expand input."""
    task = spec.tasks[task_id]
    lengths = [_input_length(session, run, value) for value in (task.expand_input or {}).values()]
    count = min(lengths) if lengths else 0
    placeholder = session.get(TaskInstance, placeholder_id)
    assert placeholder is not None
    if count == 0:
        ti_queries.transition(session, [placeholder_id], TaskState.SKIPPED, values={"end_date": now, "updated_at": now})
        return
    ti_queries.transition(session, [placeholder_id], TaskState.REMOVED, values={"updated_at": now})
    session.add_all(
        TaskInstance(
            dag_id=run.dag_id,
            run_id=run.run_id,
            task_id=task_id,
            map_index=index,
            state=TaskState.SCHEDULED,
            try_number=0,
            max_tries=placeholder.max_tries,
            operator=placeholder.operator,
            pool=placeholder.pool,
            pool_slots=placeholder.pool_slots,
            queue=placeholder.queue,
            priority_weight=placeholder.priority_weight,
            updated_at=now,
        )
        for index in range(count)
    )


def _input_length(session: Session, run: DagRun, value: object) -> int:
    if isinstance(value, dict) and set(value) == {"__xcomarg__"}:
        ref = value["__xcomarg__"]
        rows = xcom_queries.pull(
            session,
            dag_id=run.dag_id,
            run_id=run.run_id,
            task_ids=[ref["task_id"]],
            key=ref["key"],
            map_indexes=None,
            include_prior_dates=False,
            logical_date=run.logical_date,
        )
        if not rows:
            return 0
        if len(rows) == 1 and rows[0][1] == -1:
            data = decode_xcom(rows[0][2])
            return len(data) if isinstance(data, (list, tuple, dict)) else 0
        return len(rows)
    return len(value) if isinstance(value, (list, dict)) else 0
