"""Connection rows; password and extra arrive and leave encrypted (callers encrypt and decrypt)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from flowctl.db.models import Connection


def get_connection_row(session: Session, conn_id: str) -> Connection | None:
    return session.scalar(select(Connection).where(Connection.conn_id == conn_id))


def list_connection_rows(session: Session) -> list[Connection]:
    return list(session.scalars(select(Connection).order_by(Connection.conn_id)))


def existing_conn_ids(session: Session, conn_ids: list[str]) -> set[str]:
    return set(session.scalars(select(Connection.conn_id).where(Connection.conn_id.in_(conn_ids))))


def delete_connection_row(session: Session, conn_id: str) -> bool:
    return session.execute(delete(Connection).where(Connection.conn_id == conn_id)).rowcount == 1
