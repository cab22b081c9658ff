"""Running a DAG, or one of its tasks, inside your own tests: no scheduler, no webserver, no setup.

    from flowctl.testing import run_dag

    def test_report():
        result = run_dag("dags/report.py", conf={"rows": 3})
        assert result.state == "success"
        assert result.xcom("count_rows") == 3

Each call makes a throwaway installation (a temporary FLOWCTL_HOME with its own SQLite metadata DB),
stores the DAG in it as the DAG processor would, and runs the tasks in this process through the same
code as `flowctl dags test` (flowctl.scheduler.inline): planning, trigger rules, retries, XComs and the
task logs are the real ones. What the run left is returned as plain values and the installation is
deleted; your own metadata DB is never touched. `DAG.test()` (Airflow 2.5+'s name) calls `run_dag`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flowctl.dag_definition import DAG
from flowctl.exceptions import InvalidInput
from flowctl.testing.installation import throwaway_installation
from flowctl.testing.results import RunResult, TaskResult

__all__ = ["RunResult", "TaskResult", "dag_test", "run_dag", "run_task"]


def run_dag(
    dag: DAG | str | Path,
    *,
    dag_id: str | None = None,
    logical_date: datetime | str | None = None,
    conf: Mapping[str, Any] | None = None,
    variables: Mapping[str, Any] | None = None,
    connections: Mapping[str, Any] | None = None,
    mark_success_pattern: str | None = None,
    config: Mapping[str, str] | None = None,
) -> RunResult:
    """Run every task of `dag` (a DAG object, or a DAG file and, if it defines several, `dag_id`) once.

    `variables` ({key: value}) and `connections` ({conn_id: URI or fields}) are what the tasks find;
    tasks whose id matches `mark_success_pattern` are marked success instead of run; `config` holds
    `FLOWCTL__SECTION__KEY` settings for the throwaway installation (e.g. `[smtp]` for alert tests).
    """
    from flowctl.scheduler.inline import run_dag_run

    with throwaway_installation(dag, dag_id, variables, connections, config) as place:
        run_id = place.create_run(logical_date, conf, mark_success_pattern)
        with _task_logs_at_info():
            run_dag_run(
                place.settings,
                place.factory,
                place.engine,
                dag=place.dag,
                dag_id=place.dag.dag_id,
                run_id=run_id,
                on_result=lambda _command, _outcome: None,
                masker=_masker(),
            )
        return place.result(run_id)


def run_task(
    dag: DAG | str | Path,
    task_id: str,
    *,
    dag_id: str | None = None,
    logical_date: datetime | str | None = None,
    conf: Mapping[str, Any] | None = None,
    variables: Mapping[str, Any] | None = None,
    connections: Mapping[str, Any] | None = None,
    config: Mapping[str, str] | None = None,
) -> TaskResult:
    """Run one task of `dag` once, whatever its upstream tasks (they do not run: what it pulls from them
    is None), as `flowctl tasks run` does, and return its task instance."""
    from flowctl.db.engine import session_scope
    from flowctl.db.queries.task_instances import get
    from flowctl.executors.process import execute_command
    from flowctl.scheduler.inline import queue_one, record_outcome
    from flowctl.scheduler.runs import DagVersions
    from flowctl.taskflow import MappedOperator

    with throwaway_installation(dag, dag_id, variables, connections, config) as place:
        if not place.dag.has_task(task_id):
            raise InvalidInput(f"DAG {place.dag.dag_id!r} has no task {task_id!r}")
        if isinstance(place.dag.get_task(task_id), MappedOperator):
            raise InvalidInput(f"task {task_id!r} is mapped: run the whole DAG with run_dag to expand it")
        run_id = place.create_run(logical_date, conf, None)
        versions = DagVersions()
        with session_scope(place.factory) as session:
            ti = get(session, place.dag.dag_id, run_id, task_id)
            assert ti is not None, "starting a run makes a task instance of every unmapped task"
            now = datetime.now(UTC)
            command = queue_one(session, ti, versions, place.settings.logging.base_log_folder, now=now)
        assert command is not None, "a task instance of a run just made cannot have moved"
        started_at = datetime.now(UTC)
        with _task_logs_at_info(), _tee(command.log_path):
            outcome = execute_command(
                command, place.dag, settings=place.settings, masker=_masker(), engine=place.engine
            )
        record_outcome(place.factory, versions, command, outcome, started_at=started_at)
        return place.result(run_id).tasks[task_id]


def dag_test(
    dag: DAG,
    execution_date: datetime | None = None,
    run_conf: Mapping[str, Any] | None = None,
    conn_file_path: str | None = None,
    variable_file_path: str | None = None,
    use_executor: bool = False,
    mark_success_pattern: str | None = None,
    *,
    logical_date: datetime | None = None,
) -> RunResult:
    """`DAG.test()` with Airflow 2.10's arguments: connections and variables may come from JSON or YAML
    files ({conn_id: URI or fields}, {key: value}); `use_executor` is not available (tasks always run
    in this process)."""
    if use_executor:
        raise InvalidInput("DAG.test(use_executor=True) is not available: flowctl runs the tasks in this process")
    if execution_date is not None and logical_date is not None and execution_date != logical_date:
        raise InvalidInput("execution_date and logical_date name the same thing and differ")
    return run_dag(
        dag,
        logical_date=logical_date or execution_date,
        conf=run_conf,
        variables=_read_mapping(variable_file_path, "variables") if variable_file_path else None,
        connections=_read_mapping(conn_file_path, "connections") if conn_file_path else None,
        mark_success_pattern=mark_success_pattern,
    )


def _read_mapping(path: str, what: str) -> dict[str, Any]:
    """A JSON or YAML file holding one object (Airflow's local file formats for DAG.test)."""
    from flowctl import strict_json

    file = Path(path)
    try:
        text = file.read_text("utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read the {what} file {path}: {exc.strerror}") from None
    if file.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidInput(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    else:
        data = strict_json.parse(text, what=path)
    if not isinstance(data, dict):
        raise InvalidInput(f"the {what} file {path} must hold one object {{name: value}}")
    return data


@contextlib.contextmanager
def _task_logs_at_info() -> Iterator[None]:
    """Task log records reach the log files (and the caller's stdout) at INFO, as in `dags test`."""
    import logging

    logger = logging.getLogger("flowctl.task")
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.setLevel(level)


def _tee(log_path: str) -> Any:
    from flowctl.logs import tee_output

    return tee_output(Path(log_path))


def _masker() -> Any:
    from flowctl.logs import SecretMasker

    return SecretMasker()
