"""`flowctl connections test CONN_ID`: a database runs SELECT 1, an HTTP base URL answers a HEAD, an fs
path exists — "Connection OK", or one line on stderr and exit 1, within the timeout."""

from __future__ import annotations

import dataclasses
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Cli, one_line_error
from tests.hooks.api_server import ApiServer, Reply
from tests.hooks.conftest import target_connection

SECRET = "pw-canary-c0nnt3st"


@pytest.fixture
def cli_without_db(home: Path) -> Cli:
    """`flowctl` with no metadata DB at all: connections come from FLOWCTL_CONN_* only."""
    return Cli(home, f"sqlite:///{home / 'never-created.db'}")


@pytest.fixture
def api() -> Iterator[ApiServer]:
    with ApiServer() as server:
        yield server


def _env(conn_id: str, **fields: object) -> dict[str, str]:
    return {f"FLOWCTL_CONN_{conn_id.upper()}": json.dumps(fields)}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# databases, stored encrypted in the metadata DB


def test_a_stored_database_connection_runs_select_1(cli_db: Cli, db_url: str, tmp_path: Path) -> None:
    # Given the backend's own test database (a SQLite file of its own on the SQLite backend)
    conn = target_connection(db_url, tmp_path / "target.db", conn_id="target")
    if conn.conn_type == "sqlite":
        (tmp_path / "target.db").write_bytes(b"")  # an empty file is a valid, empty SQLite database
    assert cli_db("connections", "add", "target", "--conn-uri", conn.get_uri()).exit_code == 0

    # When
    result = cli_db("connections", "test", "target")

    # Then
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("Connection OK: target (")
    assert "SELECT 1 answered" in result.stdout


def test_an_unreachable_database_fails_in_one_line_without_its_password(
    cli_db: Cli, db_url: str, tmp_path: Path
) -> None:
    conn = target_connection(db_url, tmp_path / "missing" / "target.db", conn_id="down")
    if conn.conn_type != "sqlite":
        conn = dataclasses.replace(conn, port=_closed_port(), password=SECRET)
    assert cli_db("connections", "add", "down", "--conn-uri", conn.get_uri()).exit_code == 0

    result = cli_db("connections", "test", "down")

    line = one_line_error(result)
    assert line.startswith(f"Error: connection 'down' ({conn.conn_type}) failed: ")
    assert SECRET not in result.stderr + result.stdout


# connections from the environment: no metadata DB needed


def test_an_http_connection_heads_its_base_url(cli_without_db: Cli, api: ApiServer) -> None:
    result = cli_without_db("connections", "test", "api", env=_env("api", conn_type="http", host=api.url))

    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == f"Connection OK: api (http): HTTP 200 from {api.url}"
    assert [request.method for request in api.requests] == ["HEAD"]


def test_an_http_error_answer_or_a_closed_port_fails(cli_without_db: Cli, api: ApiServer) -> None:
    missing = cli_without_db("connections", "test", "api", env=_env("api", conn_type="http", host=api.url + "/gone"))
    closed = cli_without_db(
        "connections", "test", "api", env=_env("api", conn_type="http", host=f"http://127.0.0.1:{_closed_port()}")
    )

    assert one_line_error(missing) == f"Error: connection 'api' (http) failed: HTTP 404 Not Found from {api.url}/gone"
    assert "ConnectionError" in one_line_error(closed)


def test_a_server_that_does_not_answer_in_time_fails_at_the_timeout(
    cli_without_db: Cli, api: ApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flowctl.cli.connections

    monkeypatch.setattr(flowctl.cli.connections, "TEST_TIMEOUT_SECONDS", 1)
    api.reply("/", Reply(200, "late", delay=3))

    started = time.monotonic()
    result = cli_without_db("connections", "test", "api", env=_env("api", conn_type="http", host=api.url))

    assert "timed out" in one_line_error(result) or "within 1 s" in result.stderr
    assert time.monotonic() - started < 2.5


def test_an_fs_connection_checks_that_its_path_exists(cli_without_db: Cli, tmp_path: Path) -> None:
    present = cli_without_db(
        "connections", "test", "inbox", env=_env("inbox", conn_type="fs", extra={"path": str(tmp_path)})
    )
    absent = cli_without_db(
        "connections", "test", "inbox", env=_env("inbox", conn_type="fs", extra={"path": str(tmp_path / "nope")})
    )

    assert present.stdout.strip() == f"Connection OK: inbox (fs): path {tmp_path} exists"
    assert one_line_error(absent) == f"Error: connection 'inbox' (fs) failed: path {tmp_path / 'nope'} does not exist"


def test_a_type_without_a_test_is_refused(cli_without_db: Cli) -> None:
    result = cli_without_db("connections", "test", "mail", env=_env("mail", conn_type="smtp", host="127.0.0.1"))

    assert "no hook serves connections of type 'smtp'" in one_line_error(result)


def test_an_unknown_connection_is_named(cli_db: Cli) -> None:
    assert one_line_error(cli_db("connections", "test", "nope")) == "Error: no connection 'nope'"
