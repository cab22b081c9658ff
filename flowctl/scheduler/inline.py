"""Running a DAG run or one try in this process, recorded through the scheduler's own event path:
`flowctl dags test`, `flowctl tasks run` and `flowctl.testing` use it (ARCHITECTURE decision 5)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from flowctl.config import Settings
from flowctl.db.engine import session_scope
from flowctl.db.models import DagRun, TaskInstance
from flowctl.executors.base import EventKind, TaskCommand, TaskEvent, TaskOutcome
from flowctl.logs import tee_output
from flowctl.scheduler.advance import advance_runs
from flowctl.scheduler.dispatch import queue_task_instance
from flowctl.scheduler.events import record_events
from flowctl.scheduler.runs import DagVersions, start_run
from flowctl.state import FINISHED_RUN_STATES, RunState, TaskState

MAX_WAIT_SECONDS = 60.0  # longest retry delay `dags test` waits out


def run_dag_run(
    settings: Settings,
    factory: sessionmaker[Session],
    engine: Engine,
    *,
    dag: Any,
    dag_id: str,
    run_id: str,
    on_result: Callable[[TaskCommand, TaskOutcome], None],
    masker: Any = None,
    job_id: int | None = None,
) -> str:
    """Run every task of one run here, one at a time, until the run ends; returns its final state."""
    from flowctl.executors.process import execute_command

    versions = DagVersions()
    while True:
        now = datetime.now(UTC)
        with session_scope(factory) as session:
            run = _run(session, dag_id, run_id)
            if run.state == RunState.QUEUED:
                start_run(session, run, versions, now=now)
                session.flush()
            next_check = advance_runs(session, [run], versions, now=now)
            if run.state in FINISHED_RUN_STATES:
                return run.state
            commands = _queue_scheduled(session, run, versions, settings.logging.base_log_folder, job_id, now=now)
        if not commands:
            if next_check is None:
                return RunState.RUNNING  # nothing can run any more (e.g. depends_on_past on a failed past run)
            time.sleep(min(max((next_check - datetime.now(UTC)).total_seconds(), 0), MAX_WAIT_SECONDS))
            continue
        for command in commands:
            started_at = datetime.now(UTC)
            with tee_output(Path(command.log_path)):
                outcome = execute_command(command, dag, settings=settings, masker=masker, engine=engine)
            record_outcome(factory, versions, command, outcome, started_at=started_at)
            on_result(command, outcome)


def run_in_worker(settings: Settings, command: TaskCommand) -> list[TaskEvent]:
    """Run one try in a forked task process, as the local executor does; returns its events."""
    from flowctl.executors.local import LocalExecutor

    executor = LocalExecutor(settings, workers=1, slots=1)
    executor.start()
    executor.submit(command)
    events: list[TaskEvent] = []
    while not any(event.kind is EventKind.FINISHED for event in events):
        events += executor.events()
        time.sleep(0.01)
    return events + executor.shutdown(grace=timedelta(seconds=1))


def record_outcome(
    factory: sessionmaker[Session],
    versions: DagVersions,
    command: TaskCommand,
    outcome: TaskOutcome | None,
    *,
    started_at: datetime,
    reason: str | None = None,
) -> None:
    now = datetime.now(UTC)
    events = [
        TaskEvent(key=command.key, kind=EventKind.STARTED, at=started_at),
        TaskEvent(key=command.key, kind=EventKind.FINISHED, outcome=outcome, reason=reason, at=now),
    ]
    with session_scope(factory) as session:
        record_events(session, events, versions, now=now)


def queue_one(
    session: Session,
    ti: TaskInstance,
    versions: DagVersions,
    log_folder: Path,
    *,
    now: datetime,
    job_id: int | None = None,
) -> TaskCommand | None:
    """Queue the next try of `ti` now, whatever its dependencies say (as `tasks run` does)."""
    from flowctl.db.queries import task_instances as ti_queries

    if ti.state != TaskState.SCHEDULED:
        moved = ti_queries.transition(session, [ti.id], TaskState.SCHEDULED, expected=[ti.state])
        if not moved:
            return None
        session.refresh(ti)
    run = _run(session, ti.dag_id, ti.run_id)
    spec = versions.get(session, run.dag_version_id)  # type: ignore[arg-type]
    task = spec.tasks[ti.task_id]
    return queue_task_instance(session, ti, task, spec, run, log_folder=log_folder, job_id=job_id, now=now)


def _queue_scheduled(
    session: Session, run: DagRun, versions: DagVersions, log_folder: Path, job_id: int | None, *, now: datetime
) -> list[TaskCommand]:
    ready = session.scalars(
        select(TaskInstance).where(
            TaskInstance.dag_id == run.dag_id,
            TaskInstance.run_id == run.run_id,
            TaskInstance.state == TaskState.SCHEDULED,
        )
    )
    commands = [queue_one(session, ti, versions, log_folder, now=now, job_id=job_id) for ti in ready]
    return [command for command in commands if command is not None]


def _run(session: Session, dag_id: str, run_id: str) -> DagRun:
    run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
    assert run is not None, f"run {run_id} of {dag_id} vanished"
    return run


@contextlib.contextmanager
def job_heartbeat(factory: sessionmaker[Session], job_id: int) -> Iterator[None]:
    """Keep a command's job alive while it runs tasks here, so schedulers leave its runs alone."""
    from flowctl.db.queries import jobs
    from flowctl.db.queries.jobs import HEARTBEAT_SECONDS

    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            with contextlib.suppress(Exception), session_scope(factory) as session:
                jobs.heartbeat(session, job_id, at=datetime.now(UTC))

    thread = threading.Thread(target=beat, name="flowctl-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
