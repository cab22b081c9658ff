"""`flowctl variables set|get|list|delete|import|export`."""

from __future__ import annotations

import json

import click

from flowctl.cli.files import read_json_file, write_json_file
from flowctl.cli.output import output_option, print_rows
from flowctl.cli.runtime import Runtime, pass_runtime

MASK = "***"


@click.group("variables")
def variables_group() -> None:
    """Manage variables (values are encrypted in the DB)."""


# ignore_unknown_options: a negative number such as "-5" is a value, not an unknown option.
@variables_group.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("key")
@click.argument("value")
@click.option("-j", "--json", "as_json", is_flag=True, help="VALUE is JSON: check it and store it as JSON.")
@pass_runtime
def set_(runtime: Runtime, key: str, value: str, as_json: bool) -> None:
    """Set KEY to VALUE."""
    from flowctl import strict_json
    from flowctl.services import variables

    if as_json:
        value = json.dumps(strict_json.parse(value, what=f"value of {key!r}"))
    with runtime.session() as session:
        variables.set_variable(session, runtime.cipher, key, value, actor=runtime.actor())
    click.echo(f"Variable {key!r} set.")


@variables_group.command("get")
@click.argument("key")
@click.option("-j", "--json", "as_json", is_flag=True, help="Print the value parsed as JSON.")
@click.option("-d", "--default", "default", help="Print this instead of failing when KEY is not set.")
@pass_runtime
def get(runtime: Runtime, key: str, as_json: bool, default: str | None) -> None:
    """Print the value of KEY."""
    from flowctl.exceptions import InvalidInput, NotFound
    from flowctl.services import variables

    try:
        with runtime.session() as session:
            value = variables.get_variable(session, runtime.cipher, key)
    except NotFound:
        if default is None:
            raise
        value = default
    if as_json:
        try:
            value = json.dumps(json.loads(value), indent=2)
        except ValueError:
            raise InvalidInput(f"value of {key!r} is not JSON") from None
    click.echo(value)


@variables_group.command("list")
@click.option("--show-secrets", is_flag=True, help="Show values of secret-looking keys instead of ***.")
@output_option
@pass_runtime
def list_(runtime: Runtime, show_secrets: bool, output: str) -> None:
    """List variables; values of keys that look secret (password, token, ...) are masked."""
    from flowctl.db.secrets import is_sensitive_name
    from flowctl.services import variables

    with runtime.session() as session:
        pairs = variables.list_variables(session, runtime.cipher)
    rows = [
        {"key": key, "value": MASK if is_sensitive_name(key) and not show_secrets else value} for key, value in pairs
    ]
    print_rows(rows, output, ["key", "value"])


@variables_group.command("delete")
@click.argument("key")
@pass_runtime
def delete(runtime: Runtime, key: str) -> None:
    """Delete KEY."""
    from flowctl.services import variables

    with runtime.session() as session:
        variables.delete_variable(session, key, actor=runtime.actor())
    click.echo(f"Variable {key!r} deleted.")


@variables_group.command("import")
@click.argument("file")
@pass_runtime
def import_(runtime: Runtime, file: str) -> None:
    """Set every key of the JSON object {key: value} in FILE (all or nothing)."""
    from flowctl.services import variables

    data = read_json_file(file)
    with runtime.session() as session:
        count = variables.import_variables(session, runtime.cipher, data, actor=runtime.actor())
    click.echo(f"Imported {count} variables.")


@variables_group.command("export")
@click.argument("file")
@pass_runtime
def export(runtime: Runtime, file: str) -> None:
    """Write every variable to FILE as one JSON object {key: value} (mode 0600; '-' for stdout)."""
    from flowctl.services import variables

    with runtime.session() as session:
        data = variables.export_variables(session, runtime.cipher)
    write_json_file(file, data)
    if file != "-":
        click.echo(f"Exported {len(data)} variables to {file}.")
