"""Connections: add, get (the environment wins over the DB), list, delete, import, export.

Password and extra are encrypted in the DB; this module is the one place that turns rows into
`Connection` values and back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from sqlalchemy.orm import Session

from flowctl.connection import Connection, connection_from_environment
from flowctl.connection_types import check_conn_type
from flowctl.db import models
from flowctl.db.queries import connections as queries
from flowctl.db.queries.log_events import record_event
from flowctl.db.secrets import SecretCipher
from flowctl.exceptions import AlreadyExists, InvalidInput, NotFound
from flowctl.services.actor import Actor

CONN_ID_MAX = 250


def add_connection(session: Session, cipher: SecretCipher, conn: Connection, *, actor: Actor) -> None:
    _check_storable(conn)
    if queries.get_connection_row(session, conn.conn_id) is not None:
        raise AlreadyExists(f"connection {conn.conn_id!r} already exists")
    session.add(_to_row(conn, cipher))
    record_event(session, "connection.add", owner=actor.name, at=actor.at, extra=conn.conn_id)


def get_connection(session: Session, cipher: SecretCipher, conn_id: str, *, environ: Mapping[str, str]) -> Connection:
    """The connection named `conn_id`: from `FLOWCTL_CONN_<ID>` if set, else from the DB."""
    from_env = connection_from_environment(conn_id, environ)
    if from_env is not None:
        return from_env
    row = queries.get_connection_row(session, conn_id)
    if row is None:
        raise NotFound(f"no connection {conn_id!r}")
    return _from_row(row, cipher)


def list_connections(session: Session, cipher: SecretCipher) -> list[Connection]:
    return [_from_row(row, cipher) for row in queries.list_connection_rows(session)]


def delete_connection(session: Session, conn_id: str, *, actor: Actor) -> None:
    if not queries.delete_connection_row(session, conn_id):
        raise NotFound(f"no connection {conn_id!r}")
    record_event(session, "connection.delete", owner=actor.name, at=actor.at, extra=conn_id)


def export_connections(session: Session, cipher: SecretCipher) -> dict[str, dict[str, object]]:
    """`{conn_id: {conn_type, description, host, login, password, schema, port, extra}}`, secrets included
    (an export is a backup; callers write it with owner-only permissions)."""
    exported = {}
    for conn in list_connections(session, cipher):
        fields = conn.to_dict(show_secrets=True)
        del fields["conn_id"]
        exported[conn.conn_id] = fields
    return exported


def parse_import(data: object) -> list[Connection]:
    """Connections from an export file's JSON: `{conn_id: {fields}}` or a list of objects with conn_id."""
    if isinstance(data, dict):
        items = list(data.items())
    elif isinstance(data, list) and all(isinstance(item, dict) for item in data):
        items = [(str(item.get("conn_id", "")), {k: v for k, v in item.items()}) for item in data]
    else:
        raise InvalidInput("connections file must hold a JSON object {conn_id: {...}} or a list of objects")
    connections = []
    for conn_id, fields in items:
        if not isinstance(fields, dict):
            raise InvalidInput(f"connection {conn_id!r}: expected an object of fields")
        connections.append(Connection.from_json(conn_id, json.dumps(fields)))
    return connections


def import_connections(
    session: Session, cipher: SecretCipher, connections: list[Connection], *, overwrite: bool, actor: Actor
) -> tuple[int, list[str]]:
    """Add every connection; existing ids are replaced with `overwrite`, else skipped.
    Returns (written, skipped ids). Everything is checked before anything is written."""
    ids = [conn.conn_id for conn in connections]
    duplicates = sorted({conn_id for conn_id in ids if ids.count(conn_id) > 1})
    if duplicates:
        raise InvalidInput(f"connections file names {', '.join(map(repr, duplicates))} more than once")
    for conn in connections:
        _check_storable(conn)
    existing = queries.existing_conn_ids(session, ids)
    skipped = [] if overwrite else sorted(existing)
    written = 0
    for conn in connections:
        if conn.conn_id in existing:
            if not overwrite:
                continue
            queries.delete_connection_row(session, conn.conn_id)
            session.flush()
        session.add(_to_row(conn, cipher))
        written += 1
    record_event(session, "connection.import", owner=actor.name, at=actor.at, extra=f"{written} connections")
    return written, skipped


def _check_storable(conn: Connection) -> None:
    """Refuse over-long ids and fields here, so every backend answers alike (SQLite would store them), and a
    type tasks could not use (every way in — API, UI, CLI, import — comes through here)."""
    if not conn.conn_id.strip() or len(conn.conn_id) > CONN_ID_MAX:
        raise InvalidInput(f"connection id must be 1-{CONN_ID_MAX} characters")
    check_conn_type(conn.conn_type, conn_id=conn.conn_id)
    for name in ("conn_type", "host", "schema"):
        limit = models.Connection.__table__.c[name].type.length
        value = getattr(conn, name) or ""
        if len(value) > limit:
            raise InvalidInput(f"{name} of connection {conn.conn_id!r} is longer than {limit} characters")


def _to_row(conn: Connection, cipher: SecretCipher) -> models.Connection:
    return models.Connection(
        conn_id=conn.conn_id,
        conn_type=conn.conn_type,
        description=conn.description,
        host=conn.host,
        schema=conn.schema,
        login=conn.login,
        password=cipher.encrypt(conn.password),
        port=conn.port,
        extra=cipher.encrypt(conn.extra),
    )


def _from_row(row: models.Connection, cipher: SecretCipher) -> Connection:
    return Connection(
        conn_id=row.conn_id,
        conn_type=row.conn_type,
        description=row.description,
        host=row.host,
        schema=row.schema,
        login=row.login,
        password=cipher.decrypt(row.password),
        port=row.port,
        extra=cipher.decrypt(row.extra),
    )


def get_stored_connection(session: Session, cipher: SecretCipher, conn_id: str) -> Connection:
    """The connection as stored in the DB (what the UI edits), whatever the environment defines."""
    row = queries.get_connection_row(session, conn_id)
    if row is None:
        raise NotFound(f"no connection {conn_id!r}")
    return _from_row(row, cipher)


def update_connection(session: Session, cipher: SecretCipher, conn: Connection, *, actor: Actor) -> None:
    """Replace every field of the stored connection `conn.conn_id` with conn's."""
    _check_storable(conn)
    row = queries.get_connection_row(session, conn.conn_id)
    if row is None:
        raise NotFound(f"no connection {conn.conn_id!r}")
    fresh = _to_row(conn, cipher)
    for name in ("conn_type", "description", "host", "schema", "login", "password", "port", "extra"):
        setattr(row, name, getattr(fresh, name))
    record_event(session, "connection.edit", owner=actor.name, at=actor.at, extra=conn.conn_id)
