"""`flowctl scheduler` and `flowctl jobs check`."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from flowctl.cli.runtime import Runtime, pass_runtime


@click.command("scheduler")
@click.option("-D", "--daemon", "daemon", is_flag=True, help="Run in the background.")
@click.option("-n", "--num-runs", type=click.IntRange(min=0), default=0, help="Stop after N loop iterations.")
@click.option("--pid", "pid_path", type=click.Path(dir_okay=False), help="Pid file [$FLOWCTL_HOME/scheduler.pid].")
@click.option(
    "--shutdown-grace",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="Seconds running tasks get to finish on SIGTERM/SIGINT before they are killed.",
)
@pass_runtime
def scheduler(runtime: Runtime, daemon: bool, num_runs: int, pid_path: str | None, shutdown_grace: float) -> None:
    """Schedule and run DAGs until stopped (SIGTERM/SIGINT stop it cleanly)."""
    from flowctl.cli.daemon import daemonize, pid_file_held, refuse_if_running
    from flowctl.db.migrate import require_current_schema
    from flowctl.scheduler.loop import Scheduler

    settings = runtime.settings
    require_current_schema(runtime.engine)
    runtime.close()  # the scheduler opens its own connections, after forking its workers
    pid_file = Path(pid_path) if pid_path else settings.home / "scheduler.pid"
    if daemon:
        refuse_if_running(pid_file, what="scheduler")  # here, while the error can still reach the caller
        daemonize(settings.home / "scheduler.log")
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(levelname)s %(name)s - %(message)s")
    with pid_file_held(pid_file, what="scheduler"):
        Scheduler(settings, num_runs=num_runs, shutdown_grace=shutdown_grace).run()


@click.group("jobs")
def jobs_group() -> None:
    """Check scheduler jobs."""


@jobs_group.command("check")
@click.option("--job-type", default="scheduler", show_default=True)
@click.option("--allowed-age", type=float, default=30.0, show_default=True, help="Seconds a heartbeat stays fresh.")
@pass_runtime
def check(runtime: Runtime, job_type: str, allowed_age: float) -> None:
    """Exit 0 if a job of this type has a fresh heartbeat, else 1."""
    from datetime import UTC, datetime

    from flowctl.db.queries.jobs import latest_heartbeat
    from flowctl.exceptions import FlowctlError

    with runtime.session() as session:
        beat = latest_heartbeat(session, job_type)
    age = (datetime.now(UTC) - beat).total_seconds() if beat else None
    if age is None or age > allowed_age:
        seen = "no heartbeat" if beat is None else f"last heartbeat {age:.0f}s ago"
        raise FlowctlError(f"no alive {job_type} job ({seen})")
    click.echo(f"Found one alive {job_type} job (heartbeat {age:.1f}s ago).")
