"""Fixtures for hook tests: a connection to each backend's own test database, and the local HTTP API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from flowctl.connection import Connection
from tests.hooks.api_server import ApiServer

TARGET_CONN_ID = "target"


def target_connection(db_url: str, sqlite_file: Path, *, conn_id: str = TARGET_CONN_ID, **fields: str) -> Connection:
    """A flowctl connection to the backend's test database (SQLite: `sqlite_file`, not the metadata DB)."""
    url = make_url(db_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        return Connection(conn_id=conn_id, conn_type="sqlite", host=str(sqlite_file), **fields)
    return Connection(
        conn_id=conn_id,
        conn_type="postgres" if backend == "postgresql" else "mysql",
        host=url.host,
        port=url.port,
        login=url.username,
        password=url.password,
        schema=url.database,
        **fields,
    )


@pytest.fixture
def target(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Connection:
    """The connection `target` (defined in FLOWCTL_CONN_TARGET) to this backend's test database."""
    conn = target_connection(db_url, tmp_path / "target.db")
    monkeypatch.setenv("FLOWCTL_CONN_TARGET", conn.get_uri())
    return conn


@pytest.fixture
def api() -> Iterator[ApiServer]:
    with ApiServer() as server:
        yield server
