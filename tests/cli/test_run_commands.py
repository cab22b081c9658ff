"""Run commands on every backend, without a scheduler: `dags trigger|list-runs|state|test|delete` and
`tasks states-for-dag-run|state|clear|run|test|logs`. `dags test` makes the recorded runs: it executes
in this process. The JSON shapes are SPEC §5's."""

from __future__ import annotations

import json
import re
import textwrap
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from flowctl.db.models import Base, DagRun, TaskInstance
from tests.conftest import Cli, CliResult, one_line_error

TRIGGER_KEYS = ["dag_id", "run_id", "logical_date", "state"]
RUN_KEYS = [
    "dag_id",
    "run_id",
    "run_type",
    "state",
    "logical_date",
    "data_interval_start",
    "data_interval_end",
    "start_date",
    "end_date",
    "conf",
]
TI_KEYS = ["task_id", "map_index", "state", "try_number", "start_date", "end_date", "duration"]

# chain: XCom flows a -> b through a template. flaky: `fails` fails both of its tries (0.1 s apart).
DAGS = """
from datetime import timedelta

import pendulum

from flowctl import DAG, Param, task
from flowctl.operators import BashOperator, EmptyOperator

START = pendulum.datetime(2024, 1, 1)

with DAG("chain", schedule=None, start_date=START):
    a = BashOperator(task_id="a", bash_command="echo from-a")
    b = BashOperator(task_id="b", bash_command="echo got-{{ ti.xcom_pull(task_ids='a') }}")
    c = BashOperator(task_id="c", bash_command="echo done-c")
    a >> b >> c

with DAG("flaky", schedule=None, start_date=START):
    ok = EmptyOperator(task_id="ok")
    fails = BashOperator(
        task_id="fails",
        bash_command="echo attempt-{{ ti.try_number }}; exit 3",
        retries=1,
        retry_delay=timedelta(seconds=0.1),
    )
    after = EmptyOperator(task_id="after")
    ok >> fails >> after

with DAG("mapped", schedule=None, start_date=START):

    @task
    def square(n):
        return n * n

    square.expand(n=[1, 2, 3])

with DAG("params", schedule=None, start_date=START, params={"n": Param(5, type="integer", minimum=1)}):
    EmptyOperator(task_id="noop")

with DAG("slow", schedule=None, start_date=START):
    BashOperator(task_id="nap", bash_command="sleep 0.3")
"""

DAY1 = "2024-01-01T00:00:00+00:00"


@pytest.fixture
def dags(home: Path) -> Path:
    folder = home / "dags"
    folder.mkdir(exist_ok=True)
    path = folder / "runs.py"
    path.write_text(textwrap.dedent(DAGS))
    return path


def run_json(cli: Cli, *args: str) -> Any:
    result = cli(*args, "-o", "json")
    assert result.exit_code == 0, result
    return json.loads(result.stdout)


def printing(cli: Cli, capfd: pytest.CaptureFixture[str], *args: str) -> CliResult:
    """Run a command whose task output goes to file descriptor 1 (as a real process would print it)."""
    capfd.readouterr()
    result = cli(*args)
    return CliResult(result.exit_code, result.stdout + capfd.readouterr().out, result.stderr)


def dags_test(cli: Cli, dag_id: str, logical_date: str = DAY1) -> str:
    """Run the DAG with `dags test` and return its run id (whatever the run's outcome)."""
    result = cli("dags", "test", dag_id, logical_date)
    assert result.exit_code in (0, 1) and "Traceback" not in result.stderr, result
    (run,) = [r for r in run_json(cli, "dags", "list-runs", dag_id) if r["logical_date"] == logical_date]
    return run["run_id"]


def task_states(cli: Cli, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
    rows = run_json(cli, "tasks", "states-for-dag-run", dag_id, run_id)
    return {row["task_id"] if row["map_index"] < 0 else f"{row['task_id']}[{row['map_index']}]": row for row in rows}


def states(cli: Cli, dag_id: str, run_id: str) -> dict[str, str]:
    return {task_id: row["state"] for task_id, row in task_states(cli, dag_id, run_id).items()}


def run_state(cli: Cli, dag_id: str, run_id: str) -> str:
    result = cli("dags", "state", dag_id, run_id)
    assert result.exit_code == 0, result
    return result.stdout.strip()


def attempt_logs(home: Path, dag_id: str, run_id: str, task_id: str) -> list[str]:
    folder = home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
    return sorted(path.name for path in folder.glob("attempt=*.log"))


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table.name: conn.scalar(select(func.count()).select_from(table)) for table in Base.metadata.sorted_tables
        }


def run_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(DagRun))


# --- dags trigger ----------------------------------------------------------------------------------


def test_trigger_json_names_the_new_queued_run(cli_db: Cli, dags: Path) -> None:
    created = run_json(cli_db, "dags", "trigger", "chain", "--logical-date", "2024-01-02T03:04:05+00:00")

    assert list(created) == TRIGGER_KEYS
    assert created["dag_id"] == "chain"
    assert created["state"] == "queued"
    assert created["logical_date"] == "2024-01-02T03:04:05+00:00"
    assert created["run_id"].startswith("manual__")
    assert run_state(cli_db, "chain", created["run_id"]) == "queued"


def test_trigger_stores_the_logical_date_exactly_and_shows_it_in_utc(cli_db: Cli, dags: Path) -> None:
    run_json(cli_db, "dags", "trigger", "chain", "--logical-date", "2024-01-02T03:04:05+00:00")
    run_json(cli_db, "dags", "trigger", "chain", "--logical-date", "2024-01-03T05:04:05+02:00")

    listed = [run["logical_date"] for run in run_json(cli_db, "dags", "list-runs", "chain")]

    assert listed == ["2024-01-03T03:04:05+00:00", "2024-01-02T03:04:05+00:00"]


def test_trigger_honours_the_run_id_given(cli_db: Cli, dags: Path) -> None:
    created = run_json(cli_db, "dags", "trigger", "chain", "--run-id", "by_hand_1")

    assert created["run_id"] == "by_hand_1"
    assert [run["run_id"] for run in run_json(cli_db, "dags", "list-runs", "chain")] == ["by_hand_1"]


def test_trigger_with_a_run_id_already_used_is_a_one_line_error_naming_it(
    cli_db: Cli, dags: Path, engine: Engine
) -> None:
    run_json(cli_db, "dags", "trigger", "chain", "--run-id", "twice", "--logical-date", DAY1)

    error = one_line_error(cli_db("dags", "trigger", "chain", "--run-id", "twice", "--logical-date", "2024-02-01"))

    assert "twice" in error
    assert run_count(engine) == 1


@pytest.mark.parametrize(
    ("conf", "named"),
    [("{not json", "JSON"), ("[1, 2]", "object"), ('"text"', "object")],
    ids=["not-json", "a-list", "a-string"],
)
def test_trigger_with_conf_that_is_not_a_json_object_is_refused_and_creates_no_run(
    cli_db: Cli, dags: Path, engine: Engine, conf: str, named: str
) -> None:
    error = one_line_error(cli_db("dags", "trigger", "chain", "--conf", conf))

    assert named in error
    assert run_count(engine) == 0


def test_trigger_with_conf_refused_by_a_param_names_the_param_and_creates_no_run(
    cli_db: Cli, dags: Path, engine: Engine
) -> None:
    error = one_line_error(cli_db("dags", "trigger", "params", "--conf", '{"n": 0}'))

    assert "'n'" in error
    assert run_count(engine) == 0


def test_trigger_stores_conf_accepted_by_the_params(cli_db: Cli, dags: Path) -> None:
    run_json(cli_db, "dags", "trigger", "params", "--conf", '{"n": 3}')

    (run,) = run_json(cli_db, "dags", "list-runs", "params")

    assert run["conf"] == {"n": 3}


@pytest.mark.parametrize("run_id", ["a/b", ".."])
def test_trigger_refuses_a_run_id_that_cannot_name_a_log_folder(
    cli_db: Cli, dags: Path, engine: Engine, run_id: str
) -> None:
    error = one_line_error(cli_db("dags", "trigger", "chain", "--run-id", run_id))

    assert repr(run_id) in error
    assert run_count(engine) == 0


def test_trigger_with_a_bad_logical_date_is_a_one_line_error_naming_it(cli_db: Cli, dags: Path, engine: Engine) -> None:
    assert "yesterday" in one_line_error(cli_db("dags", "trigger", "chain", "--logical-date", "yesterday"))
    assert run_count(engine) == 0


def test_trigger_of_an_unknown_dag_is_a_one_line_error_naming_it(cli_db: Cli, dags: Path, engine: Engine) -> None:
    error = one_line_error(cli_db("dags", "trigger", "no_such_dag"))

    assert "no_such_dag" in error
    assert run_count(engine) == 0


# --- dags list-runs --------------------------------------------------------------------------------


@pytest.fixture
def three_runs(cli_db: Cli, dags: Path) -> list[str]:
    """Two queued runs (Jan 1 and Jan 3) and a successful one (Jan 2); run ids newest first."""
    run_json(cli_db, "dags", "trigger", "chain", "--run-id", "first", "--logical-date", DAY1)
    tested = dags_test(cli_db, "chain", "2024-01-02T00:00:00+00:00")
    run_json(cli_db, "dags", "trigger", "chain", "--run-id", "third", "--logical-date", "2024-01-03T00:00:00+00:00")
    return ["third", tested, "first"]


def test_list_runs_json_has_the_spec_columns_newest_first(cli_db: Cli, three_runs: list[str]) -> None:
    runs = run_json(cli_db, "dags", "list-runs", "chain")

    assert [list(run) for run in runs] == [RUN_KEYS] * 3
    assert [run["run_id"] for run in runs] == three_runs
    assert [run["state"] for run in runs] == ["queued", "success", "queued"]
    assert {run["run_type"] for run in runs} == {"manual"}
    assert runs[2]["logical_date"] == runs[2]["data_interval_start"] == DAY1
    assert runs[2]["conf"] == {}
    assert runs[1]["start_date"] <= runs[1]["end_date"]
    assert runs[0]["start_date"] is None and runs[0]["end_date"] is None


def test_list_runs_state_keeps_only_runs_in_that_state(cli_db: Cli, three_runs: list[str]) -> None:
    queued = run_json(cli_db, "dags", "list-runs", "chain", "--state", "queued")
    succeeded = run_json(cli_db, "dags", "list-runs", "chain", "--state", "success")

    assert [run["run_id"] for run in queued] == ["third", "first"]
    assert [run["run_id"] for run in succeeded] == [three_runs[1]]


def test_list_runs_limit_keeps_the_newest_runs(cli_db: Cli, three_runs: list[str]) -> None:
    runs = run_json(cli_db, "dags", "list-runs", "chain", "--limit", "2")

    assert [run["run_id"] for run in runs] == three_runs[:2]


def test_list_runs_takes_the_dag_id_as_an_option_too(cli_db: Cli, three_runs: list[str]) -> None:
    assert run_json(cli_db, "dags", "list-runs", "-d", "chain") == run_json(cli_db, "dags", "list-runs", "chain")


def test_list_runs_of_an_unknown_dag_is_a_one_line_error_naming_it(cli_db: Cli, dags: Path) -> None:
    assert "no_such_dag" in one_line_error(cli_db("dags", "list-runs", "no_such_dag"))


# --- dags test -------------------------------------------------------------------------------------


def test_dags_test_runs_every_task_and_prints_one_line_per_task_with_its_state(
    cli_db: Cli, dags: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    result = printing(cli_db, capfd, "dags", "test", "chain", "2024-01-01")

    assert result.exit_code == 0, result
    for task_id in ("a", "b", "c"):
        assert re.search(rf"^{task_id}\b.*: success$", result.stdout, re.MULTILINE), result.stdout
    assert "got-from-a" in result.stdout  # b's template pulled a's XCom


def test_dags_test_records_the_run_and_its_task_instances(cli_db: Cli, dags: Path) -> None:
    run_id = dags_test(cli_db, "chain")

    rows = run_json(cli_db, "tasks", "states-for-dag-run", "chain", run_id)

    assert run_state(cli_db, "chain", run_id) == "success"
    assert [list(row) for row in rows] == [TI_KEYS] * 3
    assert [(row["task_id"], row["map_index"], row["state"], row["try_number"]) for row in rows] == [
        ("a", -1, "success", 1),
        ("b", -1, "success", 1),
        ("c", -1, "success", 1),
    ]
    assert all(row["start_date"] <= row["end_date"] and row["duration"] >= 0 for row in rows)


@pytest.mark.parametrize("how", ["dags-test", "tasks-run-after-clear"])
def test_recorded_start_end_and_duration_span_the_try(cli_db: Cli, dags: Path, how: str) -> None:
    run_id = dags_test(cli_db, "slow")
    if how == "tasks-run-after-clear":
        assert cli_db("tasks", "clear", "slow", "-y").exit_code == 0
        assert cli_db("tasks", "run", "slow", "nap", run_id).exit_code == 0

    (row,) = run_json(cli_db, "tasks", "states-for-dag-run", "slow", run_id)

    took = datetime.fromisoformat(row["end_date"]) - datetime.fromisoformat(row["start_date"])
    assert took.total_seconds() >= 0.3  # the task sleeps 0.3 s
    assert row["duration"] == pytest.approx(took.total_seconds(), abs=0.01)


def test_dags_test_writes_a_log_file_per_try_that_tasks_logs_prints(cli_db: Cli, dags: Path, home: Path) -> None:
    run_id = dags_test(cli_db, "chain")

    result = cli_db("tasks", "logs", "chain", "b", run_id)

    for task_id in ("a", "b", "c"):
        assert attempt_logs(home, "chain", run_id, task_id) == ["attempt=1.log"]
    assert result.exit_code == 0, result
    assert "got-from-a" in result.stdout
    assert "from-a\n" not in result.stdout.replace("got-from-a", "")  # b's log only


def test_dags_test_of_a_failing_dag_exits_1_after_the_retry(
    cli_db: Cli, dags: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    result = printing(cli_db, capfd, "dags", "test", "flaky", "2024-01-01")
    run_id = run_json(cli_db, "dags", "list-runs", "flaky")[0]["run_id"]

    assert result.exit_code == 1, result
    assert "Traceback" not in result.stderr
    assert re.search(r"^fails\b.*: failed", result.stdout, re.MULTILINE), result.stdout
    assert run_state(cli_db, "flaky", run_id) == "failed"
    rows = task_states(cli_db, "flaky", run_id)
    assert {task_id: (row["state"], row["try_number"]) for task_id, row in rows.items()} == {
        "ok": ("success", 1),
        "fails": ("failed", 2),
        "after": ("upstream_failed", 0),
    }


def test_tasks_logs_prints_the_try_asked_for(cli_db: Cli, dags: Path) -> None:
    run_id = dags_test(cli_db, "flaky")

    first = cli_db("tasks", "logs", "flaky", "fails", run_id, "--try", "1")
    latest = cli_db("tasks", "logs", "flaky", "fails", run_id)

    assert first.exit_code == 0 and latest.exit_code == 0
    assert "attempt-1" in first.stdout and "attempt-2" not in first.stdout
    assert re.search(r"exit code 3|returned 3|code 3", first.stdout), first.stdout
    assert "attempt-2" in latest.stdout and "attempt-1" not in latest.stdout


def test_dags_test_runs_each_mapped_index(cli_db: Cli, dags: Path) -> None:
    run_id = dags_test(cli_db, "mapped")

    rows = run_json(cli_db, "tasks", "states-for-dag-run", "mapped", run_id)

    assert [(row["task_id"], row["map_index"], row["state"]) for row in rows] == [
        ("square", 0, "success"),
        ("square", 1, "success"),
        ("square", 2, "success"),
    ]
    assert run_state(cli_db, "mapped", run_id) == "success"


def test_dags_test_for_a_logical_date_that_already_has_a_run_is_a_one_line_error(
    cli_db: Cli, dags: Path, engine: Engine
) -> None:
    run_json(cli_db, "dags", "trigger", "chain", "--logical-date", DAY1)

    assert DAY1 in one_line_error(cli_db("dags", "test", "chain", DAY1))
    assert run_count(engine) == 1


def test_dags_test_of_an_unknown_dag_is_a_one_line_error_naming_it(cli_db: Cli, dags: Path, engine: Engine) -> None:
    assert "no_such_dag" in one_line_error(cli_db("dags", "test", "no_such_dag"))
    assert run_count(engine) == 0


# --- tasks clear -----------------------------------------------------------------------------------


def test_clearing_a_failed_task_resets_it_keeps_its_tries_and_requeues_the_run(
    cli_db: Cli, dags: Path, home: Path
) -> None:
    # Given a failed run whose `fails` task used both tries
    run_id = dags_test(cli_db, "flaky")

    # When
    result = cli_db("tasks", "clear", "flaky", "-t", "^fails$", "-y")

    # Then
    assert result.exit_code == 0, result
    rows = task_states(cli_db, "flaky", run_id)
    assert (rows["fails"]["state"], rows["fails"]["try_number"]) == ("none", 2)
    assert attempt_logs(home, "flaky", run_id, "fails") == ["attempt=1.log", "attempt=2.log"]
    assert run_state(cli_db, "flaky", run_id) == "queued"
    assert "attempt-1" in cli_db("tasks", "logs", "flaky", "fails", run_id, "--try", "1").stdout


@pytest.mark.parametrize(
    ("options", "cleared"),
    [
        (["-t", "^fails$"], {"fails"}),
        (["-t", "^fails$", "-d"], {"fails", "after"}),
        (["-t", "^after$", "--upstream"], {"ok", "fails", "after"}),
        (["--only-failed"], {"fails", "after"}),
        (["-f", "-t", "^(ok|fails)$"], {"fails"}),
    ],
    ids=["regex", "downstream", "upstream", "only-failed", "only-failed-and-regex"],
)
def test_clear_resets_exactly_the_selected_task_instances(
    cli_db: Cli, dags: Path, options: list[str], cleared: set[str]
) -> None:
    run_id = dags_test(cli_db, "flaky")
    before = states(cli_db, "flaky", run_id)

    result = cli_db("tasks", "clear", "flaky", *options, "-y")

    assert result.exit_code == 0, result
    assert states(cli_db, "flaky", run_id) == {
        task_id: "none" if task_id in cleared else state for task_id, state in before.items()
    }


def test_clear_selects_runs_by_run_id_and_logical_date(cli_db: Cli, dags: Path) -> None:
    jan1 = dags_test(cli_db, "flaky", DAY1)
    jan2 = dags_test(cli_db, "flaky", "2024-01-02T00:00:00+00:00")
    jan3 = dags_test(cli_db, "flaky", "2024-01-03T00:00:00+00:00")

    assert cli_db("tasks", "clear", "flaky", "-t", "^fails$", "--run-id", jan1, "-y").exit_code == 0
    assert cli_db("tasks", "clear", "flaky", "-t", "^ok$", "-s", "2024-01-03", "-e", "2024-01-03", "-y").exit_code == 0

    assert [states(cli_db, "flaky", run_id) for run_id in (jan1, jan2, jan3)] == [
        {"ok": "success", "fails": "none", "after": "upstream_failed"},
        {"ok": "success", "fails": "failed", "after": "upstream_failed"},
        {"ok": "none", "fails": "failed", "after": "upstream_failed"},
    ]


def test_clear_with_a_bad_regex_is_a_one_line_error_and_clears_nothing(cli_db: Cli, dags: Path) -> None:
    run_id = dags_test(cli_db, "flaky")
    before = states(cli_db, "flaky", run_id)

    error = one_line_error(cli_db("tasks", "clear", "flaky", "-t", "(unclosed", "-y"))

    assert "(unclosed" in error
    assert states(cli_db, "flaky", run_id) == before


def test_clear_without_yes_and_without_a_terminal_is_a_usage_error_and_clears_nothing(cli_db: Cli, dags: Path) -> None:
    run_id = dags_test(cli_db, "flaky")
    before = states(cli_db, "flaky", run_id)

    result = cli_db("tasks", "clear", "flaky", "-t", "^fails$")

    assert result.exit_code == 2, result
    assert "-y" in result.stderr
    assert states(cli_db, "flaky", run_id) == before
    assert run_state(cli_db, "flaky", run_id) == "failed"


def test_clear_of_an_unknown_dag_is_a_one_line_error_naming_it(cli_db: Cli, dags: Path) -> None:
    assert "no_such_dag" in one_line_error(cli_db("tasks", "clear", "no_such_dag", "-y"))


# --- tasks run -------------------------------------------------------------------------------------


def test_tasks_run_runs_a_cleared_task_instance_in_a_process_and_records_the_new_try(
    cli_db: Cli, dags: Path, home: Path
) -> None:
    # Given b cleared after a successful run
    run_id = dags_test(cli_db, "chain")
    assert cli_db("tasks", "clear", "chain", "-t", "^b$", "-y").exit_code == 0

    # When
    result = cli_db("tasks", "run", "chain", "b", run_id)

    # Then
    assert result.exit_code == 0, result
    assert cli_db("tasks", "state", "chain", "b", run_id).stdout.strip() == "success"
    assert task_states(cli_db, "chain", run_id)["b"]["try_number"] == 2
    assert attempt_logs(home, "chain", run_id, "b") == ["attempt=1.log", "attempt=2.log"]
    assert "got-from-a" in cli_db("tasks", "logs", "chain", "b", run_id, "--try", "2").stdout
    assert not list(home.rglob("*.spool")), "a recorded try leaves no spool file behind"


def test_tasks_run_of_a_failing_task_exits_1_and_records_the_failure(cli_db: Cli, dags: Path) -> None:
    run_id = dags_test(cli_db, "flaky")
    assert cli_db("tasks", "clear", "flaky", "-t", "^fails$", "-y").exit_code == 0

    result = cli_db("tasks", "run", "flaky", "fails", run_id)

    assert result.exit_code == 1, result
    row = task_states(cli_db, "flaky", run_id)["fails"]
    assert row["try_number"] == 3
    assert row["state"] in ("up_for_retry", "failed")  # clearing gave it its retry back


def test_tasks_run_of_a_succeeded_task_instance_says_to_clear_it_first(cli_db: Cli, dags: Path, home: Path) -> None:
    run_id = dags_test(cli_db, "chain")

    error = one_line_error(cli_db("tasks", "run", "chain", "b", run_id))

    assert "clear" in error
    assert task_states(cli_db, "chain", run_id)["b"]["try_number"] == 1
    assert attempt_logs(home, "chain", run_id, "b") == ["attempt=1.log"]


def test_tasks_run_of_an_unknown_task_is_a_one_line_error_naming_it(cli_db: Cli, dags: Path) -> None:
    run_id = dags_test(cli_db, "chain")

    assert "no_such_task" in one_line_error(cli_db("tasks", "run", "chain", "no_such_task", run_id))


# --- tasks test ------------------------------------------------------------------------------------


def test_tasks_test_prints_the_task_output_and_records_nothing(
    cli_db: Cli, dags: Path, engine: Engine, capfd: pytest.CaptureFixture[str]
) -> None:
    cli_db("dags", "list")  # parse the DAG file first: only the test itself must write nothing
    before = row_counts(engine)

    result = printing(cli_db, capfd, "tasks", "test", "chain", "a", "2024-01-01")

    assert result.exit_code == 0, result
    assert "from-a" in result.stdout
    assert re.search(r"^a: success$", result.stdout, re.MULTILINE), result.stdout
    assert row_counts(engine) == before


def test_tasks_test_of_a_failing_task_exits_1_and_records_nothing(
    cli_db: Cli, dags: Path, engine: Engine, capfd: pytest.CaptureFixture[str]
) -> None:
    cli_db("dags", "list")
    before = row_counts(engine)

    result = printing(cli_db, capfd, "tasks", "test", "flaky", "fails")

    assert result.exit_code == 1, result
    assert "attempt-1" in result.stdout
    assert row_counts(engine) == before


def test_tasks_test_of_a_dag_whose_file_now_raises_is_a_one_line_error(cli_db: Cli, dags: Path) -> None:
    cli_db("dags", "list")  # stored while the file was fine
    dags.write_text(dags.read_text() + "\nraise RuntimeError('broken dag file')\n")

    error = one_line_error(cli_db("tasks", "test", "chain", "a"))

    assert "broken dag file" in error and str(dags) in error


def test_tasks_test_of_an_unknown_task_is_a_one_line_error_naming_it(cli_db: Cli, dags: Path) -> None:
    assert "no_such_task" in one_line_error(cli_db("tasks", "test", "chain", "no_such_task"))


# --- state of unknown things -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "named"),
    [
        (["dags", "state", "no_such_dag", "some_run"], "no_such_dag"),
        (["dags", "state", "chain", "no_such_run"], "no_such_run"),
        (["tasks", "state", "no_such_dag", "a", "some_run"], "no_such_dag"),
        (["tasks", "state", "chain", "a", "no_such_run"], "no_such_run"),
        (["tasks", "state", "chain", "no_such_task", "RUN"], "no_such_task"),
        (["tasks", "states-for-dag-run", "chain", "no_such_run"], "no_such_run"),
        (["tasks", "logs", "chain", "no_such_task", "RUN"], "no_such_task"),
    ],
    ids=[
        "dag-of-dags-state",
        "run-of-dags-state",
        "dag-of-tasks-state",
        "run-of-tasks-state",
        "task-of-tasks-state",
        "run-of-states-for-dag-run",
        "task-of-tasks-logs",
    ],
)
def test_state_of_something_unknown_is_a_one_line_error_naming_it(
    cli_db: Cli, dags: Path, command: list[str], named: str
) -> None:
    run_id = dags_test(cli_db, "chain")

    error = one_line_error(cli_db(*[run_id if part == "RUN" else part for part in command]))

    assert named in error


# --- dags delete -----------------------------------------------------------------------------------


def test_delete_removes_runs_and_task_instances_and_the_file_brings_the_dag_back_fresh(
    cli_db: Cli, dags: Path, engine: Engine
) -> None:
    # Given a recorded run and a paused-by-default DAG that was unpaused
    dags_test(cli_db, "chain")
    assert cli_db("dags", "unpause", "chain").exit_code == 0

    # When
    result = cli_db("dags", "delete", "chain", "-y")

    # Then
    assert result.exit_code == 0, result
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(DagRun).where(DagRun.dag_id == "chain")) == 0
        assert conn.scalar(select(func.count()).select_from(TaskInstance).where(TaskInstance.dag_id == "chain")) == 0
    assert dags.exists()
    listed = {row["dag_id"]: row for row in run_json(cli_db, "dags", "list")}
    assert listed["chain"]["is_paused"] is True
    assert run_json(cli_db, "dags", "list-runs", "chain") == []


def test_delete_keeps_the_other_dags_runs(cli_db: Cli, dags: Path) -> None:
    dags_test(cli_db, "chain")
    kept = dags_test(cli_db, "mapped")

    assert cli_db("dags", "delete", "chain", "-y").exit_code == 0

    assert [run["run_id"] for run in run_json(cli_db, "dags", "list-runs", "mapped")] == [kept]


def test_delete_of_an_unknown_dag_is_a_one_line_error_naming_it(cli_db: Cli, dags: Path) -> None:
    assert "no_such_dag" in one_line_error(cli_db("dags", "delete", "no_such_dag", "-y"))
