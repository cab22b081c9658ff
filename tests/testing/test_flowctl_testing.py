"""flowctl.testing and DAG.test(): whole runs and single tasks inside a test, with no scheduler and no
metadata DB of the caller's touched; retries, mapping, marking success, Airflow's DAG.test arguments."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pendulum
import pytest

from flowctl import DAG, Variable, task
from flowctl.exceptions import FlowctlError, InvalidInput
from flowctl.operators import BashOperator, EmptyOperator, PythonOperator
from flowctl.testing import RunResult, run_dag, run_task

START = pendulum.datetime(2024, 1, 1, tz="UTC")


def flaky_dag() -> DAG:
    with DAG("flaky", schedule=None, start_date=START) as dag:
        first = EmptyOperator(task_id="first")
        fails = BashOperator(
            task_id="fails",
            bash_command="echo attempt-{{ ti.try_number }}; exit 3",
            retries=1,
            retry_delay=timedelta(seconds=0.05),
        )
        after = EmptyOperator(task_id="after")
        first >> fails >> after
    return dag


def test_a_failing_task_is_retried_and_the_run_fails_with_downstream_upstream_failed() -> None:
    result = run_dag(flaky_dag())

    assert result.state == "failed"
    assert result.task_states == {"first": "success", "fails": "failed", "after": "upstream_failed"}
    assert result.tasks["fails"].try_number == 2
    assert "attempt-2" in result.logs["fails"] and "attempt-1" not in result.logs["fails"]


def test_mapped_task_instances_are_keyed_by_index() -> None:
    with DAG("mapped", schedule=None, start_date=START) as dag:

        @task
        def square(n: int) -> int:
            return n * n

        square.expand(n=[1, 2, 3])

    result = run_dag(dag)

    assert result.state == "success"
    assert [result.xcom("square", map_index=i) for i in range(3)] == [1, 4, 9]
    assert set(result.task_states) == {"square[0]", "square[1]", "square[2]"}


def test_run_task_refuses_a_mapped_task() -> None:
    with DAG("mapped_alone", schedule=None, start_date=START) as dag:

        @task
        def double(n: int) -> int:
            return n * 2

        double.expand(n=[1, 2])

    with pytest.raises(InvalidInput, match="'double' is mapped"):
        run_task(dag, "double")


def test_tasks_matching_mark_success_pattern_are_not_run_and_downstream_proceeds() -> None:
    result = run_dag(flaky_dag(), mark_success_pattern="fai.*")

    assert result.state == "success"
    assert result.tasks["fails"].try_number == 0 and result.logs["fails"] == ""
    assert result.task_states["after"] == "success"


def test_run_task_runs_that_task_only(tmp_path: Path) -> None:
    with DAG("pair", schedule=None, start_date=START) as dag:
        source = PythonOperator(task_id="source", python_callable=lambda: 41)
        target = PythonOperator(task_id="target", python_callable=lambda ti: (ti.xcom_pull(task_ids="source") or 0) + 1)
        source >> target

    alone = run_task(dag, "target")

    assert alone.state == "success" and alone.try_number == 1
    assert alone.xcoms == {"return_value": 1}  # source did not run: its XCom is None
    assert "Task target succeeded" in alone.log


def test_dag_test_takes_airflows_arguments(tmp_path: Path) -> None:
    connections = tmp_path / "connections.json"
    connections.write_text(json.dumps({"api": {"conn_type": "http", "host": "api.example.com", "login": "bot"}}))
    variables = tmp_path / "variables.yaml"
    variables.write_text("greeting: hello\nlimits:\n  rows: 5\n")

    def show(**context):
        from flowctl.hooks.base import BaseHook

        conn = BaseHook.get_connection("api")
        rows = Variable.get("limits", deserialize_json=True)["rows"]
        return f"{Variable.get('greeting')} {conn.login}@{conn.host} {rows} {context['params']['who']}"

    with DAG("airflow_style", schedule=None, start_date=START, params={"who": "nobody"}) as dag:
        PythonOperator(task_id="show", python_callable=show)

    run = dag.test(
        execution_date=datetime(2024, 5, 1, 6, 0, tzinfo=UTC),
        run_conf={"who": "tester"},
        conn_file_path=str(connections),
        variable_file_path=str(variables),
    )

    assert isinstance(run, RunResult) and run.state == "success"
    assert run.execution_date == run.logical_date == datetime(2024, 5, 1, 6, 0, tzinfo=UTC)
    assert run.conf == {"who": "tester"}
    assert run.xcom("show") == "hello bot@api.example.com 5 tester"


def test_dag_test_with_an_executor_is_refused_in_one_line() -> None:
    with pytest.raises(InvalidInput, match="use_executor"):
        flaky_dag().test(use_executor=True)


def test_the_callers_metadata_db_and_variable_source_are_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "my-home"
    monkeypatch.setenv("FLOWCTL_HOME", str(home))
    monkeypatch.setenv("FLOWCTL__CORE__SQL_ALCHEMY_CONN", f"sqlite:///{tmp_path / 'mine.db'}")
    with DAG("reads_a_variable", schedule=None, start_date=START) as dag:
        PythonOperator(task_id="read", python_callable=lambda: Variable.get("k"))

    result = run_dag(dag, variables={"k": "from the test"})

    assert result.xcom("read") == "from the test"
    assert not home.exists() and not (tmp_path / "mine.db").exists()
    assert Variable.get("k", default_var="unset") == "unset"  # no source left pointing at a deleted DB


def test_a_file_defining_several_dags_needs_the_dag_id(tmp_path: Path) -> None:
    path = tmp_path / "two.py"
    path.write_text(
        "from flowctl import DAG\nfrom flowctl.operators import EmptyOperator\n"
        "for name in ('one', 'two'):\n    with DAG(name, schedule=None):\n        EmptyOperator(task_id='t')\n"
    )

    with pytest.raises(InvalidInput, match="defines 2 DAGs \\(one, two\\)"):
        run_dag(path)
    assert run_dag(path, dag_id="two").dag_id == "two"


def test_a_broken_dag_file_raises_its_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("raise RuntimeError('broken on purpose')\n")

    with pytest.raises(RuntimeError, match="broken on purpose"):
        run_dag(path)


@pytest.mark.parametrize(
    ("call", "problem"),
    [
        (lambda dag: run_task(dag, "nope"), "has no task 'nope'"),
        (lambda dag: run_dag(dag, conf={"x": float("nan")}), "NaN"),
        (lambda dag: run_dag(dag, logical_date="not a date"), "not a date"),
    ],
    ids=["unknown-task", "nan-conf", "bad-date"],
)
def test_bad_arguments_raise_a_flowctl_error(call, problem: str) -> None:
    with pytest.raises(FlowctlError, match=problem):
        call(flaky_dag())
