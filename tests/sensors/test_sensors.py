"""The sensors of flowctl.sensors, each run through the real task runtime against real things: files and
folders, a SQL table on every metadata DB backend, HTTP servers on 127.0.0.1, and runs of another DAG in
the metadata DB. Each one: done, still waiting (poke mode holds the try, reschedule mode hands back
`up_for_reschedule`), timing out (failed, no retry) and soft-failing (skipped)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pendulum
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from flowctl import DAG
from flowctl.db.models import Dag, DagRun, SerializedDag, TaskInstance
from flowctl.exceptions import DagDefinitionError
from flowctl.executors.base import TaskOutcome
from flowctl.sensors import (
    DateTimeSensor,
    ExternalTaskSensor,
    FileSensor,
    HttpSensor,
    SqlSensor,
    TimeDeltaSensor,
)
from tests.fixtures.ratings_api import LOGIN, PASSWORD, RatingsApi
from tests.sensors.conftest import TINY, RunSensor, TargetDatabase, later, long_ago

DAY = datetime(2024, 1, 1, tzinfo=UTC)


def sensing_dag(dag_id: str = "sensing") -> DAG:
    return DAG(dag_id, schedule=None, start_date=DAY)


def assert_waits_in_reschedule_mode(outcome: TaskOutcome, *, within: float) -> datetime:
    """The try ended `up_for_reschedule`, asking to be run again at most `within` seconds from now."""
    assert outcome.state == "up_for_reschedule", outcome
    assert outcome.reschedule_at is not None
    at = datetime.fromisoformat(outcome.reschedule_at)
    assert datetime.now(UTC) - timedelta(seconds=1) < at <= datetime.now(UTC) + timedelta(seconds=within)
    return at


def assert_timed_out(outcome: TaskOutcome) -> None:
    assert outcome.state == "failed", outcome
    assert "timed out" in (outcome.error or "") and not outcome.retryable


# FileSensor


def test_file_sensor_is_done_when_the_absolute_path_exists(run_sensor: RunSensor, tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a,b\n")
    with sensing_dag():
        sensor = FileSensor(task_id="wait", filepath=str(tmp_path / "data.csv"), poke_interval=TINY)

    assert run_sensor(sensor).state == "success"


def test_file_sensor_in_poke_mode_holds_its_try_until_the_file_appears(run_sensor: RunSensor, tmp_path: Path) -> None:
    with sensing_dag():
        sensor = FileSensor(task_id="wait", filepath=str(tmp_path / "late.csv"), poke_interval=TINY, timeout=30)
    later(0.3, lambda: (tmp_path / "late.csv").write_text("x"))
    started = time.monotonic()

    outcome = run_sensor(sensor)

    assert outcome.state == "success"
    assert time.monotonic() - started >= 0.3


def test_file_sensor_in_reschedule_mode_frees_the_slot_until_the_file_exists(
    run_sensor: RunSensor, tmp_path: Path
) -> None:
    with sensing_dag():
        sensor = FileSensor(task_id="wait", filepath=str(tmp_path / "*.csv"), mode="reschedule", poke_interval=5)

    assert_waits_in_reschedule_mode(run_sensor(sensor), within=5)
    (tmp_path / "any.csv").write_text("x")
    assert run_sensor(sensor, first_poke_at=datetime.now(UTC)).state == "success"


def test_file_sensor_matches_glob_patterns_and_renders_its_templated_path(
    run_sensor: RunSensor, tmp_path: Path
) -> None:
    (tmp_path / "sales_20240101_part1.csv").write_text("x")
    with sensing_dag():
        today = FileSensor(task_id="today", filepath=str(tmp_path / "sales_{{ ds_nodash }}_*.csv"), timeout=0)
        other = FileSensor(task_id="other", filepath=str(tmp_path / "sales_{{ ds_nodash }}_*.json"), timeout=0)

    assert run_sensor(today).state == "success"
    assert run_sensor(today, logical_date=DAY + timedelta(days=1)).state == "failed"
    assert run_sensor(other).state == "failed"


def test_a_folder_counts_only_once_it_holds_a_file_at_any_depth(run_sensor: RunSensor, tmp_path: Path) -> None:
    (tmp_path / "drop" / "empty_subfolder").mkdir(parents=True)
    with sensing_dag():
        sensor = FileSensor(task_id="wait", filepath=str(tmp_path / "drop"), timeout=0)

    assert run_sensor(sensor).state == "failed"
    (tmp_path / "drop" / "empty_subfolder" / "file.txt").write_text("x")
    assert run_sensor(sensor).state == "success"


def test_double_star_crosses_folders_only_with_recursive(run_sensor: RunSensor, tmp_path: Path) -> None:
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "a" / "b" / "c" / "deep.parquet").write_text("x")
    pattern = str(tmp_path / "a" / "**" / "deep.parquet")
    with sensing_dag():
        flat = FileSensor(task_id="flat", filepath=pattern, timeout=0)
        deep = FileSensor(task_id="deep", filepath=pattern, recursive=True, timeout=0)

    assert run_sensor(flat).state == "failed"
    assert run_sensor(deep).state == "success"


def test_with_an_fs_connection_the_path_is_relative_to_its_base_path(
    run_sensor: RunSensor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "incoming").mkdir()
    monkeypatch.setenv(
        "FLOWCTL_CONN_INCOMING", json.dumps({"conn_type": "fs", "extra": {"path": str(tmp_path / "incoming")}})
    )
    with sensing_dag():
        sensor = FileSensor(task_id="wait", fs_conn_id="incoming", filepath="{{ ds }}.csv", timeout=0)

    assert run_sensor(sensor).state == "failed"
    (tmp_path / "incoming" / "2024-01-01.csv").write_text("x")
    assert run_sensor(sensor).state == "success"


def test_a_relative_path_without_a_connection_fails_without_retrying(run_sensor: RunSensor) -> None:
    with sensing_dag():
        sensor = FileSensor(task_id="wait", filepath="data/today.csv", retries=3)

    outcome = run_sensor(sensor)

    assert outcome.state == "failed" and not outcome.retryable
    assert "is relative" in (outcome.error or "")


# DateTimeSensor and TimeDeltaSensor


def test_date_time_sensor_is_done_once_its_target_has_passed(run_sensor: RunSensor) -> None:
    with sensing_dag():
        past = DateTimeSensor(task_id="past", target_time=datetime(2020, 1, 1, tzinfo=UTC))
        templated = DateTimeSensor(task_id="templated", target_time="{{ macros.ds_add(ds, 1) }}T00:00:00")

    assert run_sensor(past).state == "success"
    assert run_sensor(templated, logical_date=DAY).state == "success"  # 2024-01-02 has passed


def test_date_time_sensor_in_poke_mode_wakes_at_the_target_not_a_whole_interval_later(run_sensor: RunSensor) -> None:
    target = pendulum.now("UTC") + timedelta(seconds=0.4)
    with sensing_dag():
        sensor = DateTimeSensor(task_id="soon", target_time=target, poke_interval=60, timeout=30)
    started = time.monotonic()

    outcome = run_sensor(sensor)

    assert outcome.state == "success"
    assert 0.3 <= time.monotonic() - started < 5


def test_date_time_sensor_in_reschedule_mode_comes_back_at_the_target(run_sensor: RunSensor) -> None:
    target = pendulum.now("UTC") + timedelta(seconds=20)
    with sensing_dag():
        sensor = DateTimeSensor(task_id="soon", target_time=target.isoformat(), mode="reschedule", poke_interval=3600)

    at = assert_waits_in_reschedule_mode(run_sensor(sensor), within=21)

    assert abs((at - target).total_seconds()) < 0.5


def test_date_time_sensor_with_a_target_that_is_not_a_date_fails(run_sensor: RunSensor) -> None:
    with sensing_dag():
        sensor = DateTimeSensor(task_id="bad", target_time="{{ ds }} at noon", retries=2)

    outcome = run_sensor(sensor)

    assert outcome.state == "failed" and not outcome.retryable
    assert "not an ISO-8601" in (outcome.error or "")


def test_date_time_sensor_target_must_be_text_or_a_datetime() -> None:
    with pytest.raises(DagDefinitionError, match="target_time"), sensing_dag():
        DateTimeSensor(task_id="bad", target_time=20240101)  # type: ignore[arg-type]


def test_time_delta_sensor_waits_for_delta_after_the_data_interval_end(run_sensor: RunSensor) -> None:
    now = pendulum.now("UTC")
    with sensing_dag():
        sensor = TimeDeltaSensor(task_id="wait", delta=timedelta(hours=2), mode="reschedule", poke_interval=30)

    # Given a run whose interval ended 3 h ago, 2 h later has passed; one ending 1 h ago must wait
    assert run_sensor(sensor, logical_date=now - timedelta(days=1), interval_end=now - timedelta(hours=3)).state == (
        "success"
    )
    waiting = run_sensor(sensor, logical_date=now - timedelta(days=1), interval_end=now - timedelta(hours=1))
    assert_waits_in_reschedule_mode(waiting, within=30)


def test_time_delta_sensor_in_poke_mode_wakes_at_its_target(run_sensor: RunSensor) -> None:
    now = pendulum.now("UTC")
    with sensing_dag():
        sensor = TimeDeltaSensor(task_id="wait", delta=timedelta(seconds=0.4), poke_interval=60, timeout=30)
    started = time.monotonic()

    outcome = run_sensor(sensor, logical_date=now - timedelta(days=1), interval_end=now)

    assert outcome.state == "success"
    assert 0.2 <= time.monotonic() - started < 5


def test_time_delta_sensor_delta_must_be_a_timedelta() -> None:
    with pytest.raises(DagDefinitionError, match="delta"), sensing_dag():
        TimeDeltaSensor(task_id="bad", delta=3600)  # type: ignore[arg-type]


# SqlSensor, against a table in this backend's test database


def test_sql_sensor_waits_for_a_truthy_first_cell(
    run_sensor: RunSensor, target_db: TargetDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWCTL_CONN_TARGET", target_db.conn_env)
    with sensing_dag():
        sensor = SqlSensor(
            task_id="wait",
            conn_id="target",
            sql="SELECT value FROM sensor_signal ORDER BY value DESC",
            mode="reschedule",
            poke_interval=5,
        )

    assert_waits_in_reschedule_mode(run_sensor(sensor), within=5)  # no row
    target_db.add_signal(0)
    assert_waits_in_reschedule_mode(run_sensor(sensor), within=5)  # a falsy first cell
    target_db.add_signal(7)
    assert run_sensor(sensor).state == "success"


def test_sql_sensor_in_poke_mode_sees_a_row_written_meanwhile(
    run_sensor: RunSensor, target_db: TargetDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWCTL_CONN_TARGET", target_db.conn_env)
    with sensing_dag():
        sensor = SqlSensor(
            task_id="wait",
            conn_id="target",
            sql="SELECT COUNT(*) FROM sensor_signal WHERE value >= {{ params.at_least }}",
            params={"at_least": 5},
            poke_interval=TINY,
            timeout=30,
        )
    later(0.3, lambda: target_db.add_signal(5))

    assert run_sensor(sensor).state == "success"


def test_sql_sensor_success_and_failure_callables_judge_the_selected_value(
    run_sensor: RunSensor, target_db: TargetDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWCTL_CONN_TARGET", target_db.conn_env)
    target_db.add_signal(3)
    with sensing_dag():
        enough = SqlSensor(
            task_id="enough",
            conn_id="target",
            sql="SELECT MAX(value), COUNT(*) FROM sensor_signal",
            selector=lambda row: row[1],
            success=lambda count: count >= 1,
            timeout=0,
        )
        too_big = SqlSensor(
            task_id="too_big",
            conn_id="target",
            sql="SELECT MAX(value) FROM sensor_signal",
            success=lambda value: value > 10,
            failure=lambda value: value == 3,
        )

    assert run_sensor(enough).state == "success"
    outcome = run_sensor(too_big)
    assert outcome.state == "failed" and "failure criteria met by 3" in (outcome.error or "")


def test_sql_sensor_with_fail_on_empty_fails_when_no_row_comes_back(
    run_sensor: RunSensor, target_db: TargetDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWCTL_CONN_TARGET", target_db.conn_env)
    with sensing_dag():
        sensor = SqlSensor(task_id="wait", conn_id="target", sql="SELECT value FROM sensor_signal", fail_on_empty=True)

    outcome = run_sensor(sensor)

    assert outcome.state == "failed" and "no row" in (outcome.error or "")


def test_sql_sensor_refuses_a_connection_that_is_not_a_sql_database(
    run_sensor: RunSensor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWCTL_CONN_API", "http://127.0.0.1:9")
    with sensing_dag():
        sensor = SqlSensor(task_id="wait", conn_id="api", sql="SELECT 1")

    outcome = run_sensor(sensor)

    assert outcome.state == "failed" and "not a DbApiHook" in (outcome.error or "")


# HttpSensor


def test_http_sensor_keeps_poking_through_404_until_the_resource_appears(
    run_sensor: RunSensor, static_site: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, folder = static_site
    monkeypatch.setenv("FLOWCTL_CONN_SITE", url)
    with sensing_dag():
        sensor = HttpSensor(
            task_id="wait", http_conn_id="site", endpoint="exports/{{ ds }}.json", poke_interval=TINY, timeout=30
        )
    (folder / "exports").mkdir()
    later(0.3, lambda: (folder / "exports" / "2024-01-01.json").write_text("{}"))

    assert run_sensor(sensor).state == "success"


def test_http_sensor_in_reschedule_mode_waits_on_a_404(
    run_sensor: RunSensor, static_site: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, folder = static_site
    monkeypatch.setenv("FLOWCTL_CONN_SITE", url)
    with sensing_dag():
        sensor = HttpSensor(
            task_id="wait", http_conn_id="site", endpoint="ready.txt", mode="reschedule", poke_interval=7
        )

    assert_waits_in_reschedule_mode(run_sensor(sensor), within=7)
    (folder / "ready.txt").write_text("yes")
    assert run_sensor(sensor).state == "success"


def test_http_sensor_fails_on_an_error_status_outside_the_allowlist(
    run_sensor: RunSensor, ratings_api: RatingsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWCTL_CONN_RATINGS", f"http://{LOGIN}:wrong-password@127.0.0.1:{ratings_api.port}")
    with sensing_dag():
        sensor = HttpSensor(task_id="wait", http_conn_id="ratings", endpoint="ratings", retries=1)

    outcome = run_sensor(sensor)

    assert outcome.state == "failed" and outcome.retryable
    assert "401" in (outcome.error or "")


def test_http_sensor_response_check_gets_the_response_and_the_context_keys_it_names(
    run_sensor: RunSensor, ratings_api: RatingsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWCTL_CONN_RATINGS", f"http://{LOGIN}:{PASSWORD}@127.0.0.1:{ratings_api.port}")
    seen: list[str] = []

    def has_ratings(response: Any, ds: str) -> bool:
        seen.append(ds)
        return response.json()["total"] > 0

    with sensing_dag():
        sensor = HttpSensor(
            task_id="wait",
            http_conn_id="ratings",
            endpoint="ratings",
            request_params={"start_date": "{{ ds }}", "end_date": "{{ macros.ds_add(ds, 1) }}"},
            headers={"X-Run": "{{ run_id }}"},
            response_check=has_ratings,
            mode="reschedule",
        )

    assert run_sensor(sensor, logical_date=DAY).state == "success"
    assert run_sensor(sensor, logical_date=datetime(2023, 6, 1, tzinfo=UTC)).state == "up_for_reschedule"
    assert seen == ["2024-01-01", "2023-06-01"]
    assert ratings_api.ratings_requests()[0]["query"] == {"start_date": "2024-01-01", "end_date": "2024-01-02"}


# ExternalTaskSensor, against runs in this backend's metadata DB


def add_external_dag(factory: sessionmaker[Session], dag_id: str = "upstream", tasks: tuple[str, ...] = ("extract",)):
    with factory.begin() as session:
        session.add(Dag(dag_id=dag_id, fileloc=f"/dags/{dag_id}.py", max_active_runs=16, max_active_tasks=16))
        session.flush()
        version = SerializedDag(
            dag_id=dag_id,
            content_hash="0" * 64,
            data={"dag_id": dag_id, "tasks": [{"task_id": task_id} for task_id in tasks]},
            fileloc=f"/dags/{dag_id}.py",
            created_at=datetime.now(UTC),
        )
        session.add(version)
        session.flush()
        session.get(Dag, dag_id).latest_version_id = version.id


def add_external_run(
    factory: sessionmaker[Session],
    logical_date: datetime,
    *,
    dag_id: str = "upstream",
    state: str = "running",
    tasks: dict[str, str | list[str]] | None = None,
) -> str:
    """A run of the other DAG on `logical_date`, with task instances in the given states (a list of
    states: a mapped task's instances)."""
    run_id = f"scheduled__{logical_date.isoformat()}"
    with factory.begin() as session:
        session.add(DagRun(dag_id=dag_id, run_id=run_id, run_type="scheduled", state=state, logical_date=logical_date))
        session.flush()
        for task_id, states in (tasks or {}).items():
            mapped = isinstance(states, list)
            for index, task_state in enumerate(states if mapped else [states]):
                map_index = index if mapped else -1
                session.add(
                    TaskInstance(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index, state=task_state)
                )
    return run_id


def set_task_state(factory: sessionmaker[Session], run_id: str, task_id: str, state: str) -> None:
    with factory.begin() as session:
        query = update(TaskInstance).where(TaskInstance.run_id == run_id, TaskInstance.task_id == task_id)
        session.execute(query.values(state=state))


@pytest.fixture
def upstream(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """The metadata DB with a DAG `upstream` (tasks extract, load) and no runs yet."""
    add_external_dag(session_factory, tasks=("extract", "load"))
    return session_factory


def test_external_task_sensor_is_done_when_the_task_succeeded_in_the_run_on_the_same_logical_date(
    run_sensor: RunSensor, upstream: sessionmaker[Session]
) -> None:
    add_external_run(upstream, DAY, tasks={"extract": "success", "load": "running"})
    add_external_run(upstream, DAY + timedelta(days=1), tasks={"extract": "running"})
    with sensing_dag():
        sensor = ExternalTaskSensor(
            task_id="wait", external_dag_id="upstream", external_task_id="extract", mode="reschedule", poke_interval=9
        )

    assert run_sensor(sensor, logical_date=DAY, session_factory=upstream).state == "success"
    waiting = run_sensor(sensor, logical_date=DAY + timedelta(days=1), session_factory=upstream)
    assert_waits_in_reschedule_mode(waiting, within=9)
    nothing_yet = run_sensor(sensor, logical_date=DAY + timedelta(days=2), session_factory=upstream)
    assert nothing_yet.state == "up_for_reschedule"


def test_external_task_sensor_in_poke_mode_sees_the_task_finish(
    run_sensor: RunSensor, upstream: sessionmaker[Session]
) -> None:
    run_id = add_external_run(upstream, DAY, tasks={"extract": "running", "load": "none"})
    with sensing_dag():
        sensor = ExternalTaskSensor(
            task_id="wait",
            external_dag_id="upstream",
            external_task_ids=["extract", "load"],
            poke_interval=TINY,
            timeout=30,
        )
    later(0.2, lambda: set_task_state(upstream, run_id, "extract", "success"))
    later(0.4, lambda: set_task_state(upstream, run_id, "load", "success"))
    started = time.monotonic()

    assert run_sensor(sensor, logical_date=DAY, session_factory=upstream).state == "success"
    assert time.monotonic() - started >= 0.4


def test_external_task_sensor_waits_for_every_instance_of_a_mapped_task(
    run_sensor: RunSensor, upstream: sessionmaker[Session]
) -> None:
    run_id = add_external_run(upstream, DAY, tasks={"extract": ["success", "running", "success"]})
    with sensing_dag():
        sensor = ExternalTaskSensor(task_id="wait", external_dag_id="upstream", external_task_id="extract", timeout=0)

    assert run_sensor(sensor, logical_date=DAY, session_factory=upstream).state == "failed"
    set_task_state(upstream, run_id, "extract", "success")
    assert run_sensor(sensor, logical_date=DAY, session_factory=upstream).state == "success"


def test_a_failed_state_fails_the_sensor_at_once_or_skips_it_with_soft_fail(
    run_sensor: RunSensor, upstream: sessionmaker[Session]
) -> None:
    add_external_run(upstream, DAY, tasks={"extract": "success", "load": "upstream_failed"})
    with sensing_dag():
        failing = ExternalTaskSensor(
            task_id="failing",
            external_dag_id="upstream",
            external_task_ids=["extract", "load"],
            failed_states=["failed", "upstream_failed"],
            timeout=3600,
        )
        soft = ExternalTaskSensor(
            task_id="soft",
            external_dag_id="upstream",
            external_task_id="load",
            failed_states=["upstream_failed"],
            soft_fail=True,
        )
    started = time.monotonic()

    failed = run_sensor(failing, logical_date=DAY, session_factory=upstream)
    skipped = run_sensor(soft, logical_date=DAY, session_factory=upstream)

    assert time.monotonic() - started < 5  # no waiting for the hour-long timeout
    assert failed.state == "failed" and failed.retryable  # as in Airflow: the other task may be cleared
    assert "upstream_failed" in (failed.error or "") and "load" in (failed.error or "")
    assert skipped.state == "skipped"


def test_a_skipped_state_skips_the_sensor(run_sensor: RunSensor, upstream: sessionmaker[Session]) -> None:
    add_external_run(upstream, DAY, tasks={"extract": "skipped"})
    with sensing_dag():
        sensor = ExternalTaskSensor(
            task_id="wait", external_dag_id="upstream", external_task_id="extract", skipped_states=["skipped"]
        )

    assert run_sensor(sensor, logical_date=DAY, session_factory=upstream).state == "skipped"


def test_without_task_ids_the_sensor_waits_for_the_whole_run(
    run_sensor: RunSensor, upstream: sessionmaker[Session]
) -> None:
    add_external_run(upstream, DAY, state="success")
    add_external_run(upstream, DAY + timedelta(days=1), state="running")
    add_external_run(upstream, DAY + timedelta(days=2), state="failed")
    with sensing_dag():
        sensor = ExternalTaskSensor(
            task_id="wait", external_dag_id="upstream", failed_states=["failed"], mode="reschedule"
        )

    assert run_sensor(sensor, logical_date=DAY, session_factory=upstream).state == "success"
    assert run_sensor(sensor, logical_date=DAY + timedelta(days=1), session_factory=upstream).state == (
        "up_for_reschedule"
    )
    assert run_sensor(sensor, logical_date=DAY + timedelta(days=2), session_factory=upstream).state == "failed"


def test_execution_delta_and_execution_date_fn_choose_the_runs_to_look_at(
    run_sensor: RunSensor, upstream: sessionmaker[Session]
) -> None:
    # Given: the other DAG runs hourly; yesterday 23:00 succeeded, today 00:00 is still running
    yesterday_last = DAY - timedelta(hours=1)
    add_external_run(upstream, yesterday_last, tasks={"extract": "success"})
    run_id = add_external_run(upstream, DAY, tasks={"extract": "running"})

    def last_two_hours(logical_date: datetime, dag: DAG) -> list[datetime]:
        assert dag.dag_id == "sensing"  # context keys it names come along
        return [logical_date - timedelta(hours=1), logical_date]

    with sensing_dag():
        delta = ExternalTaskSensor(
            task_id="delta",
            external_dag_id="upstream",
            external_task_id="extract",
            execution_delta=timedelta(hours=1),
            timeout=0,
        )
        by_function = ExternalTaskSensor(
            task_id="by_function",
            external_dag_id="upstream",
            external_task_id="extract",
            execution_date_fn=last_two_hours,
            timeout=0,
        )

    assert run_sensor(delta, logical_date=DAY, session_factory=upstream).state == "success"
    assert run_sensor(by_function, logical_date=DAY, session_factory=upstream).state == "failed"
    set_task_state(upstream, run_id, "extract", "success")
    assert run_sensor(by_function, logical_date=DAY, session_factory=upstream).state == "success"


def test_check_existence_fails_at_once_for_an_unknown_dag_or_task(
    run_sensor: RunSensor, upstream: sessionmaker[Session]
) -> None:
    with sensing_dag():
        no_dag = ExternalTaskSensor(task_id="no_dag", external_dag_id="nowhere", check_existence=True, retries=2)
        no_task = ExternalTaskSensor(
            task_id="no_task", external_dag_id="upstream", external_task_id="transform", check_existence=True
        )
        unchecked = ExternalTaskSensor(
            task_id="unchecked", external_dag_id="nowhere", mode="reschedule", poke_interval=5
        )

    missing_dag = run_sensor(no_dag, logical_date=DAY, session_factory=upstream)
    missing_task = run_sensor(no_task, logical_date=DAY, session_factory=upstream)

    assert missing_dag.state == "failed" and not missing_dag.retryable
    assert "'nowhere' does not exist" in (missing_dag.error or "")
    assert missing_task.state == "failed" and "no task 'transform'" in (missing_task.error or "")
    assert run_sensor(unchecked, logical_date=DAY, session_factory=upstream).state == "up_for_reschedule"


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"external_task_id": "a", "external_task_ids": ["b"]}, "not both"),
        ({"execution_delta": timedelta(1), "execution_date_fn": lambda d: d}, "not both"),
        ({"external_task_ids": []}, "must not be empty"),
        ({"external_task_ids": ["a", "a"]}, "duplicates"),
        ({"external_task_id": "a", "allowed_states": ["done"]}, "not task instance states"),
        ({"allowed_states": ["upstream_failed"]}, "not DAG run states"),
        ({"external_task_id": "a", "failed_states": ["success"]}, "more than one"),
    ],
)
def test_external_task_sensor_refuses_contradictory_arguments_at_parse_time(
    arguments: dict[str, Any], problem: str
) -> None:
    with pytest.raises(DagDefinitionError, match=problem), sensing_dag():
        ExternalTaskSensor(task_id="wait", external_dag_id="upstream", **arguments)


# Timeouts and soft_fail, for every sensor waiting on something that never comes


def _never_done(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **options: Any) -> Any:
    """A sensor of `kind` whose condition never holds in these tests."""
    if kind == "file":
        return FileSensor(task_id="file", filepath=str(tmp_path / "never.csv"), **options)
    if kind == "date_time":
        return DateTimeSensor(task_id="date_time", target_time="2999-01-01T00:00:00", **options)
    if kind == "time_delta":
        return TimeDeltaSensor(task_id="time_delta", delta=timedelta(days=365 * 900), **options)
    if kind == "sql":
        monkeypatch.setenv("FLOWCTL_CONN_LOCAL", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "x.db")}))
        return SqlSensor(task_id="sql", conn_id="local", sql="SELECT 0", **options)
    if kind == "http":
        return HttpSensor(task_id="http", http_conn_id="site", endpoint="never.txt", **options)
    return ExternalTaskSensor(task_id="external", external_dag_id="upstream", external_task_id="extract", **options)


KINDS = ["file", "date_time", "time_delta", "sql", "http", "external"]


@pytest.fixture
def waiting_world(
    upstream: sessionmaker[Session], static_site: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> sessionmaker[Session]:
    monkeypatch.setenv("FLOWCTL_CONN_SITE", static_site[0])
    return upstream


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("soft_fail", [False, True], ids=["fail", "soft_fail"])
def test_in_poke_mode_a_sensor_times_out_counting_from_its_first_poke(
    kind: str,
    soft_fail: bool,
    run_sensor: RunSensor,
    waiting_world: sessionmaker[Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with sensing_dag():
        sensor = _never_done(kind, tmp_path, monkeypatch, poke_interval=TINY, timeout=0.2, soft_fail=soft_fail)
    started = time.monotonic()

    outcome = run_sensor(sensor, logical_date=DAY, session_factory=waiting_world)

    assert 0.2 <= time.monotonic() - started < 10
    if soft_fail:
        assert outcome.state == "skipped" and "timed out" in (outcome.error or "")
    else:
        assert_timed_out(outcome)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("soft_fail", [False, True], ids=["fail", "soft_fail"])
def test_in_reschedule_mode_a_sensor_times_out_across_tries(
    kind: str,
    soft_fail: bool,
    run_sensor: RunSensor,
    waiting_world: sessionmaker[Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with sensing_dag():
        sensor = _never_done(kind, tmp_path, monkeypatch, mode="reschedule", timeout=60, soft_fail=soft_fail)

    first = run_sensor(sensor, logical_date=DAY, session_factory=waiting_world)
    last = run_sensor(sensor, logical_date=DAY, session_factory=waiting_world, first_poke_at=long_ago())

    assert first.state == "up_for_reschedule" and first.first_poke_at is not None
    if soft_fail:
        assert last.state == "skipped"
    else:
        assert_timed_out(last)


def test_every_sensor_is_importable_from_its_airflow_named_module() -> None:
    from flowctl.sensors.date_time import DateTimeSensor as FromDateTime
    from flowctl.sensors.external_task import ExternalTaskSensor as FromExternalTask
    from flowctl.sensors.filesystem import FileSensor as FromFilesystem
    from flowctl.sensors.http import HttpSensor as FromHttp
    from flowctl.sensors.sql import SqlSensor as FromSql
    from flowctl.sensors.time_delta import TimeDeltaSensor as FromTimeDelta

    found: list[Callable[..., Any]] = [FromDateTime, FromExternalTask, FromFilesystem, FromHttp, FromSql, FromTimeDelta]
    assert found == [DateTimeSensor, ExternalTaskSensor, FileSensor, HttpSensor, SqlSensor, TimeDeltaSensor]
