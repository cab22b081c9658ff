"""`flowctl tasks clear|run|test|logs` (registered on the `tasks` group)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from flowctl.cli.runtime import Runtime, pass_runtime


def _date(runtime: Runtime, text: str | None) -> datetime | None:
    from flowctl.parsing.render import parse_logical_date

    return parse_logical_date(text, runtime.settings.core.default_timezone) if text else None


@click.command("clear")
@click.argument("dag_id")
@click.option("-t", "--task-regex", help="Only tasks whose id matches this regular expression.")
@click.option("-s", "--start-date", "start", help="Only runs with a logical date at or after this.")
@click.option("-e", "--end-date", "end", help="Only runs with a logical date at or before this.")
@click.option("--run-id", "run_ids", multiple=True, help="Only this run (repeatable).")
@click.option("-d", "--downstream", is_flag=True, help="Also clear downstream tasks.")
@click.option("-u", "--upstream", is_flag=True, help="Also clear upstream tasks.")
@click.option("-f", "--only-failed", is_flag=True, help="Only failed and upstream_failed task instances.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_runtime
def clear(
    runtime: Runtime,
    dag_id: str,
    task_regex: str | None,
    start: str | None,
    end: str | None,
    run_ids: tuple[str, ...],
    downstream: bool,
    upstream: bool,
    only_failed: bool,
    yes: bool,
) -> None:
    """Reset task instances so the scheduler runs them again (try history is kept)."""
    from flowctl.services import clear as clearing
    from flowctl.services.wakeup import poke

    selection = clearing.Selection(
        run_ids=list(run_ids) or None,
        start=_date(runtime, start),
        end=_date(runtime, end),
        task_regex=task_regex,
        downstream=downstream,
        upstream=upstream,
        only_failed=only_failed,
    )
    with runtime.session() as session:
        found = clearing.select_task_instances(session, dag_id, selection)
    if not found:
        click.echo("No task instances to clear.")
        return
    for ti in found:
        click.echo(f"  {ti.run_id}  {ti.task_id}{'' if ti.map_index < 0 else f'[{ti.map_index}]'}  ({ti.state})")
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("add -y to clear without a confirmation prompt")
        click.confirm(f"Clear these {len(found)} task instances?", abort=True)
    with runtime.session() as session:
        cleared = clearing.clear(session, dag_id, selection, actor=runtime.actor())
    poke(runtime.settings.home)
    click.echo(f"Cleared {len(cleared)} task instances.")


@click.command("run")
@click.argument("dag_id")
@click.argument("task_id")
@click.argument("run_id")
@click.option("--map-index", type=int, default=-1, show_default=True)
@pass_runtime
def run(runtime: Runtime, dag_id: str, task_id: str, run_id: str, map_index: int) -> None:
    """Run one task instance as the executor would, in its own process, and record its state."""
    from flowctl.db.engine import session_scope
    from flowctl.db.queries import jobs
    from flowctl.db.queries.task_instances import get
    from flowctl.exceptions import FlowctlError, NotFound
    from flowctl.executors.spool import remove_spool, spool_path
    from flowctl.scheduler.events import record_events
    from flowctl.scheduler.inline import job_heartbeat, queue_one, run_in_worker
    from flowctl.scheduler.runs import DagVersions
    from flowctl.services.runs import require_run

    versions = DagVersions()
    with runtime.session() as session:
        require_run(session, dag_id, run_id)
        ti = get(session, dag_id, run_id, task_id, map_index)
        if ti is None:
            raise NotFound(f"run {run_id!r} of DAG {dag_id!r} has no task instance {task_id!r}")
        if ti.state not in ("none", "scheduled", "up_for_retry", "up_for_reschedule"):
            raise FlowctlError(
                f"task instance {task_id!r} is {ti.state}: clear it first (flowctl tasks clear {dag_id} -t ...)"
            )
        # The try belongs to this command's job: if the command dies, a scheduler fails the try.
        job_id = jobs.start_job(session, "inline", at=datetime.now(UTC)).id
        folder = runtime.settings.logging.base_log_folder
        command = queue_one(session, ti, versions, folder, now=datetime.now(UTC), job_id=job_id)
        if command is None:
            raise FlowctlError(f"task instance {task_id!r} changed state meanwhile; try again")
    runtime.engine.dispose()  # a worker forks next: it must not inherit open connections
    with job_heartbeat(runtime.session_factory, job_id):
        events = run_in_worker(runtime.settings, command)
    with session_scope(runtime.session_factory) as session:
        record_events(session, events, versions, now=datetime.now(UTC))
        jobs.end_job(session, job_id, at=datetime.now(UTC))
    remove_spool(spool_path(command.log_path))  # its outcome is recorded
    with runtime.session() as session:
        state = get(session, dag_id, run_id, task_id, map_index).state  # type: ignore[union-attr]
    click.echo(f"{task_id} ({run_id}, try {command.key.try_number}): {state}; log: {command.log_path}")
    if state not in ("success", "skipped"):
        sys.exit(1)


@click.command("test")
@click.argument("dag_id")
@click.argument("task_id")
@click.argument("logical_date", required=False)
@pass_runtime
def test(runtime: Runtime, dag_id: str, task_id: str, logical_date: str | None) -> None:
    """Run one task in this process with its log on stdout; records nothing. Exit 1 on failure."""
    from flowctl.cli.inline_runs import test_one_task

    state = test_one_task(runtime, dag_id, task_id, _date(runtime, logical_date))
    if state not in ("success", "skipped"):
        sys.exit(1)


@click.command("logs")
@click.argument("dag_id")
@click.argument("task_id")
@click.argument("run_id")
@click.option("--try", "try_number", type=click.IntRange(min=1), help="Which try [the latest].")
@click.option("--map-index", type=int, default=-1, show_default=True)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until the try ends.")
@pass_runtime
def logs(
    runtime: Runtime, dag_id: str, task_id: str, run_id: str, try_number: int | None, map_index: int, follow: bool
) -> None:
    """Print a try's log."""
    from flowctl.db.queries.task_instances import get
    from flowctl.exceptions import NotFound
    from flowctl.logs import follow as follow_log
    from flowctl.logs import read_log, task_log_path
    from flowctl.services.runs import require_run

    with runtime.session() as session:
        require_run(session, dag_id, run_id)
        ti = get(session, dag_id, run_id, task_id, map_index)
        if ti is None:
            raise NotFound(f"run {run_id!r} of DAG {dag_id!r} has no task instance {task_id!r}")
        number = try_number or ti.try_number
    if number < 1:
        raise NotFound(f"task instance {task_id!r} has not run yet")
    path = task_log_path(
        runtime.settings.logging.base_log_folder,
        dag_id=dag_id,
        run_id=run_id,
        task_id=task_id,
        map_index=map_index,
        try_number=number,
    )
    if not follow:
        text, _ = read_log(path)
        click.echo(text, nl=False)
        return

    def finished() -> bool:
        with runtime.session() as session:
            current = get(session, dag_id, run_id, task_id, map_index)
        return current is None or current.try_number != number or current.state not in ("queued", "running")

    for chunk in follow_log(path, stop=finished):
        click.echo(chunk, nl=False)
