"""`flowctl connections add|get|list|delete|export|import|test`."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import click

from flowctl.cli.files import read_json_file, write_json_file
from flowctl.cli.output import output_option, print_record, print_rows
from flowctl.cli.runtime import Runtime, pass_runtime

COLUMNS = ["conn_id", "conn_type", "description", "host", "port", "login", "schema", "extra"]
MASK = "***"


@click.group("connections")
def connections_group() -> None:
    """Manage connections (passwords and extras are encrypted in the DB)."""


def _display(conn: Any, show_secrets: bool) -> dict[str, Any]:
    """The connection's fields; without show_secrets no password, and secret-looking extra keys masked."""
    from flowctl.db.secrets import is_sensitive_name

    fields = conn.to_dict(show_secrets=show_secrets)
    if not show_secrets and conn.extra:
        extra = conn.extra_dejson
        fields["extra"] = json.dumps({k: MASK if is_sensitive_name(k) else v for k, v in extra.items()})
    return fields


@connections_group.command("add")
@click.argument("conn_id")
@click.option("--conn-uri", help="The whole connection as a URI: type://login:password@host:port/schema?k=v")
@click.option("--conn-json", help="The whole connection as a JSON object.")
@click.option("--conn-type", help="Connection type, e.g. postgres, mysql, http, fs.")
@click.option("--conn-host")
@click.option("--conn-port", type=int)
@click.option("--conn-login")
@click.option("--conn-password")
@click.option("--conn-schema")
@click.option("--conn-extra", help="A JSON object of extra settings.")
@click.option("--conn-description")
@pass_runtime
def add(runtime: Runtime, conn_id: str, **fields: Any) -> None:
    """Add a connection, given as --conn-uri, --conn-json or --conn-type with fields."""
    from flowctl.connection import Connection
    from flowctl.exceptions import InvalidInput
    from flowctl.services import connections

    uri, as_json = fields.pop("conn_uri"), fields.pop("conn_json")
    given = {name.removeprefix("conn_"): value for name, value in fields.items() if value is not None}
    if sum(bool(x) for x in (uri, as_json, given.get("type"))) != 1:
        raise InvalidInput("give exactly one of --conn-uri, --conn-json or --conn-type")
    if uri or as_json:
        extra_fields = sorted(set(given) - {"description"})
        if extra_fields:
            raise InvalidInput(f"--conn-{extra_fields[0]} cannot be combined with --conn-uri/--conn-json")
        conn = Connection.from_uri(conn_id, uri) if uri else Connection.from_json(conn_id, as_json)
        if given.get("description"):
            conn = dataclasses.replace(conn, description=given["description"])
    else:
        given["conn_type"] = given.pop("type")
        conn = Connection(conn_id=conn_id, **given)
    with runtime.session() as session:
        connections.add_connection(session, runtime.cipher, conn, actor=runtime.actor())
    _warn_of_unknown_types([conn])
    click.echo(f"Added connection {conn_id!r} ({conn.conn_type}).")


def _warn_of_unknown_types(conns: list[Any]) -> None:
    """One line on stderr naming stored types the registry does not know: accepted, as a plugin's hooks may
    serve them, but a typo would otherwise go unnoticed until a task uses the connection."""
    from flowctl.connection_types import connection_types, is_registered

    unknown = sorted({conn.conn_type for conn in conns if not is_registered(conn.conn_type)})
    if unknown:
        click.echo(
            f"Warning: conn_type {', '.join(map(repr, unknown))} is not a type flowctl knows "
            f"({', '.join(connection_types())}); stored as given, for a plugin's hooks to serve.",
            err=True,
        )


@connections_group.command("get")
@click.argument("conn_id")
@click.option("--show-secrets", is_flag=True, help="Also print the password and unmasked extra.")
@output_option
@pass_runtime
def get(runtime: Runtime, conn_id: str, show_secrets: bool, output: str) -> None:
    """Show one connection (FLOWCTL_CONN_<ID> in the environment wins over the DB)."""
    from flowctl.services import connections

    with runtime.session() as session:
        conn = connections.get_connection(session, runtime.cipher, conn_id, environ=runtime.environ)
    print_record(_display(conn, show_secrets), output)


@connections_group.command("list")
@click.option("--show-secrets", is_flag=True, help="Also print passwords and unmasked extras.")
@output_option
@pass_runtime
def list_(runtime: Runtime, show_secrets: bool, output: str) -> None:
    """List the connections stored in the DB."""
    from flowctl.services import connections

    with runtime.session() as session:
        conns = connections.list_connections(session, runtime.cipher)
    columns = [*COLUMNS[:6], "password", *COLUMNS[6:]] if show_secrets else COLUMNS
    print_rows([_display(c, show_secrets) for c in conns], output, columns)


@connections_group.command("delete")
@click.argument("conn_id")
@pass_runtime
def delete(runtime: Runtime, conn_id: str) -> None:
    """Delete a connection."""
    from flowctl.services import connections

    with runtime.session() as session:
        connections.delete_connection(session, conn_id, actor=runtime.actor())
    click.echo(f"Deleted connection {conn_id!r}.")


@connections_group.command("export")
@click.argument("file")
@pass_runtime
def export(runtime: Runtime, file: str) -> None:
    """Write every connection, secrets included, to FILE as JSON (mode 0600; '-' for stdout)."""
    from flowctl.services import connections

    with runtime.session() as session:
        data = connections.export_connections(session, runtime.cipher)
    write_json_file(file, data)
    if file != "-":
        click.echo(f"Exported {len(data)} connections to {file}.")


@connections_group.command("import")
@click.argument("file")
@click.option("--overwrite", is_flag=True, help="Replace connections whose id already exists.")
@pass_runtime
def import_(runtime: Runtime, file: str, overwrite: bool) -> None:
    """Add the connections in a JSON FILE written by `export` (all or nothing)."""
    from flowctl.services import connections

    parsed = connections.parse_import(read_json_file(file))
    with runtime.session() as session:
        written, skipped = connections.import_connections(
            session, runtime.cipher, parsed, overwrite=overwrite, actor=runtime.actor()
        )
    for conn_id in skipped:
        click.echo(f"Skipped {conn_id!r}: already exists (use --overwrite to replace it).", err=True)
    _warn_of_unknown_types([conn for conn in parsed if conn.conn_id not in skipped])
    click.echo(f"Imported {written} connections.")


TEST_TIMEOUT_SECONDS = 10


@connections_group.command("test")
@click.argument("conn_id")
@pass_runtime
def test(runtime: Runtime, conn_id: str) -> None:
    """Check that CONN_ID answers within 10 s: a database runs SELECT 1, an HTTP base URL answers a HEAD,
    an fs path exists. Prints "Connection OK" or exits 1 with the reason."""
    from flowctl.connection import connection_from_environment
    from flowctl.exceptions import FlowctlError
    from flowctl.hooks.base import probe_connection
    from flowctl.services import connections

    conn = connection_from_environment(conn_id, runtime.environ)
    if conn is None:
        with runtime.session() as session:
            conn = connections.get_connection(session, runtime.cipher, conn_id, environ={})
    with _deadline(TEST_TIMEOUT_SECONDS, conn_id):
        worked, message = probe_connection(conn, timeout=TEST_TIMEOUT_SECONDS)
    if conn.password:
        message = message.replace(conn.password, MASK)
    if not worked:
        raise FlowctlError(f"connection {conn_id!r} ({conn.conn_type}) failed: {message}")
    click.echo(f"Connection OK: {conn_id} ({conn.conn_type}): {message}")


@contextlib.contextmanager
def _deadline(seconds: int, conn_id: str) -> Iterator[None]:
    """Give up after `seconds` even if a driver ignores its own timeout (a DNS lookup, say)."""
    import signal
    import threading

    from flowctl.exceptions import FlowctlError

    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach only the main thread; the drivers' own timeouts still apply
        return

    def give_up(signum: int, frame: Any) -> None:
        raise FlowctlError(f"connection {conn_id!r} failed: no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.setitimer(signal.ITIMER_REAL, seconds + 1)  # the drivers' own timeouts, when they work, come first
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
