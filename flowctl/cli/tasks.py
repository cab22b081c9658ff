"""`flowctl tasks list|render|states-for-dag-run|state|failed-deps`."""

from __future__ import annotations

import click

from flowctl.cli.output import output_option, print_rows
from flowctl.cli.runtime import Runtime, pass_runtime


@click.group("tasks")
def tasks_group() -> None:
    """List tasks and render their templates."""


@tasks_group.command("list")
@click.argument("dag_id")
@click.option("--tree", is_flag=True, help="Show each root with its downstream tasks indented.")
@pass_runtime
def list_(runtime: Runtime, dag_id: str, tree: bool) -> None:
    """The task ids of DAG_ID, in dependency order."""
    from flowctl.cli.graph_text import task_tree
    from flowctl.services.dags import dag_spec

    runtime.refresh_dag(dag_id)
    with runtime.session() as session:
        spec = dag_spec(session, dag_id)
    click.echo(task_tree(spec) if tree else "\n".join(spec.tasks))


@tasks_group.command("render")
@click.argument("dag_id")
@click.argument("task_id")
@click.argument("logical_date")
@pass_runtime
def render(runtime: Runtime, dag_id: str, task_id: str, logical_date: str) -> None:
    """Print TASK_ID's template fields rendered for LOGICAL_DATE (imports the DAG file); every known secret
    (sensitive variables, connection passwords and secret extras) prints as ***."""
    from flowctl.parsing.render import render_task_fields
    from flowctl.services.known_secrets import known_secrets_masker

    runtime.refresh_dag(dag_id, current_code=True)
    with runtime.session() as session:
        fields = render_task_fields(
            session,
            runtime.settings,
            runtime.cipher,
            dag_id=dag_id,
            task_id=task_id,
            logical_date=logical_date,
            environ=runtime.environ,
        )
        masker = known_secrets_masker(session, runtime.cipher, environ=runtime.environ)
    for name, value in masker.mask_value(fields).items():
        # and the printed text once more: an object printed by its str() may hold a secret
        click.echo(f"# {'-' * 58}\n# property: {name}\n# {'-' * 58}\n{masker.mask(str(value))}\n")


TI_COLUMNS = ["task_id", "map_index", "state", "try_number", "start_date", "end_date", "duration"]


@tasks_group.command("states-for-dag-run")
@click.argument("dag_id")
@click.argument("run_id")
@output_option
@pass_runtime
def states_for_dag_run(runtime: Runtime, dag_id: str, run_id: str, output: str) -> None:
    """The state of every task instance of a run."""
    from flowctl.services.runs import task_instances

    with runtime.session() as session:
        rows = [{c: getattr(ti, c) for c in TI_COLUMNS} for ti in task_instances(session, dag_id, run_id)]
    print_rows(rows, output, TI_COLUMNS)


@tasks_group.command("state")
@click.argument("dag_id")
@click.argument("task_id")
@click.argument("run_id")
@click.option("--map-index", type=int, default=-1, show_default=True)
@pass_runtime
def state(runtime: Runtime, dag_id: str, task_id: str, run_id: str, map_index: int) -> None:
    """Print the state of a task instance."""
    from flowctl.db.queries.task_instances import get
    from flowctl.exceptions import NotFound
    from flowctl.services.runs import require_run

    with runtime.session() as session:
        require_run(session, dag_id, run_id)
        ti = get(session, dag_id, run_id, task_id, map_index)
        if ti is None:
            raise NotFound(f"run {run_id!r} of DAG {dag_id!r} has no task instance {task_id!r}")
        click.echo(ti.state)


def _register_run_commands() -> None:
    from flowctl.cli import failed_deps, task_runs

    for command in (task_runs.clear, task_runs.run, task_runs.test, task_runs.logs, failed_deps.failed_deps):
        tasks_group.add_command(command)


_register_run_commands()
