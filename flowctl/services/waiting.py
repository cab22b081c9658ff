"""Why a task instance is not running yet ("Why isn't it running?"): planning's explanation for its run,
then the limits dispatch applies and the scheduler's pulse. The web UI's task page and `flowctl tasks
failed-deps` both answer with it, word for word."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from flowctl.db.models import Dag, DagRun, TaskInstance
from flowctl.db.queries import task_instances as ti_queries
from flowctl.db.queries.jobs import latest_heartbeat
from flowctl.db.queries.pools import get_pool
from flowctl.planning import TIKey, TIView, plan_run
from flowctl.serialization import DagSpec
from flowctl.state import FINISHED_TASK_STATES, RunState, TaskState

SCHEDULER_HEALTHY_SECONDS = 30.0
_STATES = {state.value: state for state in TaskState}
_WAITING_FOR_DISPATCH = frozenset({TaskState.SCHEDULED, TaskState.NONE, TaskState.UP_FOR_RETRY})


def waiting_reasons(
    session: Session, run: DagRun, dag: Dag, spec: DagSpec | None, ti: TaskInstance, *, now: datetime
) -> list[str]:
    """Why an unfinished task instance is not running: planning's explanation for its run, then the limits
    dispatch applies (pool slots, max_active_tasks, max_active_tis_per_dag) and the scheduler's pulse."""
    state = _STATES.get(ti.state)
    if state is None or state is TaskState.RUNNING or state in FINISHED_TASK_STATES:
        return []
    reasons: list[str] = []
    if dag.is_paused:
        reasons.append("the DAG is paused: unpause it to let the scheduler run its tasks")
    if run.state == RunState.QUEUED:
        reasons.append(f"the run is queued (at most {dag.max_active_runs} active runs of this DAG at a time)")
    if spec is None:
        return [*reasons, "the DAG version this run used cannot be read, so its dependencies are unknown"]
    reasons += _planning_reasons(session, run, spec, ti, now=now)
    if state in _WAITING_FOR_DISPATCH:
        reasons += _limit_reasons(session, dag, spec, ti)
    beat = latest_heartbeat(session, "scheduler")
    if beat is None or (now - beat).total_seconds() > SCHEDULER_HEALTHY_SECONDS:
        reasons.append("no scheduler is heartbeating: start one with `flowctl scheduler`")
    return reasons


def _planning_reasons(session: Session, run: DagRun, spec: DagSpec, ti: TaskInstance, *, now: datetime) -> list[str]:
    views = {}
    for row in ti_queries.states_for_run(session, run.dag_id, run.run_id):
        key = TIKey(row.task_id, row.map_index)
        state = _STATES.get(row.state)
        if state is None:
            return [f"task instance {key} has an unknown state {row.state!r}"]
        views[key] = TIView(key, state, row.try_number, row.next_try_at)
    plan = plan_run(spec, views, now=now, past=ti_queries.past_for_planning(session, spec, run), explain=True)
    key = TIKey(ti.task_id, ti.map_index)
    if key in plan.to_schedule:
        return ["its dependencies are met: the scheduler schedules it at its next look"]
    if key in plan.to_expand or (ti.map_index < 0 and ti.task_id in plan.to_expand):
        return ["its upstream tasks are done: the scheduler expands it at its next look"]
    return list(plan.waiting.get(key, []))


def _limit_reasons(session: Session, dag: Dag, spec: DagSpec, ti: TaskInstance) -> list[str]:
    _total, per_dag, per_task, per_pool = ti_queries.active_counts(session)
    reasons = []
    pool = get_pool(session, ti.pool)
    if pool is None:
        reasons.append(f"pool {ti.pool!r} does not exist: create it or change the task's pool")
    elif pool.slots - per_pool.get(ti.pool, 0) < ti.pool_slots:
        open_slots = max(pool.slots - per_pool.get(ti.pool, 0), 0)
        reasons.append(f"pool {ti.pool!r} has {open_slots} of {pool.slots} slots open; this task needs {ti.pool_slots}")
    limit = dag.max_active_tasks or spec.max_active_tasks
    if per_dag.get(dag.dag_id, 0) >= limit:
        reasons.append(f"max_active_tasks reached: {per_dag[dag.dag_id]} of {limit} task instances of this DAG active")
    task = spec.tasks.get(ti.task_id)
    if task is not None and task.max_active_tis_per_dag:
        active = per_task.get((dag.dag_id, ti.task_id), 0)
        if active >= task.max_active_tis_per_dag:
            reasons.append(f"max_active_tis_per_dag reached: {active} of {task.max_active_tis_per_dag} active")
    return reasons
