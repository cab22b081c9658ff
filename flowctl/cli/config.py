"""`flowctl config get-value|list`."""

from __future__ import annotations

from pathlib import Path

import click

from flowctl.cli.output import output_option, print_rows
from flowctl.cli.runtime import Runtime, pass_runtime

MASK = "***"


@click.group("config")
def config_group() -> None:
    """Show configuration values (environment > flowctl.cfg > defaults)."""


def _text(value: object) -> str:
    return str(value) if isinstance(value, (Path, bool, int, float)) else str(value or "")


@config_group.command("get-value")
@click.argument("section")
@click.argument("key")
@pass_runtime
def get_value(runtime: Runtime, section: str, key: str) -> None:
    """Print the value of SECTION KEY."""
    click.echo(_text(runtime.settings.get(section, key)))


@config_group.command("list")
@click.option("--show-secrets", is_flag=True, help="Show keys and passwords instead of ***.")
@output_option
@pass_runtime
def list_config(runtime: Runtime, show_secrets: bool, output: str) -> None:
    """Every key with its effective value, and when a change takes effect: at once for commands, and at
    a restart of the processes named (or when the key is next read) for the ones that run on."""
    rows = [
        {
            "section": info.section,
            "key": info.key,
            "value": MASK if info.secret and value and not show_secrets else _text(value),
            "takes_effect": info.takes_effect,
        }
        for info, value in runtime.settings.items()
    ]
    print_rows(rows, output, ["section", "key", "value", "takes_effect"])
