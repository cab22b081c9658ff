"""The Airflow CLI names users type: `db migrate`, `dags trigger -e`, `tasks failed-deps`, `info`,
`-o yaml` everywhere `-o` is taken, and `dags show --save FILE` (.svg, .dot; .png refused in one line)."""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Cli, one_line_error

DAGS = """
import pendulum
from flowctl import DAG, TaskGroup
from flowctl.operators import BashOperator, EmptyOperator

with DAG(
    "etl",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1),
    catchup=False,
    default_args={"owner": "data"},
    tags=["nightly"],
):
    extract = BashOperator(task_id="extract", bash_command="echo extract")
    with TaskGroup("load"):
        rows = EmptyOperator(task_id="rows")
    publish = EmptyOperator(task_id="publish", pool="reports")
    extract >> rows >> publish
"""

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def dags(home: Path) -> Path:
    folder = home / "dags"
    folder.mkdir(exist_ok=True)
    path = folder / "etl.py"
    path.write_text(textwrap.dedent(DAGS))
    return path


def ok(cli: Cli, *args: str, env: dict[str, str] | None = None) -> str:
    result = cli(*args, env=env)
    assert result.exit_code == 0, result
    return result.stdout


# --- db migrate, dags trigger -e -------------------------------------------------------------------


def test_db_migrate_brings_the_schema_to_the_latest_revision_as_upgrade_does(cli_db: Cli) -> None:
    ok(cli_db, "db", "downgrade", "--to-revision", "base", "-y")
    assert cli_db("db", "check").exit_code == 1

    migrated = ok(cli_db, "db", "migrate")

    assert "revision" in migrated
    assert "reachable and at revision" in ok(cli_db, "db", "check")


def test_trigger_takes_the_logical_date_as_e_like_airflow(cli_db: Cli, dags: Path) -> None:
    run = json.loads(ok(cli_db, "dags", "trigger", "etl", "-e", "2024-03-01T06:00:00+00:00", "-o", "json"))

    assert run["logical_date"] == "2024-03-01T06:00:00+00:00"


# --- tasks failed-deps ------------------------------------------------------------------------------


def started_run(session_factory: sessionmaker[Session], states: dict[str, str]) -> str:
    """A run of etl started as the scheduler starts one, with these task states."""
    from sqlalchemy import select

    from flowctl.db.models import TaskInstance
    from flowctl.scheduler.runs import DagVersions, start_run
    from flowctl.services.actor import Actor
    from flowctl.services.runs import trigger_dag

    now = datetime.now(UTC)
    with session_factory.begin() as session:
        run = trigger_dag(session, "etl", actor=Actor("test", now), run_id="r1")
        start_run(session, run, DagVersions(), now=now)
        session.flush()
        for ti in session.scalars(select(TaskInstance).where(TaskInstance.run_id == "r1")):
            if ti.task_id in states:
                ti.state = states[ti.task_id]
        return run.run_id


def failed_deps(cli: Cli, task_id: str, run_id: str = "r1") -> list[str]:
    return ok(cli, "tasks", "failed-deps", "etl", task_id, run_id).splitlines()


def test_failed_deps_names_the_upstream_task_and_what_holds_the_dag_back(
    cli_db: Cli, dags: Path, session_factory: sessionmaker[Session]
) -> None:
    ok(cli_db, "dags", "list")
    started_run(session_factory, {"extract": "running"})

    lines = failed_deps(cli_db, "load.rows")

    assert lines[:2] == ["Task instance load.rows of run r1: none", "Why isn't it running?"]
    assert any("extract" in line and "trigger rule" in line for line in lines), lines
    assert "- the DAG is paused: unpause it to let the scheduler run its tasks" in lines
    assert "- no scheduler is heartbeating: start one with `flowctl scheduler`" in lines


def test_failed_deps_names_a_missing_pool_once_dependencies_are_met(
    cli_db: Cli, dags: Path, session_factory: sessionmaker[Session]
) -> None:
    ok(cli_db, "dags", "list")
    started_run(session_factory, {"extract": "success", "load.rows": "success", "publish": "scheduled"})

    lines = failed_deps(cli_db, "publish")

    assert "- pool 'reports' does not exist: create it or change the task's pool" in lines


def test_failed_deps_of_a_queued_run_says_the_run_waits(cli_db: Cli, dags: Path) -> None:
    ok(cli_db, "dags", "trigger", "etl", "-r", "later")

    lines = failed_deps(cli_db, "extract", "later")

    assert "- the run is queued (at most 16 active runs of this DAG at a time)" in lines


def test_failed_deps_of_a_finished_task_says_how_to_run_it_again(
    cli_db: Cli, dags: Path, session_factory: sessionmaker[Session]
) -> None:
    ok(cli_db, "dags", "list")
    started_run(session_factory, {"extract": "success"})

    lines = failed_deps(cli_db, "extract")

    assert lines[0] == "Task instance extract of run r1: success"
    assert "flowctl tasks clear etl -t '^extract$' --run-id r1" in lines[1]


@pytest.mark.parametrize(
    ("args", "named"),
    [(["nope", "extract", "r1"], "nope"), (["etl", "extract", "nope"], "nope"), (["etl", "nope", "r1"], "nope")],
)
def test_failed_deps_of_something_unknown_is_one_line_naming_it(
    cli_db: Cli, dags: Path, session_factory: sessionmaker[Session], args: list[str], named: str
) -> None:
    ok(cli_db, "dags", "list")
    started_run(session_factory, {})

    assert named in one_line_error(cli_db("tasks", "failed-deps", *args))


# --- info -------------------------------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_info_describes_the_installation_without_reaching_the_db_or_showing_its_password(cli: Cli, home: Path) -> None:
    down = {"FLOWCTL__CORE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://flow:s3cret-pw@127.0.0.1:1/flowctl"}

    table = ok(cli, "info", env=down)
    facts = json.loads(ok(cli, "info", "-o", "json", env=down))

    assert "s3cret-pw" not in table and "s3cret-pw" not in json.dumps(facts)
    assert facts["sql_alchemy_conn"] == "postgresql+psycopg2://flow:***@127.0.0.1:1/flowctl"
    assert facts["db_dialect"] == "postgresql"
    assert facts["flowctl_home"] == str(home) and facts["dags_folder"] == str(home / "dags")
    assert facts["executor"] == "local" and facts["plugins"] >= 0
    assert facts["python_version"].count(".") == 2 and facts["platform"]
    assert len(table.splitlines()) == len(facts) <= 24  # one screen


@pytest.mark.sqlite_only
def test_top_level_help_lists_info(cli: Cli) -> None:
    assert any(line.split()[:1] == ["info"] for line in ok(cli, "--help").splitlines())


# --- -o yaml ----------------------------------------------------------------------------------------


def commands_taking_output() -> list[tuple[str, click.Command]]:
    from flowctl.cli.main import cli

    found = []

    def walk(path: str, command: click.Command) -> None:
        if isinstance(command, click.Group):
            context = click.Context(command)
            for name in command.list_commands(context):
                walk(f"{path} {name}".strip(), command.get_command(context, name))  # type: ignore[arg-type]
        elif any("-o" in param.opts for param in command.params if isinstance(param, click.Option)):
            found.append((path, command))

    walk("", cli)
    return found


@pytest.mark.sqlite_only
def test_every_command_taking_o_offers_yaml() -> None:
    commands = commands_taking_output()

    assert len(commands) >= 12
    for path, command in commands:
        (option,) = [p for p in command.params if isinstance(p, click.Option) and "-o" in p.opts]
        assert "yaml" in option.type.choices, path  # type: ignore[attr-defined]


YAML_COMMANDS = [
    ["dags", "list"],
    ["dags", "list-runs", "etl"],
    ["dags", "next-execution", "etl", "-n", "2"],
    ["tasks", "states-for-dag-run", "etl", "r1"],
    ["variables", "list"],
    ["connections", "get", "api"],
    ["pools", "list"],
    ["info"],
]


def test_yaml_output_carries_the_same_data_as_json(
    cli_db: Cli, dags: Path, session_factory: sessionmaker[Session]
) -> None:
    ok(cli_db, "dags", "list")
    started_run(session_factory, {"extract": "success"})
    ok(cli_db, "variables", "set", "k", "v")
    ok(cli_db, "connections", "add", "api", "--conn-type", "http", "--conn-host", "example.com", "--conn-port", "8080")

    for args in YAML_COMMANDS:
        as_json = json.loads(ok(cli_db, *args, "-o", "json"))
        as_yaml: Any = yaml.safe_load(ok(cli_db, *args, "-o", "yaml"))
        assert as_yaml == as_json, args
    trigger = yaml.safe_load(ok(cli_db, "dags", "trigger", "etl", "-r", "by_yaml", "-o", "yaml"))
    assert trigger["run_id"] == "by_yaml" and trigger["state"] == "queued"


# --- dags show --save -------------------------------------------------------------------------------


def test_show_save_dot_writes_the_dot_text(cli_db: Cli, dags: Path, tmp_path: Path) -> None:
    target = tmp_path / "etl.dot"

    saved = ok(cli_db, "dags", "show", "etl", "--save", str(target))

    assert str(target) in saved
    assert target.read_text() == ok(cli_db, "dags", "show", "etl", "--format", "dot")


@pytest.mark.sqlite_only
def test_show_save_svg_draws_every_task_and_dependency_in_a_standalone_file(
    cli_db: Cli, dags: Path, tmp_path: Path
) -> None:
    target = tmp_path / "etl.SVG"

    ok(cli_db, "dags", "show", "etl", "--save", str(target))

    root = ET.parse(target).getroot()
    nodes = {g.get("data-task-id") for g in root.iter(f"{SVG}g") if g.get("data-task-id")}
    edges = {(p.get("data-from"), p.get("data-to")) for p in root.iter(f"{SVG}path") if p.get("data-from")}
    groups = {g.get("data-group-id") for g in root.iter(f"{SVG}g") if g.get("data-group-id")}
    assert root.tag == f"{SVG}svg"
    assert nodes == {"extract", "load.rows", "publish"}
    assert edges == {("extract", "load.rows"), ("load.rows", "publish")}
    assert groups == {"load"}
    assert ".edge { fill: none" in root.find(f"{SVG}style").text  # type: ignore[union-attr]


@pytest.mark.sqlite_only
@pytest.mark.parametrize(("name", "named"), [("etl.png", "dot -Tpng etl.dot -o etl.png"), ("etl.pdf", ".svg")])
def test_show_save_refuses_a_format_it_cannot_write_in_one_line_and_writes_nothing(
    cli_db: Cli, dags: Path, tmp_path: Path, name: str, named: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()

    error = one_line_error(cli_db("dags", "show", "etl", "--save", str(out / name)))

    assert named in error
    assert list(out.iterdir()) == []
