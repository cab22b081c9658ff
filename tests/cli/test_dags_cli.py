"""`flowctl dags ...` and `flowctl tasks list|render` on every backend: the JSON shapes of SPEC §5,
pausing, graphs as text and DOT, upcoming logical dates, and rendered templates."""

from __future__ import annotations

import json
import textwrap
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cli, one_line_error

LIST_KEYS = ["dag_id", "fileloc", "owners", "is_paused", "schedule", "tags", "next_dagrun"]

# Three DAGs, one per kind of schedule; catchup with a past start date makes next_dagrun fixed.
SHAPES = """
from datetime import timedelta

import pendulum

from flowctl import DAG, Label
from flowctl.operators import BashOperator, EmptyOperator

with DAG(
    "seoul",
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2024, 1, 1, tz="Asia/Seoul"),
    catchup=True,
    default_args={"owner": "data"},
    tags=["reports", "finance"],
):
    report = BashOperator(task_id="report", bash_command="echo {{ ds }}", env={"DAY": "{{ ds_nodash }}"})
    load = EmptyOperator(task_id="load")
    audit = EmptyOperator(task_id="audit", owner="ops")
    publish = EmptyOperator(task_id="publish")
    report >> Label("then") >> load >> publish
    report >> audit >> publish

with DAG("every_ten", schedule=timedelta(minutes=10), start_date=pendulum.datetime(2024, 1, 1), catchup=True):
    EmptyOperator(task_id="tick")

with DAG("manual", schedule=None):
    EmptyOperator(task_id="by_hand")
"""


@pytest.fixture
def dags_folder(home: Path) -> Path:
    folder = home / "dags"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture
def shapes(dags_folder: Path) -> Path:
    path = dags_folder / "shapes.py"
    path.write_text(SHAPES)
    return path


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return path


def run_json(cli: Cli, *args: str, env: dict[str, str] | None = None) -> Any:
    result = cli(*args, "-o", "json", env=env)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def dags_by_id(cli: Cli, env: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    return {row["dag_id"]: row for row in run_json(cli, "dags", "list", env=env)}


def output_lines(cli: Cli, *args: str) -> list[str]:
    result = cli(*args)
    assert result.exit_code == 0, result.stderr
    return result.stdout.splitlines()


# dags list / list-import-errors


def test_dags_list_json_has_the_spec_columns_and_value_shapes(cli_db: Cli, shapes: Path) -> None:
    rows = run_json(cli_db, "dags", "list")

    assert all(list(row) == LIST_KEYS for row in rows)
    assert rows == [
        {
            "dag_id": "every_ten",
            "fileloc": str(shapes),
            "owners": ["flowctl"],
            "is_paused": True,
            "schedule": "PT10M",
            "tags": [],
            "next_dagrun": "2024-01-01T00:00:00+00:00",
        },
        {
            "dag_id": "manual",
            "fileloc": str(shapes),
            "owners": ["flowctl"],
            "is_paused": True,
            "schedule": None,
            "tags": [],
            "next_dagrun": None,
        },
        {
            "dag_id": "seoul",
            "fileloc": str(shapes),
            "owners": ["data", "ops"],
            "is_paused": True,
            "schedule": "0 2 * * *",
            "tags": ["finance", "reports"],
            "next_dagrun": "2023-12-31T17:00:00+00:00",
        },
    ]


@pytest.mark.parametrize("output", ["table", "plain"])
def test_dags_list_shows_owners_and_tags_comma_separated_in_text_output(cli_db: Cli, shapes: Path, output: str) -> None:
    (line,) = [line for line in output_lines(cli_db, "dags", "list", "-o", output) if line.startswith("seoul")]
    cells = [cell.strip() for cell in line.split("|" if output == "table" else "\t")]

    assert cells[2] == "data, ops" and cells[5] == "finance, reports"
    assert "[" not in line and '"' not in line


def test_dags_list_shows_presets_as_written(cli_db: Cli, dags_folder: Path) -> None:
    write(
        dags_folder,
        "preset.py",
        """
        from flowctl import DAG
        from flowctl.operators import EmptyOperator

        with DAG("preset", schedule="@daily"):
            EmptyOperator(task_id="a")
        """,
    )

    assert dags_by_id(cli_db)["preset"]["schedule"] == "@daily"


def test_dags_list_json_is_an_empty_array_without_dags(cli_db: Cli, dags_folder: Path) -> None:
    assert run_json(cli_db, "dags", "list") == []


def test_list_import_errors_json_has_filename_and_error(cli_db: Cli, dags_folder: Path) -> None:
    broken = write(
        dags_folder,
        "broken.py",
        """
        # a dag file
        raise ValueError("missing setting")
        """,
    )

    rows = run_json(cli_db, "dags", "list-import-errors")

    assert [list(row) for row in rows] == [["filename", "error"]]
    assert rows[0]["filename"] == str(broken)
    assert "ValueError: missing setting" in rows[0]["error"]


def test_reserialize_exits_0_and_records_broken_files_as_import_errors(
    cli_db: Cli, shapes: Path, dags_folder: Path
) -> None:
    write(dags_folder, "broken.py", "# a dag file\ndef broken(:\n")

    result = cli_db("dags", "reserialize")

    assert result.exit_code == 0, result.stderr
    assert sorted(dags_by_id(cli_db)) == ["every_ten", "manual", "seoul"]
    assert [Path(row["filename"]).name for row in run_json(cli_db, "dags", "list-import-errors")] == ["broken.py"]


# pausing


def test_new_dags_are_paused_by_default(cli_db: Cli, shapes: Path) -> None:
    assert {dag_id: row["is_paused"] for dag_id, row in dags_by_id(cli_db).items()} == {
        "every_ten": True,
        "manual": True,
        "seoul": True,
    }


def test_new_dags_start_unpaused_when_the_configuration_says_so(cli_db: Cli, shapes: Path) -> None:
    rows = dags_by_id(cli_db, env={"FLOWCTL__CORE__DAGS_ARE_PAUSED_AT_CREATION": "false"})

    assert {row["is_paused"] for row in rows.values()} == {False}


def test_is_paused_upon_creation_in_the_dag_file_wins_over_the_configuration(cli_db: Cli, dags_folder: Path) -> None:
    write(
        dags_folder,
        "eager.py",
        """
        from flowctl import DAG
        from flowctl.operators import EmptyOperator

        with DAG("eager", schedule=None, is_paused_upon_creation=False):
            EmptyOperator(task_id="a")
        """,
    )

    assert dags_by_id(cli_db)["eager"]["is_paused"] is False


def test_pause_and_unpause_toggle_is_paused(cli_db: Cli, shapes: Path) -> None:
    unpaused = cli_db("dags", "unpause", "seoul")
    assert unpaused.exit_code == 0, unpaused.stderr
    assert dags_by_id(cli_db)["seoul"]["is_paused"] is False

    paused = cli_db("dags", "pause", "seoul")

    assert paused.exit_code == 0, paused.stderr
    assert dags_by_id(cli_db)["seoul"]["is_paused"] is True


def test_an_unpaused_dag_stays_unpaused_when_its_file_changes(cli_db: Cli, shapes: Path) -> None:
    assert cli_db("dags", "unpause", "seoul").exit_code == 0

    shapes.write_text(SHAPES.replace('owner="ops"', 'owner="ops2"'))

    assert dags_by_id(cli_db)["seoul"]["is_paused"] is False
    assert cli_db("dags", "reserialize").exit_code == 0
    assert dags_by_id(cli_db)["seoul"]["is_paused"] is False


def test_existing_dags_keep_their_pause_state_when_the_creation_default_changes(cli_db: Cli, shapes: Path) -> None:
    assert dags_by_id(cli_db)["seoul"]["is_paused"] is True

    assert cli_db("dags", "reserialize", env={"FLOWCTL__CORE__DAGS_ARE_PAUSED_AT_CREATION": "false"}).exit_code == 0

    assert dags_by_id(cli_db)["seoul"]["is_paused"] is True


@pytest.mark.parametrize("command", ["pause", "unpause"])
def test_pausing_an_unknown_dag_is_a_one_line_error_naming_it(cli_db: Cli, shapes: Path, command: str) -> None:
    assert "'nope'" in one_line_error(cli_db("dags", command, "nope"))


# graphs


def test_dags_show_prints_each_task_with_its_downstream_tasks(cli_db: Cli, shapes: Path) -> None:
    lines = output_lines(cli_db, "dags", "show", "seoul")

    assert "seoul" in lines[0] and "0 2 * * *" in lines[0]
    assert [line.strip() for line in lines[1:]] == [
        "report >> audit, load",
        "load >> publish",
        "audit >> publish",
    ]


def test_dags_show_dot_is_a_graphviz_digraph_with_labelled_edges(cli_db: Cli, shapes: Path) -> None:
    result = cli_db("dags", "show", "seoul", "--format", "dot")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith('digraph "seoul" {')
    assert result.stdout.rstrip().endswith("}")
    assert '"report" -> "load" [label="then"];' in result.stdout
    assert '"report" -> "audit";' in result.stdout
    assert '"load" -> "publish";' in result.stdout
    assert '"audit" -> "publish";' in result.stdout


def test_dags_show_of_an_unknown_dag_is_a_one_line_error(cli_db: Cli, shapes: Path) -> None:
    assert "'nope'" in one_line_error(cli_db("dags", "show", "nope"))


def test_tasks_list_prints_task_ids_in_dependency_order(cli_db: Cli, dags_folder: Path) -> None:
    write(
        dags_folder,
        "backwards.py",
        """
        from flowctl import DAG
        from flowctl.operators import EmptyOperator

        with DAG("backwards", schedule=None):
            load = EmptyOperator(task_id="load")
            transform = EmptyOperator(task_id="transform")
            extract = EmptyOperator(task_id="extract")
            extract >> transform >> load
        """,
    )

    assert output_lines(cli_db, "tasks", "list", "backwards") == ["extract", "transform", "load"]


def test_tasks_list_tree_indents_downstream_tasks_under_each_upstream(cli_db: Cli, shapes: Path) -> None:
    assert output_lines(cli_db, "tasks", "list", "seoul", "--tree") == [
        "<Task(BashOperator): report>",
        "    <Task(EmptyOperator): audit>",
        "        <Task(EmptyOperator): publish>",
        "    <Task(EmptyOperator): load>",
        "        <Task(EmptyOperator): publish>",
    ]


def test_tasks_list_of_an_unknown_dag_is_a_one_line_error(cli_db: Cli, shapes: Path) -> None:
    assert "'nope'" in one_line_error(cli_db("tasks", "list", "nope"))


# next-execution


def test_next_execution_prints_the_next_logical_dates_in_utc_following_the_cron_in_the_dag_zone(
    cli_db: Cli, shapes: Path
) -> None:
    lines = output_lines(cli_db, "dags", "next-execution", "seoul", "-n", "3")

    # 02:00 in Seoul is 17:00 UTC the day before
    assert lines == [
        "2023-12-31T17:00:00+00:00",
        "2024-01-01T17:00:00+00:00",
        "2024-01-02T17:00:00+00:00",
    ]


def test_next_execution_json_is_a_list_of_strictly_increasing_iso_strings(cli_db: Cli, shapes: Path) -> None:
    dates = run_json(cli_db, "dags", "next-execution", "every_ten", "-n", "3")

    assert dates == ["2024-01-01T00:00:00+00:00", "2024-01-01T00:10:00+00:00", "2024-01-01T00:20:00+00:00"]
    parsed = [datetime.fromisoformat(value) for value in dates]
    assert parsed == sorted(set(parsed))


def test_next_execution_of_a_dag_without_schedule_is_empty(cli_db: Cli, shapes: Path) -> None:
    assert run_json(cli_db, "dags", "next-execution", "manual", "-n", "3") == []


def test_next_execution_of_an_unknown_dag_is_a_one_line_error(cli_db: Cli, shapes: Path) -> None:
    assert "'nope'" in one_line_error(cli_db("dags", "next-execution", "nope"))


# tasks render


def test_tasks_render_prints_each_template_field_rendered_for_the_date(cli_db: Cli, shapes: Path) -> None:
    result = cli_db("tasks", "render", "seoul", "report", "2024-03-01")

    assert result.exit_code == 0, result.stderr
    assert "bash_command" in result.stdout and "env" in result.stdout
    assert "echo 2024-03-01" in result.stdout.splitlines()
    assert "20240301" in result.stdout
    assert "{{" not in result.stdout


SECRETS_DAG = """
import pendulum
from flowctl import DAG
from flowctl.operators import BashOperator

with DAG("secrets", schedule=None, start_date=pendulum.datetime(2024, 1, 1)):
    BashOperator(
        task_id="connect",
        bash_command="login {{ var.value.db_password }} {{ conn.warehouse.password }} at {{ var.value.region }}",
        env={"TOKEN": "{{ conn.envapi.password }}"},
    )
"""


def test_tasks_render_prints_sensitive_variables_and_connection_passwords_as_stars(
    cli_db: Cli, dags_folder: Path
) -> None:
    # Given a sensitive variable, a plain one, a stored connection and one from the environment
    write(dags_folder, "secrets.py", SECRETS_DAG)
    assert cli_db("variables", "set", "db_password", "hunter2-rendered").exit_code == 0
    assert cli_db("variables", "set", "region", "eu-west-1").exit_code == 0
    uri = "postgresql://etl:W4rehouse-pw@db.example.com:5432/dw"
    assert cli_db("connections", "add", "warehouse", "--conn-uri", uri).exit_code == 0
    environment = {"FLOWCTL_CONN_ENVAPI": "http://robot:Env-api-pw-1@api.example.com"}

    # When a task using them is rendered
    result = cli_db("tasks", "render", "secrets", "connect", "2024-03-01", env=environment)

    # Then every secret prints as *** like everywhere else, and the rest as it is
    assert result.exit_code == 0, result.stderr
    assert "login *** *** at eu-west-1" in result.stdout.splitlines()
    assert "'TOKEN': '***'" in result.stdout
    for secret in ("hunter2-rendered", "W4rehouse-pw", "Env-api-pw-1"):
        assert secret not in result.stdout + result.stderr


def test_tasks_render_of_a_bad_date_is_a_one_line_error_naming_it(cli_db: Cli, shapes: Path) -> None:
    assert "2024-13-01" in one_line_error(cli_db("tasks", "render", "seoul", "report", "2024-13-01"))


def test_tasks_render_of_an_unknown_task_is_a_one_line_error_naming_it(cli_db: Cli, shapes: Path) -> None:
    assert "'nope'" in one_line_error(cli_db("tasks", "render", "seoul", "nope", "2024-03-01"))


def test_tasks_render_of_an_unknown_dag_is_a_one_line_error_naming_it(cli_db: Cli, shapes: Path) -> None:
    assert "'nope'" in one_line_error(cli_db("tasks", "render", "nope", "report", "2024-03-01"))


def test_tasks_render_of_a_dag_whose_file_broke_is_a_one_line_error(cli_db: Cli, shapes: Path) -> None:
    assert run_json(cli_db, "dags", "list")  # parsed while healthy

    shapes.write_text(SHAPES + '\nraise RuntimeError("now broken")\n')

    assert "now broken" in one_line_error(cli_db("tasks", "render", "seoul", "report", "2024-03-01"))


def test_tasks_render_of_a_dag_whose_file_was_deleted_is_a_one_line_error(cli_db: Cli, shapes: Path) -> None:
    assert run_json(cli_db, "dags", "list")

    shapes.unlink()

    assert "'seoul'" in one_line_error(cli_db("tasks", "render", "seoul", "report", "2024-03-01"))
