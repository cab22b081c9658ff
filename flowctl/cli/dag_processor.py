"""`flowctl dag-processor`: keep the stored DAGs in step with the dags folder until stopped (the scheduler
runs one of these beside its loop; this command is for a parser on its own)."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

import click

from flowctl.cli.runtime import Runtime, pass_runtime

if TYPE_CHECKING:
    from flowctl.parsing.processor import RefreshResult


@click.command("dag-processor")
@click.option("--num-runs", type=int, default=0, help="Stop after this many parsing passes (0: never).")
@pass_runtime
def dag_processor(runtime: Runtime, num_runs: int) -> None:
    """Parse the dags folder continuously (the scheduler does this too)."""
    from flowctl.db.migrate import require_current_schema
    from flowctl.parsing.continuous import keep_in_step

    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    def report(result: RefreshResult) -> None:
        if result.files_parsed or result.forgotten_stale:
            s = result.summary
            stale = len(result.forgotten_stale) + len(s.stale_dags)
            click.echo(
                f"parsed {result.files_parsed} files: {s.dags} DAGs, {s.import_errors} import errors, "
                f"{stale} DAGs now stale"
            )

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    require_current_schema(runtime.engine)
    keep_in_step(
        runtime.settings,
        runtime.session_factory,
        stopping=lambda: stopping,
        on_pass=report,
        passes=num_runs,
        reader=runtime.task_session_factory,
    )
