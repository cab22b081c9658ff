"""`flowctl connections ...` on every backend: adding, showing without leaking secrets, import/export."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from flowctl.db import models
from tests.conftest import Cli, one_line_error

PASSWORD = "pw-canary-7f3a9c"
TOKEN = "tok-canary-51d0e2"
COLUMNS = ["conn_id", "conn_type", "description", "host", "port", "login", "schema", "extra"]


def _connection_count(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(models.Connection)) or 0


def _get_json(cli: Cli, conn_id: str, *flags: str, env: dict[str, str] | None = None) -> dict[str, object]:
    result = cli("connections", "get", conn_id, "-o", "json", *flags, env=env)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _add_warehouse(cli: Cli) -> None:
    uri = f"postgresql://alice:{PASSWORD}@db.example.com:5432/sales?sslmode=require&api_token={TOKEN}"
    result = cli("connections", "add", "warehouse", "--conn-uri", uri)
    assert result.exit_code == 0, result.stderr


def _fresh_sqlite_env(tmp_path: Path) -> dict[str, str]:
    """Settings for another, empty metadata DB with its own fernet key."""
    return {
        "FLOWCTL__CORE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'fresh.db'}",
        "FLOWCTL__CORE__FERNET_KEY": Fernet.generate_key().decode(),
    }


# --- add ---------------------------------------------------------------------------------------------


def test_add_with_uri_stores_each_part_of_the_uri(cli_db: Cli) -> None:
    _add_warehouse(cli_db)

    assert _get_json(cli_db, "warehouse", "--show-secrets") == {
        "conn_id": "warehouse",
        "conn_type": "postgres",
        "description": None,
        "host": "db.example.com",
        "port": 5432,
        "login": "alice",
        "password": PASSWORD,
        "schema": "sales",
        "extra": json.dumps({"sslmode": "require", "api_token": TOKEN}),
    }


def test_add_with_type_and_fields_stores_each_field(cli_db: Cli) -> None:
    result = cli_db(
        "connections",
        "add",
        "api",
        "--conn-type",
        "http",
        "--conn-host",
        "api.example.com",
        "--conn-port",
        "443",
        "--conn-login",
        "bot",
        "--conn-password",
        PASSWORD,
        "--conn-schema",
        "https",
        "--conn-extra",
        '{"timeout": 5}',
        "--conn-description",
        "Public API",
    )

    assert result.exit_code == 0, result.stderr
    assert _get_json(cli_db, "api", "--show-secrets") == {
        "conn_id": "api",
        "conn_type": "http",
        "description": "Public API",
        "host": "api.example.com",
        "port": 443,
        "login": "bot",
        "password": PASSWORD,
        "schema": "https",
        "extra": '{"timeout": 5}',
    }


def test_add_with_json_stores_each_field(cli_db: Cli) -> None:
    as_json = json.dumps(
        {"conn_type": "ftp", "host": "files.example.com", "port": 21, "password": PASSWORD, "extra": {"x": 1}}
    )

    result = cli_db("connections", "add", "ftp_drop", "--conn-json", as_json)

    assert result.exit_code == 0, result.stderr
    shown = _get_json(cli_db, "ftp_drop", "--show-secrets")
    assert (shown["conn_type"], shown["host"], shown["port"]) == ("ftp", "files.example.com", 21)
    assert (shown["login"], shown["password"], shown["schema"]) == (None, PASSWORD, None)
    assert json.loads(str(shown["extra"])) == {"x": 1}


# --- secrets are not shown -----------------------------------------------------------------------------


@pytest.mark.parametrize("output", ["table", "json", "plain"])
def test_get_and_list_print_the_password_only_with_show_secrets(cli_db: Cli, output: str) -> None:
    _add_warehouse(cli_db)

    hidden = [
        cli_db("connections", "get", "warehouse", "-o", output),
        cli_db("connections", "list", "-o", output),
    ]
    shown = [
        cli_db("connections", "get", "warehouse", "-o", output, "--show-secrets"),
        cli_db("connections", "list", "-o", output, "--show-secrets"),
    ]

    for result in hidden:
        assert result.exit_code == 0, result.stderr
        assert "warehouse" in result.stdout
        assert PASSWORD not in result.stdout + result.stderr
    for result in shown:
        assert result.exit_code == 0, result.stderr
        assert PASSWORD in result.stdout


def test_secret_looking_keys_in_extra_are_masked_without_show_secrets(cli_db: Cli) -> None:
    extra = {"api_token": TOKEN, "Client-Secret": TOKEN, "region": "eu-west-1"}
    added = cli_db("connections", "add", "s3", "--conn-type", "aws", "--conn-extra", json.dumps(extra))
    assert added.exit_code == 0, added.stderr

    masked = json.loads(str(_get_json(cli_db, "s3")["extra"]))
    listed = cli_db("connections", "list", "-o", "json")
    unmasked = json.loads(str(_get_json(cli_db, "s3", "--show-secrets")["extra"]))

    assert masked == {"api_token": "***", "Client-Secret": "***", "region": "eu-west-1"}
    assert TOKEN not in listed.stdout and "eu-west-1" in listed.stdout
    assert unmasked == extra


def test_password_and_extra_are_encrypted_in_the_db_row(cli_db: Cli, session_factory: sessionmaker[Session]) -> None:
    _add_warehouse(cli_db)

    with session_factory() as session:
        row = session.scalars(select(models.Connection)).one()

    assert row.password is not None and PASSWORD not in row.password
    assert row.extra is not None and TOKEN not in row.extra and "sslmode" not in row.extra
    assert (row.host, row.login) == ("db.example.com", "alice")


# --- the environment ---------------------------------------------------------------------------------


def test_environment_connection_wins_over_the_db_in_get(cli_db: Cli) -> None:
    # Given a connection in the DB and another definition of it in the environment
    _add_warehouse(cli_db)
    env = {"FLOWCTL_CONN_WAREHOUSE": f"postgresql://envuser:{PASSWORD}@env-host:6543/envdb"}

    # When it is shown
    shown = _get_json(cli_db, "warehouse", env=env)
    hidden = cli_db("connections", "get", "warehouse", env=env)

    # Then the environment's definition is shown, still without its password
    assert {key: shown[key] for key in ("host", "port", "login", "schema")} == {
        "host": "env-host",
        "port": 6543,
        "login": "envuser",
        "schema": "envdb",
    }
    assert "password" not in shown
    assert PASSWORD not in hidden.stdout
    assert _get_json(cli_db, "warehouse")["host"] == "db.example.com"


def test_environment_connection_is_found_without_a_db_row(cli_db: Cli) -> None:
    env = {"FLOWCTL_CONN_ONLY_ENV": '{"conn_type": "http", "host": "from-env.example.com"}'}

    shown = _get_json(cli_db, "only_env", env=env)

    assert (shown["conn_type"], shown["host"]) == ("http", "from-env.example.com")


# --- refused input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        pytest.param(["--conn-uri", f"postgres://u:{PASSWORD}@host:notaport/db"], id="port-not-a-number"),
        pytest.param(["--conn-uri", "postgres://host:70000/db"], id="port-out-of-range"),
        pytest.param(["--conn-uri", "a://b://c://d"], id="three-schemes"),
        pytest.param(["--conn-uri", "no-scheme-here"], id="no-scheme"),
        pytest.param(["--conn-type", "http", "--conn-extra", "{not json"], id="extra-not-json"),
        pytest.param(["--conn-type", "http", "--conn-extra", "[1, 2]"], id="extra-not-an-object"),
        pytest.param(["--conn-uri", "http://h", "--conn-type", "http"], id="uri-and-type"),
        pytest.param(["--conn-uri", "http://h", "--conn-host", "other"], id="uri-and-host"),
        pytest.param(["--conn-json", '{"conn_type": "http", "hostname": "h"}'], id="json-unknown-field"),
        pytest.param(["--conn-host", "h"], id="no-type"),
    ],
)
def test_malformed_add_fails_with_one_line_and_writes_nothing(
    cli_db: Cli, session_factory: sessionmaker[Session], options: list[str]
) -> None:
    result = cli_db("connections", "add", "broken", *options)

    one_line_error(result)
    assert PASSWORD not in result.stderr  # messages never quote a URI, which may hold the password
    assert result.stdout == ""
    assert _connection_count(session_factory) == 0


def test_adding_an_existing_id_fails_and_keeps_the_first_connection(
    cli_db: Cli, session_factory: sessionmaker[Session]
) -> None:
    _add_warehouse(cli_db)

    result = cli_db("connections", "add", "warehouse", "--conn-type", "http", "--conn-host", "other")

    assert "already exists" in one_line_error(result)
    assert _connection_count(session_factory) == 1
    assert _get_json(cli_db, "warehouse")["host"] == "db.example.com"


# --- list, delete ---------------------------------------------------------------------------------------


def test_list_json_is_one_document_with_the_spec_columns(cli_db: Cli) -> None:
    empty = cli_db("connections", "list", "-o", "json")
    _add_warehouse(cli_db)
    cli_db("connections", "add", "api", "--conn-uri", "http://api.example.com")

    listed = cli_db("connections", "list", "-o", "json")

    assert json.loads(empty.stdout) == []
    rows = json.loads(listed.stdout)
    assert [row["conn_id"] for row in rows] == ["api", "warehouse"]
    assert all(list(row) == COLUMNS for row in rows)


def test_get_json_is_one_object(cli_db: Cli) -> None:
    _add_warehouse(cli_db)

    result = cli_db("connections", "get", "warehouse", "-o", "json")

    assert json.loads(result.stdout)["conn_id"] == "warehouse"


def test_delete_removes_the_connection(cli_db: Cli, session_factory: sessionmaker[Session]) -> None:
    _add_warehouse(cli_db)

    deleted = cli_db("connections", "delete", "warehouse")

    assert deleted.exit_code == 0, deleted.stderr
    assert _connection_count(session_factory) == 0
    lookup = cli_db("connections", "get", "warehouse")
    assert "no connection 'warehouse'" in one_line_error(lookup)


def test_delete_of_an_unknown_id_fails(cli_db: Cli) -> None:
    result = cli_db("connections", "delete", "nope")

    assert "nope" in one_line_error(result)


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--conn-type", "http\x07"], id="bell"),
        pytest.param(["--conn-type", "http\nX"], id="newline"),
        pytest.param(["--conn-type", "my type"], id="space"),
        pytest.param(["--conn-type", "a" * 101], id="too-long"),
        pytest.param(["--conn-json", json.dumps({"conn_type": "\x1b[31mhttp", "host": "h"})], id="json-escape"),
        pytest.param(["--conn-json", json.dumps({"host": "h"})], id="json-no-type"),
    ],
)
def test_add_refuses_a_connection_type_with_control_characters_whitespace_or_absurd_length(
    cli_db: Cli, session_factory: sessionmaker[Session], args: list[str]
) -> None:
    message = one_line_error(cli_db("connections", "add", "bad", *args))

    assert "conn_type" in message and "\x1b" not in message
    assert _connection_count(session_factory) == 0


def test_add_accepts_a_type_flowctl_does_not_know_and_says_so(cli_db: Cli) -> None:
    result = cli_db("connections", "add", "cloud", "--conn-type", "google_cloud_platform")

    assert result.exit_code == 0, result.stderr
    assert "not a type flowctl knows" in result.stderr and len(result.stderr.splitlines()) == 1
    assert _get_json(cli_db, "cloud")["conn_type"] == "google_cloud_platform"
    known = cli_db("connections", "add", "files", "--conn-type", "fs")
    assert known.exit_code == 0 and known.stderr == ""


# --- export / import -----------------------------------------------------------------------------------


def test_export_writes_an_owner_only_json_file_with_passwords(cli_db: Cli, tmp_path: Path) -> None:
    _add_warehouse(cli_db)
    target = tmp_path / "connections.json"

    result = cli_db("connections", "export", str(target))

    assert result.exit_code == 0, result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    exported = json.loads(target.read_text())
    assert exported["warehouse"]["password"] == PASSWORD
    assert exported["warehouse"]["host"] == "db.example.com"
    assert PASSWORD not in result.stdout


def test_export_then_import_into_a_fresh_db_round_trips(cli_db: Cli, tmp_path: Path) -> None:
    # Given connections of several shapes, exported
    _add_warehouse(cli_db)
    cli_db("connections", "add", "bare", "--conn-type", "fs")
    nested = {"conn_type": "http", "description": "d", "extra": {"a": [1, {"b": None}]}}
    cli_db("connections", "add", "nested", "--conn-json", json.dumps(nested))
    file = tmp_path / "connections.json"
    assert cli_db("connections", "export", str(file)).exit_code == 0

    # When they are imported into another DB, encrypted with another key
    fresh = _fresh_sqlite_env(tmp_path)
    assert cli_db("db", "init", env=fresh).exit_code == 0
    imported = cli_db("connections", "import", str(file), env=fresh)

    # Then that DB lists the same connections, secrets included
    assert imported.exit_code == 0, imported.stderr
    before = cli_db("connections", "list", "-o", "json", "--show-secrets")
    after = cli_db("connections", "list", "-o", "json", "--show-secrets", env=fresh)
    assert json.loads(after.stdout) == json.loads(before.stdout)
    assert len(json.loads(after.stdout)) == 3


GOOD = {"conn_type": "http", "host": "example.com"}


@pytest.mark.parametrize(
    "content",
    [
        pytest.param({"good": GOOD, "bad": {"conn_type": "http", "port": "notaport"}}, id="bad-port"),
        pytest.param({"good": GOOD, "bad": {"conn_type": "http", "hots": "h"}}, id="unknown-field"),
        pytest.param({"good": GOOD, "bad": {"conn_type": "http", "extra": "[1]"}}, id="bad-extra"),
        pytest.param({"good": GOOD, "bad": "http://h"}, id="entry-not-an-object"),
        pytest.param({"good": GOOD, "x" * 251: GOOD}, id="id-too-long"),
        pytest.param([{"conn_id": "good", "conn_type": "http"}, {"conn_id": "good"}], id="duplicate-id"),
        pytest.param(["good"], id="not-objects"),
        pytest.param({"good": GOOD, "bad": {"conn_type": "http\r\nX: 1"}}, id="type-with-control-characters"),
        pytest.param({"good": GOOD, "bad": {"conn_type": "my type"}}, id="type-with-a-space"),
        pytest.param({"good": GOOD, "bad": {"host": "h"}}, id="no-type"),
    ],
)
def test_import_of_a_file_with_one_bad_entry_writes_nothing(
    cli_db: Cli, session_factory: sessionmaker[Session], tmp_path: Path, content: object
) -> None:
    file = tmp_path / "connections.json"
    file.write_text(json.dumps(content))

    result = cli_db("connections", "import", str(file))

    one_line_error(result)
    assert _connection_count(session_factory) == 0


@pytest.mark.parametrize("text", ["{not json", ""], ids=["not-json", "empty"])
def test_import_of_a_non_json_file_fails(cli_db: Cli, tmp_path: Path, text: str) -> None:
    file = tmp_path / "connections.json"
    file.write_text(text)

    assert "not valid JSON" in one_line_error(cli_db("connections", "import", str(file)))


def test_import_of_a_missing_file_fails(cli_db: Cli, tmp_path: Path) -> None:
    one_line_error(cli_db("connections", "import", str(tmp_path / "missing.json")))


def test_import_skips_existing_ids_unless_overwrite(cli_db: Cli, tmp_path: Path) -> None:
    # Given a stored connection and a file with a new version of it and another one
    _add_warehouse(cli_db)
    file = tmp_path / "connections.json"
    file.write_text(
        json.dumps({"warehouse": {"conn_type": "postgres", "host": "new-host"}, "api": {"conn_type": "http"}})
    )

    # When the file is imported without, then with --overwrite
    first = cli_db("connections", "import", str(file))
    host_after_first = _get_json(cli_db, "warehouse")["host"]
    second = cli_db("connections", "import", str(file), "--overwrite")

    # Then the first import adds only the new id and says what it skipped; the second replaces
    assert first.exit_code == 0, first.stderr
    assert "warehouse" in first.stderr
    assert host_after_first == "db.example.com"
    assert _get_json(cli_db, "api")["conn_type"] == "http"
    assert second.exit_code == 0, second.stderr
    assert _get_json(cli_db, "warehouse", "--show-secrets")["host"] == "new-host"
    assert _get_json(cli_db, "warehouse", "--show-secrets")["password"] is None


def test_over_long_host_is_refused_alike_on_every_backend(cli_db: Cli, session_factory: sessionmaker[Session]) -> None:
    result = cli_db("connections", "add", "long", "--conn-type", "http", "--conn-host", "h" * 501)

    assert "host of connection 'long' is longer than 500 characters" in one_line_error(result)
    assert _connection_count(session_factory) == 0
