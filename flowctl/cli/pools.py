"""`flowctl pools set|list|delete`."""

from __future__ import annotations

import click

from flowctl.cli.output import output_option, print_rows
from flowctl.cli.runtime import Runtime, pass_runtime

COLUMNS = ["pool", "slots", "occupied_slots", "running_slots", "queued_slots", "open_slots", "description"]


@click.group("pools")
def pools_group() -> None:
    """Manage pools: named limits on how many task slots run at once."""


# ignore_unknown_options: a negative number such as "-5" is a value, not an unknown option.
@pools_group.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("slots", type=int)
@click.argument("description")
@pass_runtime
def set_(runtime: Runtime, name: str, slots: int, description: str) -> None:
    """Create pool NAME or change its SLOTS and DESCRIPTION."""
    from flowctl.services import pools

    with runtime.session() as session:
        pools.set_pool(session, name, slots, description, actor=runtime.actor())
    click.echo(f"Pool {name!r} set to {slots} slots.")


@pools_group.command("list")
@output_option
@pass_runtime
def list_(runtime: Runtime, output: str) -> None:
    """List pools with their slot usage."""
    from flowctl.services import pools

    with runtime.session() as session:
        usage = pools.list_pools(session)
    rows = [{column: getattr(pool, column) for column in COLUMNS} for pool in usage]
    print_rows(rows, output, COLUMNS)


@pools_group.command("delete")
@click.argument("name")
@pass_runtime
def delete(runtime: Runtime, name: str) -> None:
    """Delete pool NAME."""
    from flowctl.services import pools

    with runtime.session() as session:
        pools.delete_pool(session, name, actor=runtime.actor())
    click.echo(f"Pool {name!r} deleted.")
