"""The scheduler as a process: its job heartbeat, paused DAGs, schedules, SIGTERM with a grace period,
`kill -9` and restart, and many tasks at once on SQLite (SPEC §4 and §8, ARCHITECTURE decisions 2-6)."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta

from tests.scheduler.conftest import Deployment, read_ledger, wait_until

ONE_TASK = """
from flowctl import DAG
from flowctl.operators import EmptyOperator

with DAG("DAG_ID", schedule=None, is_paused_upon_creation=PAUSED):
    EmptyOperator(task_id="only")
"""


def one_task_dag(dag_id: str, *, paused: bool = False) -> str:
    return ONE_TASK.replace("DAG_ID", dag_id).replace("PAUSED", str(paused))


def test_jobs_check_passes_while_the_scheduler_runs_and_fails_once_it_stopped(deployment: Deployment) -> None:
    # Given
    scheduler = deployment.start()

    # Then: its job row has a fresh heartbeat as soon as it started...
    wait_until(lambda: deployment.cli("jobs", "check").exit_code == 0, timeout=15, what="a live scheduler job")

    # ...and is ended by a clean stop
    assert scheduler.stop() == 0
    result = deployment.cli("jobs", "check")
    assert result.exit_code == 1, result
    assert "no alive scheduler job" in result.stderr


def test_a_run_of_a_paused_dag_stays_queued_until_the_dag_is_unpaused(deployment: Deployment) -> None:
    # Given
    deployment.write_dag("sleepy", one_task_dag("sleepy", paused=True))
    deployment.write_dag("awake", one_task_dag("awake"))
    deployment.start()

    # When: a run of the paused DAG is triggered, and then one of another DAG runs to its end
    paused_run = deployment.trigger("sleepy")
    awake_run = deployment.trigger("awake")
    assert deployment.wait_for_run("awake", awake_run) == "success"

    # Then: the scheduler has looked at everything since, and left the paused DAG's run alone
    assert deployment.run_state("sleepy", paused_run) == "queued"
    assert set(deployment.ti_states(paused_run).values()) <= {"none"}

    # When
    result = deployment.cli("dags", "unpause", "sleepy")

    # Then
    assert result.exit_code == 0, result
    assert deployment.wait_for_run("sleepy", paused_run) == "success"
    assert deployment.ti_states(paused_run) == {"only": "success"}


TICKING = """
from datetime import datetime, timedelta

from flowctl import DAG
from flowctl.operators import BashOperator

with DAG(
    "ticking",
    schedule=timedelta(seconds=2),
    start_date=datetime.fromisoformat("START"),
    catchup=False,
    is_paused_upon_creation=False,
):
    BashOperator(task_id="tick", bash_command="echo {{ data_interval_start }}")
"""


def test_a_timedelta_schedule_creates_scheduled_runs_for_the_latest_interval_only(
    deployment: Deployment,
) -> None:
    # Given: a 2 s schedule that started a few seconds ago, without catchup
    start = (datetime.now(UTC) - timedelta(seconds=5)).replace(microsecond=0)
    deployment.write_dag("ticking", TICKING.replace("START", start.isoformat()))

    # When
    deployment.start()

    # Then
    def first_scheduled_success() -> object:
        done = [r for r in deployment.runs("ticking") if r.state == "success"]
        return done[0] if done else None

    run = wait_until(first_scheduled_success, timeout=12, what="a scheduled run of ticking to succeed")
    assert run.run_id.startswith("scheduled__") and run.run_type == "scheduled"
    assert run.data_interval_end - run.data_interval_start == timedelta(seconds=2)
    assert run.logical_date == run.data_interval_start
    assert min(r.data_interval_start for r in deployment.runs("ticking")) > start  # no catchup
    assert deployment.ti_states(run.run_id) == {"tick": "success"}


# Heavier scenarios: SQLite is enough to show them (and is where concurrency is hardest).

SLOW_TASKS = """
from datetime import timedelta

from flowctl import DAG
from flowctl.operators import BashOperator

with DAG("slow", schedule=None, is_paused_upon_creation=False):
    once = BashOperator(task_id="once", bash_command="sleep 30")
    twice = BashOperator(
        task_id="twice", bash_command="sleep 30", retries=1, retry_delay=timedelta(seconds=0.2)
    )
    [once, twice] >> BashOperator(task_id="later", bash_command="echo later")
"""


def test_sigterm_stops_the_scheduler_after_the_grace_period_leaving_no_task_running(
    deployment: Deployment, sqlite_only: None
) -> None:
    # Given: two tasks that would run for 30 s
    deployment.write_dag("slow", SLOW_TASKS)
    scheduler = deployment.start(shutdown_grace=2)
    run_id = deployment.trigger("slow")
    wait_until(
        lambda: deployment.ti_states(run_id) == {"once": "running", "twice": "running", "later": "none"},
        timeout=15,
        what=lambda: f"both slow tasks to run ({deployment.ti_states(run_id)})",
    )

    # When
    stopping_at = time.monotonic()
    code = scheduler.stop()
    stopped_after = time.monotonic() - stopping_at

    # Then: it gave them the grace period, then stopped them and exited cleanly
    assert code == 0
    assert deployment.ti_states(run_id) == {"once": "failed", "twice": "up_for_retry", "later": "none"}
    assert "terminated by the scheduler" in deployment.read_log("slow", run_id, "once").splitlines()[-1]
    assert 1.8 <= stopped_after < 8


QUICK_TASK = """
from flowctl import DAG
from flowctl.operators import BashOperator

with DAG("quick", schedule=None, is_paused_upon_creation=False):
    BashOperator(task_id="quick", bash_command="sleep 1; echo done")
"""


def test_sigterm_lets_a_task_finish_within_the_grace_period_and_exits_once_it_is_done(
    deployment: Deployment, sqlite_only: None
) -> None:
    # Given: a 1 s task running, and a 5 s grace period
    deployment.write_dag("quick", QUICK_TASK)
    scheduler = deployment.start(shutdown_grace=5)
    run_id = deployment.trigger("quick")
    wait_until(lambda: deployment.ti_states(run_id) == {"quick": "running"}, timeout=15, what="the quick task to run")

    # When
    stopping_at = time.monotonic()
    code = scheduler.stop()
    stopped_after = time.monotonic() - stopping_at

    # Then: the task's success was recorded, and the scheduler did not wait out the whole grace period
    assert code == 0
    assert deployment.ti_states(run_id) == {"quick": "success"}
    assert stopped_after < 4


LEDGER_TASKS = """
import json
import os
import pathlib
import time
from datetime import timedelta

from flowctl import DAG
from flowctl.operators import PythonOperator

LEDGER = pathlib.Path(OUT_DIR, "ledger.jsonl")


def process_start(pid):
    \"\"\"The process's start time in clock ticks, or None when it is gone (or a zombie).\"\"\"
    try:
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]


def append(entry):
    with LEDGER.open("a") as ledger:
        ledger.write(json.dumps(entry) + "\\n")


def work(ti):
    me = {"task": ti.task_id, "pid": os.getpid(), "proc_start": process_start(os.getpid())}
    earlier = [json.loads(line) for line in LEDGER.read_text().splitlines()] if LEDGER.exists() else []
    ended = {(e["pid"], e["proc_start"]) for e in earlier if e["event"] == "end"}
    still_running = [
        e["pid"]
        for e in earlier
        if e["event"] == "start" and e["task"] == ti.task_id and (e["pid"], e["proc_start"]) not in ended
        and process_start(e["pid"]) == e["proc_start"]
    ]
    append({**me, "event": "start", "at": time.time(), "overlaps": still_running})
    time.sleep(0.1)
    append({**me, "event": "end", "at": time.time()})


with DAG(
    "ledger",
    schedule=None,
    is_paused_upon_creation=False,
    max_active_tasks=4,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=0.2)},
):
    for i in range(50):
        PythonOperator(task_id=f"t{i:02d}", python_callable=work)
"""


def test_after_kill_9_and_a_restart_the_run_finishes_without_any_try_running_twice_at_once(
    deployment: Deployment, sqlite_only: None
) -> None:
    # Given: a run of 50 short tasks, 4 at a time
    deployment.write_dag("ledger", LEDGER_TASKS)
    crashed = deployment.start()
    run_id = deployment.trigger("ledger")
    ledger = deployment.out / "ledger.jsonl"
    wait_until(
        lambda: sum(e["event"] == "start" for e in read_ledger(ledger)) >= 10,
        timeout=20,
        what="ten tasks to start",
    )

    # When: the scheduler dies mid-run and is started again
    crashed.kill()
    deployment.start_scheduler()

    # Then: the run finishes, every task succeeded, nothing is left queued or running
    assert deployment.wait_for_run("ledger", run_id, timeout=15) == "success"
    assert deployment.ti_states(run_id) == {f"t{i:02d}": "success" for i in range(50)}

    # ...and no task ever started while an earlier try of it was still alive
    entries = read_ledger(ledger)
    assert [e for e in entries if e["event"] == "start" and e["overlaps"]] == []
    for task_id in {e["task"] for e in entries}:
        spans = sorted(_spans(entries, task_id))
        for (_, earlier_end), (later_start, _) in itertools.pairwise(spans):
            assert earlier_end is None or earlier_end <= later_start, (task_id, spans)
    assert {e["task"] for e in entries if e["event"] == "end"} == {f"t{i:02d}" for i in range(50)}


def _spans(entries: list[dict], task_id: str) -> list[tuple[float, float | None]]:
    """(start, end or None if that try was killed) of each try of a task, from the ledger."""
    ends = {(e["pid"], e["proc_start"]): e["at"] for e in entries if e["event"] == "end"}
    return [
        (e["at"], ends.get((e["pid"], e["proc_start"])))
        for e in entries
        if e["event"] == "start" and e["task"] == task_id
    ]


WIDE = """
import json
import os
import pathlib
import time

from flowctl import DAG
from flowctl.operators import PythonOperator

LEDGER = pathlib.Path(OUT_DIR, "wide.jsonl")


def nap():
    started_at = time.time()
    time.sleep(1)
    with LEDGER.open("a") as ledger:
        ledger.write(json.dumps({"pid": os.getpid(), "start": started_at, "end": time.time()}) + "\\n")


with DAG("wide", schedule=None, is_paused_upon_creation=False, max_active_tasks=32):
    for i in range(24):
        PythonOperator(task_id=f"nap{i:02d}", python_callable=nap)
"""


def test_sqlite_runs_24_one_second_tasks_side_by_side_without_lock_errors(
    deployment: Deployment, sqlite_only: None
) -> None:
    # Given
    deployment.write_dag("wide", WIDE)
    deployment.start(env={"FLOWCTL__CORE__PARALLELISM": "32"})

    # When
    run_id = deployment.trigger("wide")

    # Then: far faster than one after the other, with at least 16 tasks at once
    assert deployment.wait_for_run("wide", run_id, timeout=30) == "success"
    run = next(r for r in deployment.runs("wide") if r.run_id == run_id)
    assert (run.end_date - run.start_date).total_seconds() < 10
    naps = read_ledger(deployment.out / "wide.jsonl")
    assert len(naps) == 24
    most_at_once = max(sum(n["start"] <= moment < n["end"] for n in naps) for moment in (n["start"] for n in naps))
    assert most_at_once >= 16
    logs = [*deployment.task_logs(), deployment.home / "scheduler.stderr"]
    assert [p for p in logs if "database is locked" in p.read_text()] == []
