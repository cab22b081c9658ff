"""The worked plugin example end to end, on every backend: the pip-installed flowctl-movielens package's
sensor, operator and macro in a daily DAG caught up over three intervals by a real scheduler, against the
ratings API on 127.0.0.1 (tests/fixtures/ratings_api.py); a second DAG waiting on each of those runs
with an ExternalTaskSensor and on the written file with a FileSensor. Credentials come from an encrypted
connection and never reach a log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from importlib import metadata

import pytest

from tests.fixtures.ratings_api import LOGIN, PASSWORD, RatingsApi, ratings_between, serve_ratings
from tests.scheduler.conftest import Deployment, wait_until

try:
    metadata.version("flowctl-movielens")
except metadata.PackageNotFoundError:
    pytest.skip(
        "the plugin fixture package flowctl-movielens is not installed: run `pip install -e '.[test]'`",
        allow_module_level=True,
    )

DAYS = [date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3)]

RATINGS_DAG = """
    from datetime import datetime, timezone

    from flowctl import DAG
    from flowctl.operators import PythonOperator
    from flowctl_movielens.hooks import MovielensHook
    from flowctl_movielens.operators import MovielensFetchRatingsOperator
    from flowctl_movielens.sensors import MovielensRatingsSensor


    def careless_debugging():
        conn = MovielensHook("movielens").connection
        print(f"calling the API as {conn.login} with password {conn.password}")


    with DAG(
        "movielens_ratings",
        schedule="@daily",
        start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
        end_date=datetime(2024, 1, 3, tzinfo=timezone.utc),
        catchup=True,
        is_paused_upon_creation=False,
    ):
        wait = MovielensRatingsSensor(
            task_id="wait_for_ratings", conn_id="movielens", mode="reschedule", poke_interval=0.3, timeout=120
        )
        fetch = MovielensFetchRatingsOperator(
            task_id="fetch_ratings",
            conn_id="movielens",
            output_path=OUT_DIR
            + "/{{ macros.movielens.ratings_file_name(data_interval_start | ds, data_interval_end | ds) }}",
            batch_size=2,
        )
        debug = PythonOperator(task_id="debug", python_callable=careless_debugging)
        wait >> fetch
"""

REPORT_DAG = """
    import json
    import pathlib
    from datetime import datetime, timezone

    from flowctl import DAG, task
    from flowctl.sensors import ExternalTaskSensor, FileSensor

    with DAG(
        "ratings_report",
        schedule="@daily",
        start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
        end_date=datetime(2024, 1, 3, tzinfo=timezone.utc),
        catchup=True,
        is_paused_upon_creation=False,
    ):
        fetched = ExternalTaskSensor(
            task_id="wait_for_fetch",
            external_dag_id="movielens_ratings",
            external_task_id="fetch_ratings",
            check_existence=True,
            mode="reschedule",
            poke_interval=0.3,
            timeout=120,
        )
        landed = FileSensor(
            task_id="wait_for_file",
            fs_conn_id="ratings_dir",
            filepath="ratings_{{ ds }}_*.json",
            poke_interval=0.1,
            timeout=30,
        )

        @task
        def report(ds=None):
            ratings = json.loads(next(pathlib.Path(OUT_DIR).glob(f"ratings_{ds}_*.json")).read_text())
            summary = {"count": len(ratings), "mean": sum(r["rating"] for r in ratings) / len(ratings)}
            pathlib.Path(OUT_DIR, f"report_{ds}.json").write_text(json.dumps(summary))
            return summary

        fetched >> landed >> report()
"""


def run_id_of(day: date) -> str:
    return f"scheduled__{day.isoformat()}T00:00:00+00:00"


@pytest.fixture
def ratings_api() -> Iterator[RatingsApi]:
    with serve_ratings() as api:
        api.published_through = DAYS[1]  # the third day's ratings come later in the test
        yield api


def test_the_plugin_fetches_each_intervals_ratings_and_another_dag_waits_for_them(
    deployment: Deployment, ratings_api: RatingsApi
) -> None:
    # Given: the plugin DAG and a DAG depending on it, the API's credentials in an encrypted connection
    deployment.write_dag("movielens_ratings", RATINGS_DAG)
    deployment.write_dag("ratings_report", REPORT_DAG)
    deployment.prepare()
    api_connection = ["--conn-type", "movielens", "--conn-host", "127.0.0.1", "--conn-port", str(ratings_api.port)]
    api_connection += ["--conn-login", LOGIN, "--conn-password", PASSWORD, "--conn-schema", "http"]
    folder_connection = ["--conn-type", "fs", "--conn-extra", json.dumps({"path": str(deployment.out)})]
    for conn_id, fields in (("movielens", api_connection), ("ratings_dir", folder_connection)):
        added = deployment.cli("connections", "add", conn_id, *fields)
        assert added.exit_code == 0, added.stderr

    # When: the scheduler catches up over the three daily intervals
    deployment.start_scheduler()

    # Then the first two days go through; the third waits for its ratings, and the report for it waits too
    for day in DAYS[:2]:
        assert deployment.wait_for_run("movielens_ratings", run_id_of(day), timeout=90) == "success"
    last = run_id_of(DAYS[2])
    wait_until(
        lambda: deployment.ti_states(last).get("wait_for_ratings") == "up_for_reschedule",
        timeout=60,
        what="the third day's ratings sensor to wait",
    )
    assert deployment.ti_states(last)["fetch_ratings"] == "none"
    for day in DAYS[:2]:
        assert deployment.wait_for_run("ratings_report", run_id_of(day), timeout=60) == "success"
    assert deployment.ti_states(last)["fetch_ratings"] == "none"
    assert deployment.run_state("ratings_report", last) in ("queued", "running")
    assert deployment.ti_states(last).get("report") in (None, "none")  # still behind its ExternalTaskSensor

    # When the third day's ratings are published
    ratings_api.published_through = DAYS[2]

    # Then every run succeeded and wrote exactly its interval's ratings
    assert deployment.wait_for_run("movielens_ratings", last, timeout=60) == "success"
    assert deployment.wait_for_run("ratings_report", last, timeout=60) == "success"
    assert [run.run_id for run in deployment.runs("movielens_ratings")] == [run_id_of(day) for day in DAYS]
    for day in DAYS:
        expected = ratings_between(day, day + timedelta(days=1))
        path = deployment.out / f"ratings_{day}_{day + timedelta(days=1)}.json"
        assert json.loads(path.read_text()) == expected
        assert deployment.xcom(run_id_of(day), "fetch_ratings") == len(expected)
        report = json.loads((deployment.out / f"report_{day}.json").read_text())
        assert report == {"count": len(expected), "mean": sum(r["rating"] for r in expected) / len(expected)}

    # ...paging through the API two ratings at a time, with the connection's credentials
    fetches = [r for r in ratings_api.ratings_requests() if r["query"].get("limit") == "2"]
    third = [r["query"]["offset"] for r in fetches if r["query"]["start_date"] == str(DAYS[2])]
    assert third == [str(offset) for offset in range(0, len(ratings_between(DAYS[2], DAYS[2] + timedelta(1))), 2)]
    assert all(request["authorized"] for request in ratings_api.requests)

    # ...and the password never reached a log, even where a task printed it
    debug_log = deployment.read_log("movielens_ratings", run_id_of(DAYS[0]), "debug")
    assert f"calling the API as {LOGIN} with password ***" in debug_log
    logs = deployment.task_logs()
    assert len(logs) >= 3 * 3 + 3 * 3
    assert not [log for log in logs if PASSWORD in log.read_text()]
