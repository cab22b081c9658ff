"""`flowctl dags list|list-import-errors|reserialize|show|pause|unpause|next-execution`.

Commands that show DAGs first parse new and changed files (unchanged ones cost a stat and a hash),
so they match the dags folder even when no scheduler is running.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from flowctl.cli.output import output_option, print_rows, print_values, to_jsonable
from flowctl.cli.runtime import Runtime, pass_runtime

LIST_COLUMNS = ["dag_id", "fileloc", "owners", "is_paused", "schedule", "tags", "next_dagrun"]


@click.group("dags")
def dags_group() -> None:
    """List, inspect, pause and parse DAGs."""


@dags_group.command("list")
@output_option
@pass_runtime
def list_(runtime: Runtime, output: str) -> None:
    """Every DAG with its file, owners, pause state, schedule, tags and next run."""
    from flowctl.db.queries import dags as queries

    runtime.refresh_dags()
    with runtime.session() as session:
        tags = queries.tags_by_dag(session)
        rows = [
            {
                "dag_id": dag.dag_id,
                "fileloc": dag.fileloc,
                "owners": [o for o in dag.owners.split(", ") if o],
                "is_paused": dag.is_paused,
                "schedule": dag.schedule,
                "tags": tags.get(dag.dag_id, []),
                "next_dagrun": dag.next_dagrun,
            }
            for dag in queries.list_dags(session)
        ]
    print_rows(rows, output, LIST_COLUMNS)


@dags_group.command("list-import-errors")
@output_option
@pass_runtime
def list_import_errors(runtime: Runtime, output: str) -> None:
    """DAG files that failed to import, with the error."""
    from flowctl.db.queries import dags as queries

    runtime.refresh_dags()
    with runtime.session() as session:
        rows = [{"filename": e.filename, "error": e.stack_trace} for e in queries.list_import_errors(session)]
    print_rows(rows, output, ["filename", "error"])


@dags_group.command("reserialize")
@click.option("--no-examples", is_flag=True, help="Skip the example DAGs even if core.load_examples is on.")
@pass_runtime
def reserialize(runtime: Runtime, no_examples: bool) -> None:
    """Parse every file in the dags folder now and store the result (no scheduler needed)."""
    result = runtime.refresh_dags(force=True, load_examples=False if no_examples else None)
    summary = result.summary
    click.echo(
        f"Parsed {result.files_parsed} files: {summary.dags} DAGs ({summary.new_versions} new versions), "
        f"{summary.import_errors} import errors."
    )


def _set_paused(runtime: Runtime, dag_id: str, paused: bool) -> None:
    from flowctl.services.dags import set_paused
    from flowctl.services.wakeup import poke

    runtime.require_known_dag(dag_id)
    with runtime.session() as session:
        set_paused(session, dag_id, paused, actor=runtime.actor())
    if not paused:
        poke(runtime.settings.home)  # its queued and due runs start now, not at the next timer
    click.echo(f"DAG {dag_id!r} {'paused' if paused else 'unpaused'}.")


@dags_group.command("pause")
@click.argument("dag_id")
@pass_runtime
def pause(runtime: Runtime, dag_id: str) -> None:
    """Stop scheduling new runs of DAG_ID."""
    _set_paused(runtime, dag_id, True)


@dags_group.command("unpause")
@click.argument("dag_id")
@pass_runtime
def unpause(runtime: Runtime, dag_id: str) -> None:
    """Resume scheduling DAG_ID."""
    _set_paused(runtime, dag_id, False)


@dags_group.command("show")
@click.argument("dag_id")
@click.option("--format", "fmt", type=click.Choice(["text", "dot"]), default="text", show_default=True)
@click.option(
    "-s", "--save", "save_to", type=click.Path(dir_okay=False), help="Write the graph to FILE (.svg or .dot)."
)
@pass_runtime
def show(runtime: Runtime, dag_id: str, fmt: str, save_to: str | None) -> None:
    """The DAG's tasks and dependencies, as text or Graphviz DOT; with --save, drawn to an SVG or DOT file."""
    from pathlib import Path

    from flowctl.cli.graph_files import check_graph_file, save_graph
    from flowctl.cli.graph_text import dag_as_dot, dag_as_text
    from flowctl.db.queries.dags import latest_serialized
    from flowctl.services.dags import dag_spec

    if save_to:
        check_graph_file(Path(save_to))  # before parsing anything
    runtime.refresh_dag(dag_id)
    with runtime.session() as session:
        spec = dag_spec(session, dag_id)
        serialized = latest_serialized(session, dag_id)
    if not save_to:
        click.echo(dag_as_dot(spec) if fmt == "dot" else dag_as_text(spec))
        return
    assert serialized is not None  # dag_spec found it
    save_graph(serialized, Path(save_to))
    click.echo(f"Graph of DAG {dag_id!r} saved to {save_to}.")


@dags_group.command("next-execution")
@click.argument("dag_id")
@click.option("-n", "--num-executions", "count", type=click.IntRange(min=1), default=1, show_default=True)
@output_option
@pass_runtime
def next_execution(runtime: Runtime, dag_id: str, count: int, output: str) -> None:
    """The next N logical dates, one ISO-8601 UTC datetime per line."""
    from flowctl.db.queries.dags import last_automated_run_interval
    from flowctl.schedule import DataInterval, upcoming_intervals
    from flowctl.services.dags import dag_spec, require_dag

    runtime.refresh_dag(dag_id)
    with runtime.session() as session:
        spec = dag_spec(session, dag_id)
        paused = require_dag(session, dag_id).is_paused
        last = last_automated_run_interval(session, dag_id)
    first = spec.next_dagrun(last=DataInterval(*last) if last else None, now=datetime.now(UTC))
    intervals = []
    if first is not None:
        intervals = [
            first,
            *upcoming_intervals(
                spec.timetable, start_date=spec.start_date, end_date=spec.end_date, after=first, n=count - 1
            ),
        ]
    dates = [to_jsonable(interval.start) for interval in intervals[:count]]
    if paused:
        click.echo(f"Note: DAG {dag_id!r} is paused; these runs happen once it is unpaused.", err=True)
    print_values(dates, output)


def _register_run_commands() -> None:
    from flowctl.cli import dag_runs

    for command in (
        dag_runs.trigger,
        dag_runs.list_runs,
        dag_runs.state,
        dag_runs.test,
        dag_runs.delete,
        dag_runs.backfill,
    ):
        dags_group.add_command(command)


_register_run_commands()
