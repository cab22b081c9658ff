"""`tasks test` and `dags test`: run here, print as it goes (log lines on stdout)."""

from __future__ import annotations

import io
import logging
import sys
from datetime import UTC, datetime
from typing import Any

import click

from flowctl.cli.runtime import Runtime

LOG_FORMAT = "[%(asctime)s] %(levelname)s %(name)s - %(message)s"


def _log_to_stdout() -> object:
    """Task output and log records on stdout, with secrets masked; returns the masker."""
    from flowctl.logs import MaskingWriter, SecretMasker

    masker = SecretMasker()
    stream = MaskingWriter(io.TextIOWrapper(io.FileIO(1, "w", closefd=False), line_buffering=True), masker)
    sys.stdout = stream
    logging.basicConfig(stream=stream, level=logging.INFO, format=LOG_FORMAT, force=True)
    return masker


def load_dag_here(runtime: Runtime, dag_id: str) -> Any:
    """Import a DAG's file in this process (after parsing changed files, so its row is current)."""
    from flowctl.parsing.processor import import_dag
    from flowctl.services.dags import require_dag

    runtime.refresh_dag(dag_id, current_code=True)
    with runtime.session() as session:
        fileloc = require_dag(session, dag_id).fileloc
    return import_dag(runtime.settings, fileloc, dag_id)


def test_one_task(runtime: Runtime, dag_id: str, task_id: str, logical_date: datetime | None) -> str:
    """Run one task in-process for a throwaway run, in test mode (as Airflow's `tasks test`: the context's
    `test_mode` is true, nothing is written to the DB), sending no e-mail and calling no success, failure
    or retry callback. Returns its state."""
    from flowctl.exceptions import NotFound
    from flowctl.executors.base import RunSnapshot, TaskCommand, TaskKey
    from flowctl.executors.task_runner import run_task
    from flowctl.schedule import timetable_for

    dag = load_dag_here(runtime, dag_id)
    if not dag.has_task(task_id):
        raise NotFound(f"DAG {dag_id!r} has no task {task_id!r}")
    when = logical_date or datetime.now(UTC)
    interval = timetable_for(dag.schedule, timezone=dag.timezone or "UTC").infer_manual_data_interval(when)
    run_id = f"test__{when.isoformat()}"
    snapshot = RunSnapshot(
        dag_id=dag_id,
        run_id=run_id,
        run_type="manual",
        logical_date=when,
        data_interval_start=interval.start,
        data_interval_end=interval.end,
        conf={},
        start_date=when,
        external_trigger=True,
    )
    command = TaskCommand(TaskKey(dag_id, run_id, task_id, -1, 1), fileloc=dag.fileloc, log_path="", run=snapshot)
    masker = _log_to_stdout()
    outcome = run_task(
        command,
        dag,
        settings=runtime.settings,
        session_factory=runtime.task_session_factory,
        masker=masker,
        test_mode=True,
    )
    click.echo(f"{task_id}: {outcome.state}" + (f" ({outcome.error})" if outcome.error else ""))
    return outcome.state


def test_dag(runtime: Runtime, dag_id: str, logical_date: datetime | None) -> str:
    """Run a whole DAG once here, recorded like any run; returns the run's state."""
    from flowctl.db.queries import jobs
    from flowctl.scheduler.inline import job_heartbeat, run_dag_run
    from flowctl.services.runs import trigger_dag

    dag = load_dag_here(runtime, dag_id)
    with runtime.session() as session:
        run = trigger_dag(session, dag_id, actor=runtime.actor(), logical_date=logical_date)
        run_id = run.run_id
        # Owns the run's task instances: if this command dies, a scheduler fails them instead of waiting.
        job_id = jobs.start_job(session, "inline", at=datetime.now(UTC)).id
        run.creating_job_id = job_id  # a live scheduler leaves this run to us
    click.echo(f"Testing DAG {dag_id!r}, run {run_id}")
    masker = _log_to_stdout()

    def report(command, outcome) -> None:
        suffix = f" ({outcome.error})" if outcome.error else ""
        click.echo(f"{command.key.task_id} (try {command.key.try_number}): {outcome.state}{suffix}")

    with job_heartbeat(runtime.session_factory, job_id):
        state = run_dag_run(
            runtime.settings,
            runtime.session_factory,
            runtime.engine,
            dag=dag,
            dag_id=dag_id,
            run_id=run_id,
            on_result=report,
            masker=masker,
            job_id=job_id,
        )
    with runtime.session() as session:
        jobs.end_job(session, job_id, at=datetime.now(UTC))
    click.echo(f"Run {run_id}: {state}")
    return state
