"""Fernet key rotation: re-encrypt every secret at rest with the first key of `core.fernet_key`."""

from __future__ import annotations

from sqlalchemy.orm import Session

from flowctl.db.queries import connections as connection_queries
from flowctl.db.queries import variables as variable_queries
from flowctl.db.queries.log_events import record_event
from flowctl.db.secrets import SecretCipher
from flowctl.services.actor import Actor


def rotate_secrets(session: Session, cipher: SecretCipher, *, actor: Actor) -> int:
    """Re-encrypt every connection secret and variable with the first key of `core.fernet_key`."""
    count = 0
    for row in connection_queries.list_connection_rows(session):
        row.password = cipher.rotate(row.password)
        row.extra = cipher.rotate(row.extra)
        count += 1
    for variable in variable_queries.list_variables(session):
        variable.val = cipher.rotate(variable.val)
        count += 1
    record_event(session, "fernet.rotate", owner=actor.name, at=actor.at, extra=f"{count} rows")
    return count
