"""`flowctl variables ...` on every backend: set/get/list/delete, JSON values, masking, import/export."""

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

SECRET = "var-canary-93be07"


def _variable_count(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(models.Variable)) or 0


def _set(cli: Cli, key: str, value: str, *flags: str) -> None:
    result = cli("variables", "set", key, value, *flags)
    assert result.exit_code == 0, result.stderr


def _get(cli: Cli, key: str, env: dict[str, str] | None = None) -> str:
    result = cli("variables", "get", key, env=env)
    assert result.exit_code == 0, result.stderr
    return result.stdout.removesuffix("\n")


def _fresh_sqlite_env(tmp_path: Path) -> dict[str, str]:
    """Settings for another, empty metadata DB with its own fernet key."""
    return {
        "FLOWCTL__CORE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'fresh.db'}",
        "FLOWCTL__CORE__FERNET_KEY": Fernet.generate_key().decode(),
    }


# --- set, get, list, delete ------------------------------------------------------------------------------


def test_set_then_get_prints_the_value(cli_db: Cli) -> None:
    _set(cli_db, "greeting", "hello world")

    assert _get(cli_db, "greeting") == "hello world"


def test_set_of_an_existing_key_replaces_its_value(cli_db: Cli, session_factory: sessionmaker[Session]) -> None:
    _set(cli_db, "greeting", "hello")
    _set(cli_db, "greeting", "bonjour")

    assert _get(cli_db, "greeting") == "bonjour"
    assert _variable_count(session_factory) == 1


def test_set_accepts_a_negative_number_as_value(cli_db: Cli) -> None:
    result = cli_db("variables", "set", "offset_hours", "-5")

    assert result.exit_code == 0, result.stderr
    assert _get(cli_db, "offset_hours") == "-5"


def test_list_shows_every_key_with_its_value(cli_db: Cli) -> None:
    _set(cli_db, "b_region", "eu-west-1")
    _set(cli_db, "a_bucket", "logs")

    table = cli_db("variables", "list")
    as_json = cli_db("variables", "list", "-o", "json")

    assert "eu-west-1" in table.stdout and "logs" in table.stdout
    assert json.loads(as_json.stdout) == [
        {"key": "a_bucket", "value": "logs"},
        {"key": "b_region", "value": "eu-west-1"},
    ]


def test_list_json_of_no_variables_is_an_empty_array(cli_db: Cli) -> None:
    assert json.loads(cli_db("variables", "list", "-o", "json").stdout) == []


def test_delete_removes_the_variable(cli_db: Cli, session_factory: sessionmaker[Session]) -> None:
    _set(cli_db, "greeting", "hello")

    result = cli_db("variables", "delete", "greeting")

    assert result.exit_code == 0, result.stderr
    assert _variable_count(session_factory) == 0


def test_delete_of_an_unknown_key_fails(cli_db: Cli) -> None:
    assert "nope" in one_line_error(cli_db("variables", "delete", "nope"))


def test_get_of_an_unknown_key_fails(cli_db: Cli) -> None:
    result = cli_db("variables", "get", "nope")

    assert "no variable 'nope'" in one_line_error(result)
    assert result.stdout == ""


def test_get_of_an_unknown_key_with_default_prints_the_default(cli_db: Cli) -> None:
    _set(cli_db, "present", "stored")

    missing = cli_db("variables", "get", "missing", "--default", "fallback")
    present = cli_db("variables", "get", "present", "--default", "fallback")

    assert (missing.exit_code, missing.stdout) == (0, "fallback\n")
    assert (present.exit_code, present.stdout) == (0, "stored\n")


# --- JSON values -------------------------------------------------------------------------------------


def test_set_json_stores_the_value_and_get_json_pretty_prints_it(cli_db: Cli) -> None:
    value = {"tables": ["orders", "users"], "limit": 10, "dry_run": None}

    _set(cli_db, "etl_config", json.dumps(value, separators=(",", ":")), "--json")
    plain = _get(cli_db, "etl_config")
    pretty = cli_db("variables", "get", "etl_config", "--json")

    assert json.loads(plain) == value
    assert pretty.stdout == json.dumps(value, indent=2) + "\n"


@pytest.mark.parametrize("value", ["{not json", "", "{'single': 'quotes'}"], ids=["broken", "empty", "quotes"])
def test_set_json_of_invalid_json_fails_and_writes_nothing(
    cli_db: Cli, session_factory: sessionmaker[Session], value: str
) -> None:
    result = cli_db("variables", "set", "etl_config", value, "--json")

    assert "not valid JSON" in one_line_error(result)
    assert _variable_count(session_factory) == 0


def test_get_json_of_a_value_that_is_not_json_fails(cli_db: Cli) -> None:
    _set(cli_db, "greeting", "hello")

    assert "not JSON" in one_line_error(cli_db("variables", "get", "greeting", "--json"))


# --- secrets ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("output", ["table", "json", "plain"])
def test_list_masks_secret_looking_keys_unless_show_secrets(cli_db: Cli, output: str) -> None:
    _set(cli_db, "db_password", SECRET)
    _set(cli_db, "api_token", SECRET)
    _set(cli_db, "region", "eu-west-1")

    masked = cli_db("variables", "list", "-o", output)
    shown = cli_db("variables", "list", "-o", output, "--show-secrets")

    assert SECRET not in masked.stdout
    assert masked.stdout.count("***") == 2
    assert "eu-west-1" in masked.stdout
    assert shown.stdout.count(SECRET) == 2


def test_value_is_encrypted_in_the_db_row(cli_db: Cli, session_factory: sessionmaker[Session]) -> None:
    _set(cli_db, "db_password", SECRET)

    with session_factory() as session:
        row = session.scalars(select(models.Variable)).one()

    assert row.key == "db_password"
    assert row.val is not None and SECRET not in row.val


# --- import / export -----------------------------------------------------------------------------------


def test_import_sets_every_key_and_stores_non_string_values_as_json(cli_db: Cli, tmp_path: Path) -> None:
    file = tmp_path / "variables.json"
    file.write_text(
        json.dumps(
            {
                "text": "plain words",
                "count": 42,
                "ratio": 1.5,
                "enabled": True,
                "nothing": None,
                "config": {"tables": ["a", "b"]},
                "items": [1, "two"],
            }
        )
    )

    result = cli_db("variables", "import", str(file))

    assert result.exit_code == 0, result.stderr
    assert "7" in result.stdout
    assert _get(cli_db, "text") == "plain words"
    assert _get(cli_db, "count") == "42"
    assert _get(cli_db, "ratio") == "1.5"
    assert _get(cli_db, "enabled") == "true"
    assert _get(cli_db, "nothing") == "null"
    assert json.loads(_get(cli_db, "config")) == {"tables": ["a", "b"]}
    assert json.loads(_get(cli_db, "items")) == [1, "two"]


def test_import_replaces_existing_values(cli_db: Cli, tmp_path: Path) -> None:
    _set(cli_db, "region", "us-east-1")
    file = tmp_path / "variables.json"
    file.write_text(json.dumps({"region": "eu-west-1"}))

    assert cli_db("variables", "import", str(file)).exit_code == 0

    assert _get(cli_db, "region") == "eu-west-1"


def test_export_writes_an_owner_only_json_object(cli_db: Cli, tmp_path: Path) -> None:
    _set(cli_db, "db_password", SECRET)
    _set(cli_db, "etl_config", '{"limit": 10}', "--json")
    file = tmp_path / "variables.json"

    result = cli_db("variables", "export", str(file))

    assert result.exit_code == 0, result.stderr
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert json.loads(file.read_text()) == {"db_password": SECRET, "etl_config": {"limit": 10}}


def test_export_then_import_into_a_fresh_db_round_trips(cli_db: Cli, tmp_path: Path) -> None:
    # Given variables set as text, as JSON and imported as JSON values
    _set(cli_db, "greeting", "hello world")
    _set(cli_db, "etl_config", '{"limit": 10, "tables": ["a"]}', "--json")
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"count": 42, "enabled": False, "items": [1, None]}))
    assert cli_db("variables", "import", str(seed)).exit_code == 0
    exported = tmp_path / "variables.json"
    assert cli_db("variables", "export", str(exported)).exit_code == 0

    # When the export is imported into another DB
    fresh = _fresh_sqlite_env(tmp_path)
    assert cli_db("db", "init", env=fresh).exit_code == 0
    imported = cli_db("variables", "import", str(exported), env=fresh)

    # Then every variable has the same value there
    assert imported.exit_code == 0, imported.stderr
    before = cli_db("variables", "list", "-o", "json", "--show-secrets")
    after = cli_db("variables", "list", "-o", "json", "--show-secrets", env=fresh)
    assert json.loads(after.stdout) == json.loads(before.stdout)
    assert len(json.loads(after.stdout)) == 5


def test_export_then_import_keeps_text_values_exactly(cli_db: Cli, tmp_path: Path) -> None:
    # Given values that parse as JSON, but are not in the form the export's JSON writer gives them
    values = {"python_version": "3.10", "padded": " 7", "compact": '{"a":1}', "unsorted": '{"b": 1, "a": 2}'}
    for key, value in values.items():
        _set(cli_db, key, value)
    exported = tmp_path / "variables.json"
    assert cli_db("variables", "export", str(exported)).exit_code == 0

    # When the export is imported into another DB
    fresh = _fresh_sqlite_env(tmp_path)
    assert cli_db("db", "init", env=fresh).exit_code == 0
    assert cli_db("variables", "import", str(exported), env=fresh).exit_code == 0

    # Then each value reads back exactly as it was set
    assert {key: _get(cli_db, key, env=fresh) for key in values} == values


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('["a", "b"]', id="array"),
        pytest.param('"just a string"', id="string"),
        pytest.param("42", id="number"),
        pytest.param("{not json", id="not-json"),
        pytest.param("", id="empty"),
        pytest.param(json.dumps({"good": "value", "k" * 251: "key too long"}), id="key-too-long"),
        pytest.param(json.dumps({"good": "value", "": "empty key"}), id="empty-key"),
    ],
)
def test_import_of_a_bad_file_fails_and_writes_nothing(
    cli_db: Cli, session_factory: sessionmaker[Session], tmp_path: Path, text: str
) -> None:
    file = tmp_path / "variables.json"
    file.write_text(text)

    one_line_error(cli_db("variables", "import", str(file)))

    assert _variable_count(session_factory) == 0


def test_import_of_a_missing_file_fails(cli_db: Cli, tmp_path: Path) -> None:
    one_line_error(cli_db("variables", "import", str(tmp_path / "missing.json")))
