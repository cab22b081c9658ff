"""Schedules in real runs, on every backend (SPEC §4): cron catch-up with one scheduled run per missed
interval and its data interval, catchup=False, cron evaluated in the DAG's time zone but stored in UTC,
depends_on_past and wait_for_downstream across concurrent runs, max_active_runs=1, and end_date.

Daily cron schedules tick at 00:00 UTC; near midnight UTC the set of complete days could change while a
test runs, so those tests skip themselves in the last two minutes before it. The other scenarios use an
hourly timedelta from a start_date half an hour off the hour grid, so no interval completes mid-test.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flowctl.db.models import DagRun
from tests.scheduler.conftest import FINISHED_RUN_STATES, Deployment, read_ledger, wait_until

DAY = timedelta(days=1)

# A task that appends what it ran for, and when, to OUT_DIR/<dag_id>.jsonl; `nap` seconds in between.
LEDGER_TASK = """
import json
import pathlib
import time


def note(nap=0.0, **context):
    started_at = time.time()
    time.sleep(nap)
    entry = {
        "task": context["ti"].task_id,
        "run_id": context["run_id"],
        "ds": context["ds"],
        "ts": context["ts"],
        "logical_date": context["logical_date"].isoformat(),
        "data_interval_start": context["data_interval_start"].isoformat(),
        "data_interval_end": context["data_interval_end"].isoformat(),
        "start": started_at,
        "end": time.time(),
    }
    with pathlib.Path(OUT_DIR, context["dag"].dag_id + ".jsonl").open("a") as ledger:
        ledger.write(json.dumps(entry) + "\\n")
"""


def utc_midnight(days_ago: int = 0) -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - days_ago * DAY


def not_near_midnight_utc() -> None:
    """Skip when a new day (a new daily interval) could complete while the test runs."""
    if utc_midnight(-1) - datetime.now(UTC) < timedelta(minutes=2):
        pytest.skip("too close to midnight UTC: the complete daily intervals could change mid-test")


def off_grid_start(hours_ago: int) -> datetime:
    """A start_date `hours_ago` and a half hours ago: an hourly schedule then has `hours_ago` complete
    intervals, and the next one ends half an hour from now."""
    return (datetime.now(UTC) - timedelta(hours=hours_ago, minutes=30)).replace(microsecond=0)


def wait_for_finished_runs(deployment: Deployment, dag_id: str, count: int, timeout: float = 30) -> list[DagRun]:
    """Wait until `dag_id` has `count` runs (or more), all finished; returns them oldest first."""

    def finished() -> list[DagRun] | None:
        deployment.scheduler.check_running()
        runs = deployment.runs(dag_id)
        done = len(runs) >= count and all(run.state in FINISHED_RUN_STATES for run in runs)
        return sorted(runs, key=lambda run: run.logical_date) if done else None

    return wait_until(
        finished,
        timeout=timeout,
        what=lambda: (
            f"{count} finished runs of {dag_id} (now {[(r.run_id, r.state) for r in deployment.runs(dag_id)]})"
        ),
    )


def dag_row(deployment: Deployment, dag_id: str) -> dict[str, Any]:
    """The DAG as `flowctl dags list -o json` shows it."""
    result = deployment.cli("dags", "list", "-o", "json")
    assert result.exit_code == 0, result
    return next(row for row in json.loads(result.stdout) if row["dag_id"] == dag_id)


def spans(entries: list[dict[str, Any]], task: str) -> list[tuple[float, float]]:
    """(start, end) of each ledger entry of `task`, in logical-date order."""
    return [(e["start"], e["end"]) for e in sorted(entries, key=lambda e: e["logical_date"]) if e["task"] == task]


def most_at_once(periods: list[tuple[float, float]]) -> int:
    return max(sum(start <= moment < end for start, end in periods) for moment, _ in periods)


BYSTANDER = """
from flowctl import DAG
from flowctl.operators import EmptyOperator

with DAG("bystander", schedule=None, is_paused_upon_creation=False):
    EmptyOperator(task_id="only")
"""


def let_the_scheduler_look_at_everything(deployment: Deployment) -> None:
    """Trigger and finish a run of the BYSTANDER DAG: the trigger's wake-up makes the scheduler look at
    every DAG and run again, so whatever it would do about the others it has done by then."""
    run_id = deployment.trigger("bystander")
    assert deployment.wait_for_run("bystander", run_id) == "success"


# Cron catch-up

DAILY = (
    LEDGER_TASK
    + """
import pendulum

from flowctl import DAG
from flowctl.operators import PythonOperator

with DAG(
    "DAG_ID",
    schedule="0 0 * * *",
    start_date=pendulum.parse("START"),
    catchup=CATCHUP,
    is_paused_upon_creation=False,
):
    PythonOperator(task_id="note", python_callable=note)
"""
)


def daily_dag(dag_id: str, *, start: datetime, catchup: bool) -> str:
    return DAILY.replace("DAG_ID", dag_id).replace("START", start.isoformat()).replace("CATCHUP", str(catchup))


def test_cron_catchup_creates_one_scheduled_run_per_missed_day_and_they_all_succeed(
    deployment: Deployment,
) -> None:
    # Given: a daily DAG that started three days ago, with catchup
    not_near_midnight_utc()
    start = utc_midnight(days_ago=3)
    deployment.write_dag("daily_catchup", daily_dag("daily_catchup", start=start, catchup=True))

    # When
    deployment.start()

    # Then: one scheduled run for each of the three complete days, each covering its day
    runs = wait_for_finished_runs(deployment, "daily_catchup", 3)
    days = [start, start + DAY, start + 2 * DAY]
    assert [run.logical_date for run in runs] == days
    assert [run.data_interval_start for run in runs] == days
    assert [run.data_interval_end for run in runs] == [day + DAY for day in days]
    assert [run.run_id for run in runs] == [f"scheduled__{day:%Y-%m-%d}T00:00:00+00:00" for day in days]
    assert {(run.run_type, run.external_trigger, run.state) for run in runs} == {("scheduled", False, "success")}
    assert [deployment.ti_states(run.run_id) for run in runs] == [{"note": "success"}] * 3

    # ...and each task saw its run's interval in its context (UTC)
    seen = sorted(read_ledger(deployment.out / "daily_catchup.jsonl"), key=lambda e: e["logical_date"])
    assert [(e["run_id"], e["ds"]) for e in seen] == [
        (run.run_id, f"{day:%Y-%m-%d}") for run, day in zip(runs, days, strict=True)
    ]
    assert [e["data_interval_end"] for e in seen] == [(day + DAY).isoformat() for day in days]

    # ...and the next run is today's, created once today is over
    assert dag_row(deployment, "daily_catchup")["next_dagrun"] == utc_midnight().isoformat()


def test_without_catchup_only_the_latest_complete_day_gets_a_run(deployment: Deployment) -> None:
    # Given: the same daily DAG, three days late, without catchup
    not_near_midnight_utc()
    deployment.write_dag("daily_latest", daily_dag("daily_latest", start=utc_midnight(days_ago=3), catchup=False))
    deployment.write_dag("bystander", BYSTANDER)

    # When
    deployment.start()

    # Then: one run, for yesterday
    (run,) = wait_for_finished_runs(deployment, "daily_latest", 1)
    yesterday = utc_midnight(days_ago=1)
    assert (run.logical_date, run.data_interval_start, run.data_interval_end) == (yesterday, yesterday, yesterday + DAY)
    assert run.run_id == f"scheduled__{yesterday:%Y-%m-%d}T00:00:00+00:00"
    assert (run.run_type, run.state) == ("scheduled", "success")

    # ...none for the two days before, even once the scheduler has had another look
    let_the_scheduler_look_at_everything(deployment)
    assert [r.run_id for r in deployment.runs("daily_latest")] == [run.run_id]
    assert dag_row(deployment, "daily_latest")["next_dagrun"] == utc_midnight().isoformat()


SEOUL = (
    LEDGER_TASK
    + """
import pendulum

from flowctl import DAG
from flowctl.operators import PythonOperator

with DAG(
    "seoul_morning",
    schedule="0 9 * * *",
    start_date=pendulum.datetime(YEAR, MONTH, DAY, tz="Asia/Seoul"),
    catchup=True,
    is_paused_upon_creation=False,
):
    PythonOperator(task_id="note", python_callable=note)
"""
)


def test_a_cron_schedule_in_asia_seoul_fires_at_9_kst_and_stores_0_utc(deployment: Deployment) -> None:
    # Given: a 09:00 daily cron in Asia/Seoul (UTC+9, no DST), starting at midnight KST two days ago
    not_near_midnight_utc()  # 09:00 KST is 00:00 UTC
    first = utc_midnight(days_ago=2)  # 09:00 KST on that day: the first tick after midnight KST
    source = SEOUL.replace("YEAR", str(first.year)).replace("MONTH", str(first.month))
    deployment.write_dag("seoul_morning", source.replace("DAY", str(first.day)))

    # When
    deployment.start()

    # Then: runs at 09:00 KST, stored as 00:00 UTC, each covering one day
    runs = wait_for_finished_runs(deployment, "seoul_morning", 2)
    days = [first, first + DAY]
    assert [run.logical_date for run in runs] == days
    assert [run.logical_date.utcoffset() for run in runs] == [timedelta(0)] * 2
    assert [(run.data_interval_start, run.data_interval_end) for run in runs] == [(d, d + DAY) for d in days]
    assert [run.run_id for run in runs] == [f"scheduled__{d:%Y-%m-%d}T00:00:00+00:00" for d in days]
    assert {run.state for run in runs} == {"success"}

    # ...and templates and `dags list` show UTC too
    seen = sorted(read_ledger(deployment.out / "seoul_morning.jsonl"), key=lambda e: e["logical_date"])
    assert [e["ts"] for e in seen] == [d.isoformat() for d in days]
    assert [e["ds"] for e in seen] == [f"{d:%Y-%m-%d}" for d in days]
    row = dag_row(deployment, "seoul_morning")
    assert (row["schedule"], row["next_dagrun"]) == ("0 9 * * *", utc_midnight().isoformat())


# Runs that depend on the previous run

HOURLY = (
    LEDGER_TASK
    + """
from datetime import datetime, timedelta

from flowctl import DAG
from flowctl.operators import PythonOperator

with DAG(
    "DAG_ID",
    schedule=timedelta(hours=1),
    start_date=datetime.fromisoformat("START"),
    catchup=True,
    max_active_runs=MAX_ACTIVE_RUNS,
    is_paused_upon_creation=False,
) as dag:
"""
)


def hourly_dag(dag_id: str, *, start: datetime, max_active_runs: int, tasks: str) -> str:
    header = HOURLY.replace("DAG_ID", dag_id).replace("START", start.isoformat())
    return header.replace("MAX_ACTIVE_RUNS", str(max_active_runs)) + tasks


PAST_TASKS = """
    free = PythonOperator(task_id="free", python_callable=note, op_kwargs={"nap": 1.0})
    ordered = PythonOperator(task_id="ordered", python_callable=note, op_kwargs={"nap": 0.3}, depends_on_past=True)
"""


def test_depends_on_past_runs_a_task_only_after_it_succeeded_in_the_previous_run(deployment: Deployment) -> None:
    # Given: three hourly intervals to catch up, all allowed to run at once
    start = off_grid_start(hours_ago=3)
    deployment.write_dag("past", hourly_dag("past", start=start, max_active_runs=3, tasks=PAST_TASKS))

    # When
    deployment.start()

    # Then
    runs = wait_for_finished_runs(deployment, "past", 3)
    assert [run.logical_date for run in runs] == [start + timedelta(hours=i) for i in range(3)]
    assert {run.state for run in runs} == {"success"}
    entries = read_ledger(deployment.out / "past.jsonl")

    # ...the runs did run side by side (their free tasks overlapped)...
    assert most_at_once(spans(entries, "free")) >= 2, spans(entries, "free")

    # ...but each run's `ordered` started only after the previous run's had ended, in logical-date order
    ordered = spans(entries, "ordered")
    assert len(ordered) == 3
    for (_, earlier_end), (later_start, _) in itertools.pairwise(ordered):
        assert earlier_end <= later_start, ordered
    tis = [deployment.ti(run.run_id, "ordered") for run in runs]
    for earlier, later in itertools.pairwise(tis):
        assert earlier.end_date <= later.start_date, [(ti.run_id, ti.start_date, ti.end_date) for ti in tis]


PAST_FAILURE_TASKS = """
    import pathlib

    def gate(**context):
        note(**context)
        if not pathlib.Path(OUT_DIR, "fixed").exists():
            raise RuntimeError("not fixed yet")

    PythonOperator(task_id="gate", python_callable=gate, depends_on_past=True) >> PythonOperator(
        task_id="after", python_callable=note
    )
"""


def test_depends_on_past_holds_a_task_while_it_failed_in_the_previous_run(deployment: Deployment) -> None:
    # Given: two hourly intervals to catch up at once, whose `gate` fails until a file exists
    start = off_grid_start(hours_ago=2)
    deployment.write_dag(
        "past_failed", hourly_dag("past_failed", start=start, max_active_runs=2, tasks=PAST_FAILURE_TASKS)
    )
    deployment.write_dag("bystander", BYSTANDER)
    deployment.start()
    first = f"scheduled__{start.isoformat()}"
    second = f"scheduled__{(start + timedelta(hours=1)).isoformat()}"

    # When: the first run's gate fails
    assert deployment.wait_for_run("past_failed", first) == "failed"
    assert deployment.ti_states(first) == {"gate": "failed", "after": "upstream_failed"}
    let_the_scheduler_look_at_everything(deployment)

    # Then: the second run's gate never started (no try, no log): it waits in state none, its run running
    assert deployment.run_state("past_failed", second) == "running"
    assert deployment.ti_states(second) == {"gate": "none", "after": "none"}
    assert deployment.ti(second, "gate").try_number == 0
    assert deployment.tries(second, "gate") == []
    assert not deployment.log_path("past_failed", second, "gate").exists()
    assert [e["run_id"] for e in read_ledger(deployment.out / "past_failed.jsonl")] == [first]

    # When: the cause is fixed and the first run's gate is cleared
    (deployment.out / "fixed").touch()
    deployment.flowctl("tasks", "clear", "past_failed", "-t", "^gate$", "--run-id", first, "--downstream", "--yes")

    # Then: the first run succeeds, and only then the second run's gate runs
    assert deployment.wait_for_run("past_failed", first) == "success"
    assert deployment.wait_for_run("past_failed", second) == "success"
    first_gate, second_gate = deployment.tries(first, "gate")[-1], deployment.tries(second, "gate")[0]
    assert first_gate.try_number == 2 and second_gate.try_number == 1
    assert first_gate.end_date <= second_gate.start_date


DOWNSTREAM_TASKS = """
    extract = PythonOperator(
        task_id="extract", python_callable=note, depends_on_past=True, wait_for_downstream=True
    )
    extract >> PythonOperator(task_id="load", python_callable=note, op_kwargs={"nap": 1.0})
"""


def test_wait_for_downstream_also_waits_for_the_previous_runs_direct_downstream(deployment: Deployment) -> None:
    # Given: two hourly intervals to catch up at once; extract is quick, its downstream load slow
    start = off_grid_start(hours_ago=2)
    deployment.write_dag("downstream", hourly_dag("downstream", start=start, max_active_runs=2, tasks=DOWNSTREAM_TASKS))

    # When
    deployment.start()

    # Then: the second run's extract started only once the first run's load had ended
    runs = wait_for_finished_runs(deployment, "downstream", 2)
    assert {run.state for run in runs} == {"success"}
    entries = read_ledger(deployment.out / "downstream.jsonl")
    (_, first_load_end), _ = spans(entries, "load")
    _, (second_extract_start, _) = spans(entries, "extract")
    assert first_load_end <= second_extract_start, entries


ONE_AT_A_TIME_TASKS = """
    first = PythonOperator(task_id="first", python_callable=note, op_kwargs={"nap": 0.3})
    first >> PythonOperator(task_id="second", python_callable=note, op_kwargs={"nap": 0.3})
"""


def test_max_active_runs_1_catches_up_one_run_at_a_time_in_order(deployment: Deployment) -> None:
    # Given: three hourly intervals to catch up, one run at a time
    start = off_grid_start(hours_ago=3)
    deployment.write_dag("serial", hourly_dag("serial", start=start, max_active_runs=1, tasks=ONE_AT_A_TIME_TASKS))

    # When
    deployment.start()

    # Then: every run succeeded...
    runs = wait_for_finished_runs(deployment, "serial", 3)
    assert [run.logical_date for run in runs] == [start + timedelta(hours=i) for i in range(3)]
    assert {run.state for run in runs} == {"success"}

    # ...and no run started before the previous one (by logical date) had ended, in the DB and in the ledger
    for earlier, later in itertools.pairwise(runs):
        assert earlier.end_date <= later.start_date, [(r.run_id, r.start_date, r.end_date) for r in runs]
    entries = read_ledger(deployment.out / "serial.jsonl")
    by_run: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_run.setdefault(entry["logical_date"], []).append(entry)
    run_spans = sorted(
        (min(e["start"] for e in group), max(e["end"] for e in group), date) for date, group in by_run.items()
    )
    assert [date for _, _, date in run_spans] == [run.logical_date.isoformat() for run in runs]
    for (_, earlier_end, _), (later_start, _, _) in itertools.pairwise(run_spans):
        assert earlier_end <= later_start, run_spans


END_DATE = (
    LEDGER_TASK
    + """
from datetime import datetime, timedelta

from flowctl import DAG
from flowctl.operators import PythonOperator

with DAG(
    "ending",
    schedule=timedelta(hours=1),
    start_date=datetime.fromisoformat("START"),
    end_date=datetime.fromisoformat("END"),
    catchup=True,
    is_paused_upon_creation=False,
):
    PythonOperator(task_id="note", python_callable=note)
"""
)


def test_end_date_stops_run_creation_after_the_last_logical_date_it_allows(deployment: Deployment) -> None:
    # Given: four complete hourly intervals, but an end_date at the second one's start
    start = off_grid_start(hours_ago=4)
    end = start + timedelta(hours=1)
    deployment.write_dag("ending", END_DATE.replace("START", start.isoformat()).replace("END", end.isoformat()))
    deployment.write_dag("bystander", BYSTANDER)

    # When
    deployment.start()

    # Then: runs for the logical dates up to and including the end_date, and no more
    runs = wait_for_finished_runs(deployment, "ending", 2)
    let_the_scheduler_look_at_everything(deployment)
    runs = deployment.runs("ending")
    assert [run.logical_date for run in runs] == [start, end]
    assert {run.state for run in runs} == {"success"}
    assert dag_row(deployment, "ending")["next_dagrun"] is None
