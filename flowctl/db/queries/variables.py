"""Variables: key/value pairs whose values are stored encrypted (callers encrypt and decrypt)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from flowctl.db.models import Variable


def get_variable(session: Session, key: str) -> Variable | None:
    return session.scalar(select(Variable).where(Variable.key == key))


def list_variables(session: Session) -> list[Variable]:
    return list(session.scalars(select(Variable).order_by(Variable.key)))


def upsert_variable(session: Session, key: str, encrypted_value: str, description: str | None = None) -> None:
    row = get_variable(session, key)
    if row is None:
        session.add(Variable(key=key, val=encrypted_value, description=description))
    else:
        row.val = encrypted_value
        if description is not None:
            row.description = description


def delete_variable(session: Session, key: str) -> bool:
    return session.execute(delete(Variable).where(Variable.key == key)).rowcount == 1
