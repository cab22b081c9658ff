"""Recording executor events: the one place task outcomes become task instance state, XComs and try
history. Every change is a guarded transition, so a try that a user cleared or marked meanwhile is
recorded in its history but does not overwrite the user's decision."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pendulum
from sqlalchemy import select
from sqlalchemy.orm import Session

from flowctl.db.models import TaskInstance, TaskInstanceTry
from flowctl.db.queries import task_instances as ti_queries
from flowctl.db.queries import xcoms as xcom_queries
from flowctl.executors.base import EventKind, TaskEvent, TaskOutcome
from flowctl.planning import retry_at
from flowctl.scheduler.runs import DagVersions
from flowctl.serialization import TaskSpec
from flowctl.state import ACTIVE_TASK_STATES, TaskState

log = logging.getLogger(__name__)


def record_events(
    session: Session, events: list[TaskEvent], versions: DagVersions, *, now: datetime
) -> set[tuple[str, str]]:
    """Apply events in order; returns the (dag_id, run_id) of the runs where a try finished (only those
    need planning again: a start changes nothing downstream)."""
    touched: set[tuple[str, str]] = set()
    # A try that started and finished since the last look is recorded in one go (fast tasks mostly do).
    starts = {event.key: event for event in events if event.kind is EventKind.STARTED}
    ended = {event.key for event in events if event.kind is EventKind.FINISHED}
    recorded = [e for e in events if not (e.kind is EventKind.STARTED and e.key in ended)]
    tis = ti_queries.get_many(session, [(e.key.dag_id, e.key.run_id, e.key.task_id, e.key.map_index) for e in recorded])
    attempts = ti_queries.tries_by_number(session, [(ti.id, ti.try_number) for ti in tis.values()])
    running: list[tuple[int, int | None, str | None, datetime]] = []
    for event in recorded:
        key = event.key
        ti = tis.get((key.dag_id, key.run_id, key.task_id, key.map_index))
        if ti is None or ti.try_number != key.try_number:
            continue  # cleared and requeued meanwhile: this try no longer matters to the current state
        attempt = attempts.get((ti.id, ti.try_number))
        if event.kind is EventKind.STARTED:
            running.append(_started(ti, attempt, event, now=now))
        else:
            touched.add((ti.dag_id, ti.run_id))
            _finished(session, ti, attempt, event, versions, started=starts.get(key), now=now)
    ti_queries.mark_running(session, running)  # one statement for every start of this batch
    return touched


def _started(
    ti: TaskInstance, attempt: TaskInstanceTry | None, event: TaskEvent, *, now: datetime
) -> tuple[int, int | None, str | None, datetime]:
    """Records the start on the try row; returns what the task instance's row gets (see mark_running)."""
    now = event.at or now
    if attempt is not None:
        attempt.state, attempt.pid, attempt.hostname, attempt.start_date = (
            TaskState.RUNNING,
            event.pid,
            event.hostname,
            now,
        )
    return ti.id, event.pid, event.hostname, now


def _finished(
    session: Session,
    ti: TaskInstance,
    attempt: TaskInstanceTry | None,
    event: TaskEvent,
    versions: DagVersions,
    *,
    started: TaskEvent | None,
    now: datetime,
) -> None:
    """`started`: the try's start event, when it is recorded with its end."""
    outcome = event.outcome or TaskOutcome(state="failed", error=f"task process {event.reason}")
    now = event.at or now
    if started is not None:
        start = started.at or now
        if attempt is not None:
            attempt.pid, attempt.hostname, attempt.start_date = started.pid, started.hostname, start
    else:
        start = attempt.start_date if attempt is not None and attempt.start_date else now
    if ti.state == TaskState.RESTARTING:  # cleared while it ran: its process is gone now, run it again
        target, values = TaskState.NONE, {"next_try_at": None}
        moved = ti_queries.transition(session, [ti.id], target, values=values, expected=[TaskState.RESTARTING])
    else:
        target, values = _target_state(ti, outcome, versions, session, now=now)
        values.setdefault("first_poke_at", None)
        values.update(end_date=now, duration=(now - start).total_seconds(), updated_at=now)
        if started is not None:
            values.update(pid=started.pid, hostname=started.hostname, start_date=start)
        moved = ti_queries.transition(session, [ti.id], target, values=values, expected=ACTIVE_TASK_STATES)
    if attempt is not None:
        attempt.state = target if moved else attempt.state
        attempt.end_date = now
        attempt.start_date = attempt.start_date or start
        attempt.duration = (now - attempt.start_date).total_seconds()
        attempt.exit_code = event.exit_code
        attempt.error = outcome.error
        attempt.rendered_fields = outcome.rendered_fields
    if not moved or target is TaskState.NONE:
        return
    _create_requested_runs(session, ti, outcome, now=now)
    if outcome.state != "success":
        return
    # A first try that pushed nothing has nothing to replace (a later try's queueing cleared the old ones).
    if outcome.xcoms or ti.try_number > 1:
        xcom_queries.replace_xcoms(session, ti.id, outcome.xcoms, at=now)
    _apply_decisions(session, ti, outcome, versions, now=now)


def _target_state(
    ti: TaskInstance, outcome: TaskOutcome, versions: DagVersions, session: Session, *, now: datetime
) -> tuple[TaskState, dict]:
    if outcome.state == "success":
        return TaskState.SUCCESS, {}
    if outcome.state == "skipped":
        return TaskState.SKIPPED, {}
    if outcome.state == "up_for_reschedule" and outcome.reschedule_at:
        # A reschedule is not a new try: the next poke reuses this try number (and its log). try_number
        # stays that of the latest try; first_poke_at being set is what tells queueing to reuse it.
        return TaskState.UP_FOR_RESCHEDULE, {
            "next_try_at": pendulum.parse(outcome.reschedule_at),
            "first_poke_at": pendulum.parse(outcome.first_poke_at) if outcome.first_poke_at else now,
        }
    if outcome.retryable and ti.try_number <= ti.max_tries:
        task = _task_spec(session, ti, versions)
        when = retry_at(task, try_number=ti.try_number, failed_at=now) if task else now + timedelta(minutes=5)
        return TaskState.UP_FOR_RETRY, {"next_try_at": when}
    return TaskState.FAILED, {}


def _task_spec(session: Session, ti: TaskInstance, versions: DagVersions) -> TaskSpec | None:
    from flowctl.db.queries.runs import get_run

    run = get_run(session, ti.dag_id, ti.run_id)
    if run is None or run.dag_version_id is None:
        return None
    return versions.get(session, run.dag_version_id).tasks.get(ti.task_id)


def _apply_decisions(
    session: Session, ti: TaskInstance, outcome: TaskOutcome, versions: DagVersions, *, now: datetime
) -> None:
    """A branch skips the direct downstream tasks it did not follow; a short-circuit skips everything
    downstream (or only the direct ones, leaving the rest to trigger rules)."""
    if outcome.follow_branches is None and not outcome.skip_downstream:
        return
    task = _task_spec(session, ti, versions)
    if task is None:
        return
    from flowctl.db.queries.runs import get_run

    spec = versions.get(session, get_run(session, ti.dag_id, ti.run_id).dag_version_id)  # type: ignore[union-attr, arg-type]
    if outcome.follow_branches is not None:
        skip = set(task.downstream) - set(outcome.follow_branches)
    elif outcome.respect_trigger_rules:
        skip = set(task.downstream)
    else:
        skip, frontier = set(), list(task.downstream)
        while frontier:
            task_id = frontier.pop()
            if task_id not in skip:
                skip.add(task_id)
                frontier += spec.tasks[task_id].downstream
    if not skip:
        return
    ids = list(
        session.scalars(
            select(TaskInstance.id).where(
                TaskInstance.dag_id == ti.dag_id,
                TaskInstance.run_id == ti.run_id,
                TaskInstance.task_id.in_(skip),
                TaskInstance.state.in_([TaskState.NONE, TaskState.SCHEDULED]),
            )
        )
    )
    ti_queries.transition(session, ids, TaskState.SKIPPED, values={"end_date": now, "updated_at": now})


def _create_requested_runs(session: Session, ti: TaskInstance, outcome: TaskOutcome, *, now: datetime) -> None:
    """Runs a task asked for (TriggerDagRunOperator); a run that exists already is left as it is."""
    from flowctl.exceptions import FlowctlError
    from flowctl.services.actor import Actor
    from flowctl.services.runs import trigger_dag

    for request in outcome.dag_run_requests:
        try:
            trigger_dag(
                session,
                request["dag_id"],
                actor=Actor(f"task:{ti.dag_id}.{ti.task_id}", now),
                run_id=request["run_id"],
                logical_date=pendulum.parse(request["logical_date"]),
                conf=request["conf"],
            )
        except FlowctlError as exc:
            log.warning("task %s.%s could not trigger %s: %s", ti.dag_id, ti.task_id, request["dag_id"], exc)
