"""`flowctl dag-processor`: keep the stored DAGs in step with the dags folder until stopped.

A change is noticed within a second (file names, sizes and mtimes are polled, which costs a few
stat calls); the whole folder is re-listed every `dag_dir_list_interval` seconds regardless.
"""

from __future__ import annotations

import signal
import time

import click

from flowctl.cli.runtime import Runtime, pass_runtime

POLL_SECONDS = 1.0


@click.command("dag-processor")
@click.option("--num-runs", type=int, default=0, help="Stop after this many parsing passes (0: never).")
@pass_runtime
def dag_processor(runtime: Runtime, num_runs: int) -> None:
    """Parse the dags folder continuously (the scheduler does this too)."""
    from flowctl.parsing.processor import FolderWatch, dag_folders

    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    watch = FolderWatch(dag_folders(runtime.settings))
    interval = runtime.settings.scheduler.dag_dir_list_interval
    passes, last_full = 0, 0.0
    while not stopping and (num_runs == 0 or passes < num_runs):
        if watch.changed() or time.monotonic() - last_full >= interval:
            result = runtime.refresh_dags()
            last_full = time.monotonic()
            passes += 1
            if result.files_parsed or result.forgotten_stale:
                s = result.summary
                click.echo(
                    f"parsed {result.files_parsed} files: {s.dags} DAGs, {s.import_errors} import errors, "
                    f"{len(result.forgotten_stale) + len(s.stale_dags)} DAGs now stale"
                )
        time.sleep(POLL_SECONDS)
