"""`flowctl tasks list|render`."""

from __future__ import annotations

import click

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

    runtime.refresh_dags()
    with runtime.session() as session:
        spec = dag_spec(session, dag_id)
    click.echo(task_tree(spec) if tree else "\n".join(spec.tasks))


@tasks_group.command("render")
@click.argument("dag_id")
@click.argument("task_id")
@click.argument("logical_date")
@pass_runtime
def render(runtime: Runtime, dag_id: str, task_id: str, logical_date: str) -> None:
    """Print TASK_ID's template fields rendered for LOGICAL_DATE (imports the DAG file)."""
    from flowctl.parsing.render import render_task_fields

    runtime.refresh_dags()
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
    for name, value in fields.items():
        click.echo(f"# {'-' * 58}\n# property: {name}\n# {'-' * 58}\n{value}\n")
