"""`flowctl plugins`: the installed plugins, what each provides, and the package it came from."""

from __future__ import annotations

import click

from flowctl.cli.output import output_option, print_rows

COLUMNS = ["name", "package", "version", "operators", "hooks", "sensors", "macros", "entry_point", "error"]


@click.command("plugins")
@output_option
def plugins(output: str) -> None:
    """List installed plugins (entry point group `flowctl.plugins`) with their operators, hooks, sensors
    and macros. A plugin that fails to load is listed with its error, and said on stderr."""
    from flowctl.plugins import COMPONENT_KINDS, discover

    report = discover()
    rows = []
    for plugin in report.plugins:
        provided = {kind: [cls.__name__ for cls in getattr(plugin, kind)] for kind in COMPONENT_KINDS}
        provided["macros"] = sorted(plugin.macros)
        rows.append(
            {
                "name": plugin.name,
                "package": plugin.package,
                "version": plugin.version,
                "entry_point": plugin.entry_point,
                "error": None,
                **provided,
            }
        )
    for broken in report.broken:
        click.echo(f"Warning: plugin {broken.name!r} ({broken.entry_point}) failed to load: {broken.error}", err=True)
        empty = {kind: [] for kind in (*COMPONENT_KINDS, "macros")}
        rows.append(
            {
                "name": broken.name,
                "package": broken.package,
                "version": broken.version,
                "entry_point": broken.entry_point,
                "error": broken.error,
                **empty,
            }
        )
    print_rows(rows, output, COLUMNS)
