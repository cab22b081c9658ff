"""Bad input that used to get through the CLI: JSON nested deep enough to crash the parser (a
RecursionError traceback), NaN and Infinity (stored, then unreadable by strict JSON clients) and an
unknown `--state`. Each is one `Error:` line, exit 1, and nothing written."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from flowctl.db.models import Connection, DagRun, Variable
from tests.conftest import Cli, one_line_error

DAG_FILE = """
import pendulum
from flowctl import DAG
from flowctl.operators import EmptyOperator

with DAG("plain", schedule=None, start_date=pendulum.datetime(2024, 1, 1)):
    EmptyOperator(task_id="noop")
"""

DEEP = "[" * 5000 + "]" * 5000
NOT_JSON_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e999"]


@pytest.fixture
def dags(home: Path) -> Path:
    folder = home / "dags"
    folder.mkdir(exist_ok=True)
    path = folder / "plain.py"
    path.write_text(textwrap.dedent(DAG_FILE))
    return path


def count(engine: Engine, model: type) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(model))


def strict_loads(text: str) -> object:
    """What a strict JSON client (JavaScript's JSON.parse, Go, Rust's serde) accepts."""

    def refuse(name: str) -> object:
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("conf", ['{"a": ' + DEEP + "}", DEEP], ids=["in-object", "bare"])
def test_trigger_with_a_deeply_nested_conf_is_one_line_naming_the_nesting(
    cli_db: Cli, dags: Path, engine: Engine, conf: str
) -> None:
    error = one_line_error(cli_db("dags", "trigger", "plain", "--conf", conf))

    assert "--conf" in error and "nested" in error
    assert count(engine, DagRun) == 0


@pytest.mark.parametrize("number", NOT_JSON_NUMBERS)
def test_trigger_with_a_number_json_cannot_carry_is_refused_and_creates_no_run(
    cli_db: Cli, dags: Path, engine: Engine, number: str
) -> None:
    error = one_line_error(cli_db("dags", "trigger", "plain", "--conf", '{"x": {"y": [' + number + "]}}"))

    assert "--conf" in error and number.lstrip("-") in error
    assert count(engine, DagRun) == 0


def test_a_conf_at_the_nesting_limit_is_accepted_and_listed_as_strict_json(cli_db: Cli, dags: Path) -> None:
    conf = '{"a": ' + "[" * 99 + "1.5" + "]" * 99 + "}"

    assert cli_db("dags", "trigger", "plain", "--conf", conf).exit_code == 0
    listed = cli_db("dags", "list-runs", "plain", "-o", "json")

    assert strict_loads(listed.stdout)[0]["conf"] == json.loads(conf)


@pytest.mark.parametrize("value", [DEEP, '{"a": NaN}', "[Infinity]"], ids=["deep", "nan", "infinity"])
def test_variables_set_json_refuses_what_json_cannot_carry_and_stores_nothing(
    cli_db: Cli, engine: Engine, value: str
) -> None:
    error = one_line_error(cli_db("variables", "set", "k", value, "--json"))

    assert "'k'" in error
    assert count(engine, Variable) == 0


def test_variables_import_refuses_nan_and_stores_nothing(cli_db: Cli, engine: Engine, tmp_path: Path) -> None:
    file = tmp_path / "variables.json"
    file.write_text('{"good": 1, "bad": NaN}')

    error = one_line_error(cli_db("variables", "import", str(file)))

    assert str(file) in error and "NaN" in error
    assert count(engine, Variable) == 0


def test_a_variable_whose_text_is_nan_is_exported_as_text(cli_db: Cli) -> None:
    assert cli_db("variables", "set", "plain_text", "NaN").exit_code == 0

    exported = cli_db("variables", "export", "-")

    assert strict_loads(exported.stdout) == {"plain_text": "NaN"}


@pytest.mark.parametrize(
    "args",
    [
        ["--conn-type", "http", "--conn-extra", '{"timeout": NaN}'],
        ["--conn-type", "http", "--conn-extra", '{"a": ' + DEEP + "}"],
        ["--conn-json", '{"conn_type": "http", "extra": {"timeout": -Infinity}}'],
        ["--conn-json", '{"conn_type": "http", "extra": ' + DEEP + "}"],
        ["--conn-json", '{"conn_type": "http", "extra": "{\\"a\\": Infinity}"}'],
    ],
    ids=["extra-nan", "extra-deep", "json-infinity", "json-deep", "json-extra-text-infinity"],
)
def test_connections_add_refuses_extras_json_cannot_carry_and_stores_nothing(
    cli_db: Cli, engine: Engine, args: list[str]
) -> None:
    error = one_line_error(cli_db("connections", "add", "api", *args))

    assert "'api'" in error
    assert count(engine, Connection) == 0


@pytest.mark.parametrize("state", ["bogus", "RUNNING", ""])
def test_list_runs_with_an_unknown_state_is_one_line_naming_the_valid_states(
    cli_db: Cli, dags: Path, state: str
) -> None:
    error = one_line_error(cli_db("dags", "list-runs", "plain", "--state", state))

    assert repr(state) in error
    assert all(name in error for name in ("queued", "running", "success", "failed"))
