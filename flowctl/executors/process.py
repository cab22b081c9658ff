"""The first thing a task process does: send its output to the try's log, then run the try and write
its outcome for the supervisor."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from flowctl.config import Settings
from flowctl.executors.base import TaskCommand, TaskOutcome
from flowctl.executors.spool import SpoolWriter, spool_path

LOG_FORMAT = "[%(asctime)s] %(levelname)s %(name)s - %(message)s"


def redirect_output(log_path: str) -> Any:
    """Capture this process's output (see capture_output) and point it at the log; returns the masker."""
    masker = capture_output()
    point_output_at(log_path)
    return masker


def capture_output() -> Any:
    """Wrap Python's streams on fds 1 and 2 with secret masking and send logging there; returns the
    masker. Done before a try's log is known (a spare task process does it while it waits)."""
    from flowctl.logs import MaskingWriter, SecretMasker

    masker = SecretMasker()
    sys.stdout = MaskingWriter(io.TextIOWrapper(io.FileIO(1, "w", closefd=False), line_buffering=True), masker)
    sys.stderr = MaskingWriter(io.TextIOWrapper(io.FileIO(2, "w", closefd=False), line_buffering=True), masker)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format=LOG_FORMAT, force=True)
    return masker


def point_output_at(log_path: str) -> None:
    """Point fds 1 and 2 at the log, so even a crash of C code leaves its output there."""
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def warm_engine(settings: Settings) -> Engine:
    """An engine whose SQL is already compiled for the queries a task process makes, with no open
    connection: forked task processes inherit it and open only their own connection."""
    from flowctl.db.engine import make_engine, make_session_factory
    from flowctl.executors.task_runner import warm_queries

    engine = make_engine(settings.core.sql_alchemy_conn)
    with make_session_factory(engine)() as session:
        warm_queries(session)
    engine.dispose()
    return engine


def run_in_child(
    command: TaskCommand,
    dag: Any,
    *,
    settings: Settings,
    engine: Engine,
    outcome_fd: int,
    masker: Any,
    group: bytes,
) -> int:
    """Body of a forked task process whose output is captured (capture_output) and whose `engine` has
    a pool of its own: log to the try's file, run the try, keep its outcome in the try's spool and write
    it to `outcome_fd`, return an exit code. `group`: the spool's record of this process's group."""
    point_output_at(command.log_path)
    path = spool_path(command.log_path)
    payloads: list[bytes] = []
    try:
        writer = SpoolWriter(path, group, queued_at=command.queued_at, at=_now())
    except OSError as exc:  # without it a crash could lose this try's outcome, or leave its processes behind
        logging.getLogger("flowctl.task").error("cannot write %s: %s", path, exc)
        outcome = TaskOutcome(state="failed", error=f"cannot write the try's spool file {path}: {exc}")
        writer = None
    else:

        def keep(outcome: TaskOutcome) -> None:
            payloads.append(outcome.to_json())
            try:
                writer.outcome(payloads[-1], at=_now())
            except OSError as exc:  # reported all the same: only a crash of the supervisors would lose it
                logging.getLogger("flowctl.task").error("cannot write the outcome to %s: %s", path, exc)

        outcome = execute_command(command, dag, settings=settings, masker=masker, engine=engine, on_outcome=keep)
    view = memoryview(payloads[-1] if payloads else outcome.to_json())
    while view:
        written = os.write(outcome_fd, view)
        view = view[written:]
    os.close(outcome_fd)
    sys.stdout.flush()
    sys.stderr.flush()
    if writer is not None:
        with contextlib.suppress(OSError):
            writer.close()  # on disk before this process exits
    return outcome.exit_code  # 1 for a failed try, as in Airflow


def _now() -> datetime:
    return datetime.now(UTC)


def execute_command(
    command: TaskCommand,
    dag: Any,
    *,
    settings: Settings,
    masker: Any,
    engine: Engine | None = None,
    on_outcome: Callable[[TaskOutcome], None] | None = None,
) -> TaskOutcome:
    """Import the DAG if the worker did not have it, then run the try (no exception escapes);
    `on_outcome` as in run_task, also for a try that fails before it starts."""
    from flowctl.db.engine import make_engine, make_session_factory
    from flowctl.executors.dag_loading import import_time_limit
    from flowctl.executors.task_runner import run_task
    from flowctl.parsing.processor import import_dag

    log = logging.getLogger("flowctl.task")
    if dag is None:
        try:
            with import_time_limit(settings.core.dagbag_import_timeout):
                dag = import_dag(settings, command.fileloc, command.key.dag_id)
        except BaseException as exc:  # whatever the DAG file raises, the try fails with it in its log
            log.exception("cannot load DAG %s from %s", command.key.dag_id, command.fileloc)
            outcome = TaskOutcome(state="failed", error=f"cannot load the DAG: {type(exc).__name__}: {exc}")
            if on_outcome:
                on_outcome(outcome)
            return outcome
    own_engine = engine is None
    engine = engine or make_engine(settings.core.sql_alchemy_conn)
    try:
        factory = make_session_factory(engine)
        return run_task(command, dag, settings=settings, session_factory=factory, masker=masker, on_outcome=on_outcome)
    finally:
        if own_engine:
            engine.dispose()


def run_dag_callback(request: Any, dag: Any, *, settings: Settings) -> int:
    """In a forked child: call the DAG's on_success_callback / on_failure_callback with a run context."""
    from flowctl.notify import run_callbacks
    from flowctl.parsing.processor import import_dag

    redirect_output(request.log_path)
    log = logging.getLogger("flowctl.dag_callback")
    try:
        if dag is None:
            dag = import_dag(settings, request.fileloc, request.run.dag_id)
    except BaseException:
        log.exception("cannot load DAG %s from %s for its callback", request.run.dag_id, request.fileloc)
        return 1
    callback = dag.on_success_callback if request.state == "success" else dag.on_failure_callback
    context = {
        "dag": dag,
        "dag_run": request.run,
        "run_id": request.run.run_id,
        "logical_date": request.run.logical_date,
        "reason": request.state,
    }
    log.info("Calling the %s callback of %s for run %s", request.state, request.run.dag_id, request.run.run_id)
    run_callbacks(callback, context, logger=log)
    sys.stdout.flush()
    return 0
