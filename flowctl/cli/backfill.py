"""`flowctl dags backfill`: create the runs, then wait for a live scheduler or run them here."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta

import click

from flowctl.cli.runtime import Runtime

POLL_SECONDS = 0.5
SCHEDULER_FRESH = timedelta(seconds=30)


def run_backfill(runtime: Runtime, dag_id: str, *, start: str, end: str, reset: bool, yes: bool) -> None:
    from flowctl.db.queries import jobs
    from flowctl.parsing.render import parse_logical_date
    from flowctl.services.backfill import BACKFILL_JOB, backfill_intervals, create_backfill_runs

    tz = runtime.settings.core.default_timezone
    first, last = parse_logical_date(start, tz), parse_logical_date(end, tz)
    runtime.refresh_dag(dag_id)
    now = datetime.now(UTC)
    with runtime.session() as session:
        intervals = backfill_intervals(session, dag_id, start=first, end=last)
        scheduler_alive = bool(jobs.live_job_ids(session, "scheduler", now=now, stale_after=SCHEDULER_FRESH))
    if not intervals:
        click.echo("No intervals in that range.")
        return
    click.echo(f"{len(intervals)} runs: {intervals[0].start.isoformat()} .. {intervals[-1].start.isoformat()}")
    if not yes and sys.stdin.isatty():
        click.confirm("Backfill them?", abort=True)
    with runtime.session() as session:
        job_id = None if scheduler_alive else jobs.start_job(session, BACKFILL_JOB, at=now).id
        run_ids = create_backfill_runs(session, dag_id, intervals, job_id=job_id, reset=reset, actor=runtime.actor())
    if scheduler_alive:
        from flowctl.services.wakeup import poke

        poke(runtime.settings.home)
        click.echo("A scheduler is running: it executes the runs.", err=True)
        states = _wait(runtime, dag_id, run_ids)
    else:
        click.echo("No scheduler is running: this command executes the runs.", err=True)
        states = _run_here(runtime, dag_id, run_ids, job_id)  # type: ignore[arg-type]
    failed = [run_id for run_id, state in states.items() if state != "success"]
    click.echo(f"Backfill done: {len(states) - len(failed)} succeeded, {len(failed)} failed.")
    if failed:
        sys.exit(1)


def _wait(runtime: Runtime, dag_id: str, run_ids: list[str]) -> dict[str, str]:
    from flowctl.services.runs import require_run

    done: dict[str, str] = {}
    with click.progressbar(length=len(run_ids), label="runs finished", file=sys.stderr) as bar:
        while len(done) < len(run_ids):
            time.sleep(POLL_SECONDS)
            with runtime.session() as session:
                for run_id in run_ids:
                    if run_id not in done:
                        state = require_run(session, dag_id, run_id).state
                        if state in ("success", "failed"):
                            done[run_id] = state
                            bar.update(1)
    return done


def _run_here(runtime: Runtime, dag_id: str, run_ids: list[str], job_id: int) -> dict[str, str]:
    from flowctl.cli.inline_runs import load_dag_here
    from flowctl.db.queries import jobs
    from flowctl.scheduler.inline import run_dag_run

    dag = load_dag_here(runtime, dag_id)
    done: dict[str, str] = {}
    with click.progressbar(run_ids, label="runs finished", file=sys.stderr) as bar:
        for run_id in bar:

            def heartbeat(*_args: object) -> None:
                with runtime.session() as session:
                    jobs.heartbeat(session, job_id, at=datetime.now(UTC))

            done[run_id] = run_dag_run(
                runtime.settings,
                runtime.session_factory,
                runtime.engine,
                dag=dag,
                dag_id=dag_id,
                run_id=run_id,
                on_result=lambda *_: None,
                job_id=job_id,
            )
    with runtime.session() as session:
        jobs.end_job(session, job_id, at=datetime.now(UTC))
    return done
