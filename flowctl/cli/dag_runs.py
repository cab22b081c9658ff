"""`flowctl dags trigger|list-runs|state` (registered on the `dags` group)."""

from __future__ import annotations

from typing import Any

import click

from flowctl.cli.output import output_option, print_record, print_rows
from flowctl.cli.runtime import Runtime, pass_runtime

RUN_COLUMNS = [
    "dag_id",
    "run_id",
    "run_type",
    "state",
    "logical_date",
    "data_interval_start",
    "data_interval_end",
    "start_date",
    "end_date",
    "conf",
]


def run_record(run: Any) -> dict[str, Any]:
    return {column: getattr(run, column) for column in RUN_COLUMNS}


def parse_conf(text: str | None) -> dict[str, Any]:
    from flowctl import strict_json
    from flowctl.exceptions import InvalidInput

    if text is None:
        return {}
    conf = strict_json.parse(text, what="--conf")
    if not isinstance(conf, dict):
        raise InvalidInput("--conf must be a JSON object")
    return conf


@click.command("trigger")
@click.argument("dag_id")
@click.option("-c", "--conf", help="JSON object merged over the DAG's params (validated).")
@click.option("-r", "--run-id", help="Run id [manual__<logical date>].")
@click.option("-l", "-e", "--logical-date", "--exec-date", "logical_date", help="Logical date (ISO-8601) [now].")
@output_option
@pass_runtime
def trigger(
    runtime: Runtime, dag_id: str, conf: str | None, run_id: str | None, logical_date: str | None, output: str
) -> None:
    """Create a manual run of DAG_ID (queued until the DAG is unpaused)."""
    from flowctl.parsing.render import parse_logical_date
    from flowctl.services.runs import trigger_dag
    from flowctl.services.wakeup import poke

    values = parse_conf(conf)
    when = parse_logical_date(logical_date, runtime.settings.core.default_timezone) if logical_date else None
    runtime.require_known_dag(dag_id)
    with runtime.session() as session:
        run = trigger_dag(session, dag_id, actor=runtime.actor(), run_id=run_id, logical_date=when, conf=values)
        record = {k: getattr(run, k) for k in ("dag_id", "run_id", "logical_date", "state")}
    poke(runtime.settings.home)
    print_record(record, output) if output != "table" else print_rows([record], output)


@click.command("list-runs")
@click.argument("dag_id", required=False)
@click.option("-d", "--dag-id", "dag_id_option", help="Same as DAG_ID (Airflow style).")
@click.option("--state", help="Only runs in this state (queued, running, success, failed).")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many runs, newest first.")
@output_option
@pass_runtime
def list_runs(
    runtime: Runtime,
    dag_id: str | None,
    dag_id_option: str | None,
    state: str | None,
    limit: int | None,
    output: str,
) -> None:
    """Runs of a DAG, newest first."""
    from flowctl.services.runs import list_runs as query_runs

    name = dag_id or dag_id_option
    if not name:
        raise click.UsageError("give the DAG_ID")
    with runtime.session() as session:
        rows = [run_record(run) for run in query_runs(session, name, state=state, limit=limit)]
    print_rows(rows, output, RUN_COLUMNS)


@click.command("state")
@click.argument("dag_id")
@click.argument("run_id")
@pass_runtime
def state(runtime: Runtime, dag_id: str, run_id: str) -> None:
    """Print the state of a run."""
    from flowctl.services.runs import require_run

    with runtime.session() as session:
        click.echo(require_run(session, dag_id, run_id).state)


@click.command("test")
@click.argument("dag_id")
@click.argument("logical_date", required=False)
@pass_runtime
def test(runtime: Runtime, dag_id: str, logical_date: str | None) -> None:
    """Run the whole DAG once in this process (recorded); exit 1 if the run fails."""
    import sys

    from flowctl.cli.inline_runs import test_dag
    from flowctl.parsing.render import parse_logical_date

    when = parse_logical_date(logical_date, runtime.settings.core.default_timezone) if logical_date else None
    if test_dag(runtime, dag_id, when) != "success":
        sys.exit(1)


@click.command("delete")
@click.argument("dag_id")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_runtime
def delete(runtime: Runtime, dag_id: str, yes: bool) -> None:
    """Delete a DAG's runs and metadata; its file stays (and is parsed again)."""
    from flowctl.services.dags import delete_dag

    if not yes:
        click.confirm(f"Delete DAG {dag_id!r} with all its runs and history?", abort=True)
    with runtime.session() as session:
        delete_dag(session, dag_id, actor=runtime.actor())
    click.echo(f"Deleted DAG {dag_id!r}.")


@click.command("backfill")
@click.argument("dag_id")
@click.option("-s", "--start-date", "start", required=True, help="First logical date (inclusive).")
@click.option("-e", "--end-date", "end", required=True, help="Last logical date (inclusive).")
@click.option("--reset-dagruns", is_flag=True, help="Rerun existing runs in the range (clears them).")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_runtime
def backfill(runtime: Runtime, dag_id: str, start: str, end: str, reset_dagruns: bool, yes: bool) -> None:
    """Create and run a run for every interval whose logical date is in [START, END].

    A running scheduler executes them; without one, this command does (never both)."""
    from flowctl.cli.backfill import run_backfill

    run_backfill(runtime, dag_id, start=start, end=end, reset=reset_dagruns, yes=yes)
