"""`/connections`: list, read, create, change and delete connections (of the metadata DB, not the
environment's); all of it needs the Op role, as the admin pages do. The password is write-only: no answer
ever holds it; secret values in `extra` show as ***."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from flask import jsonify

from flowctl.connection import Connection
from flowctl.db.queries import listing
from flowctl.exceptions import InvalidInput
from flowctl.roles import Role
from flowctl.web import db
from flowctl.web.api import api_blueprint, arguments, require_api_role

# API field -> Connection field
FIELDS = {
    "connection_id": "conn_id",
    "conn_type": "conn_type",
    "description": "description",
    "host": "host",
    "login": "login",
    "schema": "schema",
    "port": "port",
    "password": "password",
    "extra": "extra",
}


@api_blueprint.get("/connections")
@require_api_role(Role.OP)
def get_connections() -> Any:
    rows, total = listing.page_connections(db.session(), arguments.page(arguments.query()))
    items = [
        {
            "connection_id": row.conn_id,
            "conn_type": row.conn_type,
            "description": row.description,
            "host": row.host,
            "login": row.login,
            "schema": row.schema,
            "port": row.port,
        }
        for row in rows
    ]
    return jsonify({"connections": items, "total_entries": total})


@api_blueprint.post("/connections")
@require_api_role(Role.OP)
def post_connection() -> Any:
    from flowctl.services.connections import add_connection

    data = arguments.body("NewConnection")
    conn = Connection(**{FIELDS[name]: value for name, value in data.items()})
    add_connection(db.session(), db.cipher(), conn, actor=arguments.actor())
    db.commit()
    return jsonify(connection_json(conn))


@api_blueprint.get("/connections/<connection_id>")
@require_api_role(Role.OP)
def get_connection(connection_id: str) -> Any:
    return jsonify(connection_json(_stored(connection_id)))


@api_blueprint.patch("/connections/<connection_id>")
@require_api_role(Role.OP)
def patch_connection(connection_id: str) -> Any:
    from flowctl.services.connections import update_connection

    data = arguments.body("ConnectionUpdate")
    if data.get("connection_id", connection_id) != connection_id:
        raise InvalidInput("connection_id cannot be changed")
    changes = arguments.masked(data, arguments.query()["update_mask"], set(FIELDS) - {"connection_id"})
    changes.pop("connection_id", None)
    conn = dataclasses.replace(_stored(connection_id), **{FIELDS[name]: value for name, value in changes.items()})
    update_connection(db.session(), db.cipher(), conn, actor=arguments.actor())
    db.commit()
    return jsonify(connection_json(conn))


@api_blueprint.delete("/connections/<connection_id>")
@require_api_role(Role.OP)
def delete_connection(connection_id: str) -> Any:
    from flowctl.services.connections import delete_connection as delete

    delete(db.session(), connection_id, actor=arguments.actor())
    db.commit()
    return "", 204


def _stored(connection_id: str) -> Connection:
    from flowctl.services.connections import get_connection as stored

    return stored(db.session(), db.cipher(), connection_id, environ={})


def connection_json(conn: Connection) -> dict[str, Any]:
    """Everything but the password; `extra` with secret-looking keys and the password's text masked."""
    return {
        "connection_id": conn.conn_id,
        "conn_type": conn.conn_type,
        "description": conn.description,
        "host": conn.host,
        "login": conn.login,
        "schema": conn.schema,
        "port": conn.port,
        "extra": masked_extra(conn),
    }


def masked_extra(conn: Connection) -> str | None:
    from flowctl.db.secrets import MASK
    from flowctl.logs import SecretMasker

    if conn.extra is None:
        return None
    try:
        extra = json.loads(conn.extra)
    except ValueError:
        return MASK  # not JSON: no way to tell its secrets from the rest
    return json.dumps(SecretMasker([conn.password] if conn.password else []).mask_value(extra))
