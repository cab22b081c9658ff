"""Sensors and clearing in real runs, on every backend (SPEC §4 and §5): a poke-mode sensor holding its
try until a file appears, a reschedule-mode sensor freeing its pool slot between pokes within one try,
sensor timeouts counted from the first poke (failing, or skipping with soft_fail), and
`flowctl tasks clear` rerunning a failed task and its downstream while keeping the failed try.

Sensors and tasks append what they see to JSON-lines ledgers in OUT_DIR; the test creates the files they
wait for.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

from tests.scheduler.conftest import Deployment, read_ledger, wait_until

# A ledger helper for the DAG files: one JSON line per call, with the time and the process id.
NOTE = """
import itertools
import json
import time
import os
import pathlib
import time

OUT = pathlib.Path(OUT_DIR)


def note(ledger, **fields):
    with (OUT / ledger).open("a") as handle:
        handle.write(json.dumps({"at": time.time(), "pid": os.getpid(), **fields}) + "\\n")
"""


def state_of(deployment: Deployment, run_id: str, task_id: str) -> str | None:
    """The task instance's state, None before the run has created it."""
    return deployment.ti_states(run_id).get(task_id)


def states_for_run(deployment: Deployment, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
    """`flowctl tasks states-for-dag-run DAG_ID RUN_ID -o json`, by task id."""
    result = deployment.cli("tasks", "states-for-dag-run", dag_id, run_id, "-o", "json")
    assert result.exit_code == 0, result
    return {row["task_id"]: row for row in json.loads(result.stdout)}


POKE = (
    NOTE
    + """
from flowctl import DAG, task
from flowctl.sensors import PokeReturnValue

with DAG("arrival", schedule=None, is_paused_upon_creation=False):

    @task.sensor(poke_interval=0.2, timeout=60, mode="poke")
    def delivery(ti=None):
        note("pokes.jsonl", try_number=ti.try_number)
        path = OUT / "delivery.txt"
        return PokeReturnValue(is_done=path.exists(), xcom_value=path.read_text() if path.exists() else None)

    @task
    def unpack(content):
        note("unpack.jsonl")
        return content.upper()

    unpack(delivery())
"""
)


def test_a_poke_mode_sensor_keeps_its_try_running_until_the_file_appears_and_hands_on_its_value(
    deployment: Deployment,
) -> None:
    # Given: a sensor poking every 0.2 s for a file that does not exist yet
    deployment.write_dag("arrival", POKE)
    deployment.start()
    run_id = deployment.trigger("arrival")
    pokes = deployment.out / "pokes.jsonl"
    wait_until(lambda: len(read_ledger(pokes)) >= 3, timeout=15, what="three pokes")
    assert deployment.ti_states(run_id) == {"delivery": "running", "unpack": "none"}

    # When
    delivered_at = time.time()
    (deployment.out / "delivery.txt").write_text("parcel")

    # Then: the next poke saw it, the sensor succeeded and passed the content on
    assert deployment.wait_for_run("arrival", run_id) == "success"
    assert deployment.ti_states(run_id) == {"delivery": "success", "unpack": "success"}
    assert deployment.xcom(run_id, "delivery") == "parcel"
    assert deployment.xcom(run_id, "unpack") == "PARCEL"

    # ...every poke came from one process and one try, about 0.2 s apart
    seen = read_ledger(pokes)
    assert len({p["pid"] for p in seen}) == 1
    assert {p["try_number"] for p in seen} == {1}
    gaps = [later["at"] - earlier["at"] for earlier, later in itertools.pairwise(seen)]
    assert min(gaps) >= 0.15, gaps
    assert len([p for p in seen if p["at"] < delivered_at]) >= 3 and seen[-1]["at"] >= delivered_at
    assert [t.state for t in deployment.tries(run_id, "delivery")] == ["success"]
    assert read_ledger(deployment.out / "unpack.jsonl")[0]["at"] > seen[-1]["at"]


SLOT_SHARING = (
    NOTE
    + """
from flowctl import DAG, task
from flowctl.sensors import PythonSensor


def released(ti):
    note("pokes.jsonl", try_number=ti.try_number)
    return (OUT / "released").exists()


with DAG("slot_sharing", schedule=None, is_paused_upon_creation=False):
    PythonSensor(
        task_id="wait_for_release",
        python_callable=released,
        mode="reschedule",
        poke_interval=2,  # it waits in up_for_reschedule for 2 s after its first poke: time to see it
        timeout=60,
        pool="single",
        priority_weight=10,  # queued first: it takes the pool's only slot before `release`
    )

    @task(pool="single")
    def release():
        note("release.jsonl", event="start")
        deadline = time.monotonic() + 30
        while not (OUT / "go").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        (OUT / "released").touch()
        note("release.jsonl", event="end")

    release()
"""
)


def test_a_reschedule_mode_sensor_frees_its_pool_slot_between_pokes_within_one_try(deployment: Deployment) -> None:
    # Given: a pool of one slot, shared by a sensor and the task that releases what it waits for
    deployment.write_dag("slot_sharing", SLOT_SHARING)
    deployment.prepare()
    deployment.flowctl("pools", "set", "single", "1", "one slot for the sensor and the task")
    deployment.start_scheduler()

    # When
    run_id = deployment.trigger("slot_sharing")

    # Then: after its first poke, the sensor waits in up_for_reschedule...
    wait_until(
        lambda: state_of(deployment, run_id, "wait_for_release") == "up_for_reschedule",
        timeout=15,
        what=lambda: f"the sensor to wait for its next poke ({deployment.ti_states(run_id)})",
    )

    # ...and the other task takes the slot it freed, while the sensor waits
    wait_until(
        lambda: state_of(deployment, run_id, "release") == "running",
        timeout=15,
        what=lambda: f"release to run ({deployment.ti_states(run_id)})",
    )
    assert state_of(deployment, run_id, "wait_for_release") in ("up_for_reschedule", "scheduled")
    (pool,) = [p for p in json.loads(deployment.cli("pools", "list", "-o", "json").stdout) if p["pool"] == "single"]
    assert (pool["slots"], pool["occupied_slots"], pool["open_slots"]) == (1, 1, 0)

    # ...while waiting, it counts as having made its first try, whose log has the first poke
    assert states_for_run(deployment, "slot_sharing", run_id)["wait_for_release"]["try_number"] == 1
    logs = deployment.cli("tasks", "logs", "slot_sharing", "wait_for_release", run_id)
    assert logs.exit_code == 0, logs
    assert "Running wait_for_release (try 1)" in logs.stdout

    # When: the task releases the sensor's condition and ends
    (deployment.out / "go").touch()

    # Then: the sensor's next poke succeeds, still in try 1
    assert deployment.wait_for_run("slot_sharing", run_id) == "success"
    assert deployment.ti_states(run_id) == {"wait_for_release": "success", "release": "success"}
    assert deployment.ti(run_id, "wait_for_release").try_number == 1
    assert [(t.try_number, t.state) for t in deployment.tries(run_id, "wait_for_release")] == [(1, "success")]

    # ...each poke was a process of its own, all in try 1, and `release` ran between the first and the last
    pokes = read_ledger(deployment.out / "pokes.jsonl")
    assert len(pokes) >= 2
    assert len({p["pid"] for p in pokes}) == len(pokes)
    assert {p["try_number"] for p in pokes} == {1}
    release_start, release_end = (e["at"] for e in read_ledger(deployment.out / "release.jsonl"))
    assert pokes[0]["at"] < release_start < release_end < pokes[-1]["at"]

    # ...and every poke wrote to try 1's log
    log = deployment.read_log("slot_sharing", run_id, "wait_for_release", attempt=1)
    assert log.count("Running wait_for_release (try 1)") == len(pokes)
    assert not deployment.log_path("slot_sharing", run_id, "wait_for_release", attempt=2).exists()


TIMEOUTS = (
    NOTE
    + """
from datetime import timedelta

from flowctl import DAG
from flowctl.operators import EmptyOperator
from flowctl.sensors import PythonSensor


def never(task):
    note(task.task_id + ".jsonl")
    return False


with DAG("timeouts", schedule=None, is_paused_upon_creation=False):
    strict = PythonSensor(
        task_id="strict",
        python_callable=never,
        mode="reschedule",
        poke_interval=0.3,
        timeout=1.5,
        retries=2,
        retry_delay=timedelta(seconds=0.1),
    )
    lenient = PythonSensor(task_id="lenient", python_callable=never, poke_interval=0.2, timeout=1, soft_fail=True)
    strict >> EmptyOperator(task_id="after_strict")
    lenient >> EmptyOperator(task_id="after_lenient")
"""
)


def test_a_sensor_timeout_counts_from_the_first_poke_and_fails_without_retry_or_skips_with_soft_fail(
    deployment: Deployment,
) -> None:
    # Given: two sensors that never succeed; one reschedules (with retries), one pokes with soft_fail
    deployment.write_dag("timeouts", TIMEOUTS)
    deployment.start()

    # When
    run_id = deployment.trigger("timeouts")

    # Then: the strict one failed for good once 1.5 s had passed since its first poke, across reschedules
    assert deployment.wait_for_run("timeouts", run_id) == "failed"
    assert deployment.ti_states(run_id) == {
        "strict": "failed",
        "after_strict": "upstream_failed",
        "lenient": "skipped",
        "after_lenient": "skipped",
    }
    strict_pokes = read_ledger(deployment.out / "strict.jsonl")
    assert len({p["pid"] for p in strict_pokes}) == len(strict_pokes) >= 2  # one process per poke
    assert 1.2 <= strict_pokes[-1]["at"] - strict_pokes[0]["at"] < 5, strict_pokes
    (strict_try,) = deployment.tries(run_id, "strict")  # its retries were not used
    assert (strict_try.try_number, strict_try.state) == (1, "failed")
    assert strict_try.error.startswith("SensorTimeout: ") and "timed out" in strict_try.error
    assert "timed out" in deployment.read_log("timeouts", run_id, "strict", attempt=1)
    assert not deployment.log_path("timeouts", run_id, "strict", attempt=2).exists()

    # ...and the lenient one was skipped after its 1 s, in one poking process, and its downstream with it
    lenient_pokes = read_ledger(deployment.out / "lenient.jsonl")
    assert len({p["pid"] for p in lenient_pokes}) == 1 and len(lenient_pokes) >= 3
    assert 0.8 <= lenient_pokes[-1]["at"] - lenient_pokes[0]["at"] < 4, lenient_pokes
    assert [t.state for t in deployment.tries(run_id, "lenient")] == ["skipped"]
    assert "timed out" in deployment.read_log("timeouts", run_id, "lenient", attempt=1)


CLEARING = (
    NOTE
    + """
from flowctl import DAG, task

with DAG("clearing", schedule=None, is_paused_upon_creation=False):

    @task
    def extract(ti=None):
        note("extract.jsonl", try_number=ti.try_number)
        if not (OUT / "marker").exists():
            raise RuntimeError("the marker file is missing")
        return "rows"

    @task
    def load(rows):
        return f"loaded {rows}"

    @task
    def report(summary):
        return summary.upper()

    @task
    def side():
        return "untouched"

    report(load(extract()))
    side()
"""
)


def test_clearing_a_failed_task_with_downstream_reruns_them_and_keeps_the_failed_try(
    deployment: Deployment,
) -> None:
    # Given: a run that failed because a marker file was missing
    deployment.write_dag("clearing", CLEARING)
    deployment.start()
    run_id = deployment.trigger("clearing")
    assert deployment.wait_for_run("clearing", run_id) == "failed"
    assert deployment.ti_states(run_id) == {
        "extract": "failed",
        "load": "upstream_failed",
        "report": "upstream_failed",
        "side": "success",
    }
    (failed_run,) = deployment.runs("clearing")

    # When: the marker exists, and the failed task is cleared with its downstream
    (deployment.out / "marker").touch()
    result = deployment.flowctl("tasks", "clear", "clearing", "-t", "^extract$", "--downstream", "--yes")

    # Then: exactly those three were cleared...
    assert "Cleared 3 task instances." in result.stdout
    assert sorted(line.split()[1] for line in result.stdout.splitlines() if line.startswith("  ")) == [
        "extract",
        "load",
        "report",
    ]

    # ...they ran again, and the run succeeded
    assert deployment.wait_for_run("clearing", run_id) == "success"
    assert deployment.ti_states(run_id) == {
        "extract": "success",
        "load": "success",
        "report": "success",
        "side": "success",
    }
    assert deployment.xcom(run_id, "report") == "LOADED ROWS"
    (rerun,) = deployment.runs("clearing")
    assert rerun.end_date > failed_run.end_date

    # ...the failed try is kept next to the new one, each with its own log
    assert deployment.ti(run_id, "extract").try_number == 2
    assert [(t.try_number, t.state) for t in deployment.tries(run_id, "extract")] == [(1, "failed"), (2, "success")]
    assert "the marker file is missing" in deployment.tries(run_id, "extract")[0].error
    assert [e["try_number"] for e in read_ledger(deployment.out / "extract.jsonl")] == [1, 2]
    assert "the marker file is missing" in deployment.read_log("clearing", run_id, "extract", attempt=1)
    assert "Returned value was: 'rows'" in deployment.read_log("clearing", run_id, "extract", attempt=2)
    first_try = deployment.cli("tasks", "logs", "clearing", "extract", run_id, "--try", "1")
    assert first_try.exit_code == 0 and "the marker file is missing" in first_try.stdout, first_try

    # ...the downstream tasks made their first try only now, and the task outside the selection kept its one
    for task_id in ("load", "report"):
        assert [(t.try_number, t.state) for t in deployment.tries(run_id, task_id)] == [(1, "success")]
    assert [(t.try_number, t.state) for t in deployment.tries(run_id, "side")] == [(1, "success")]


WAITING_SENSOR = (
    NOTE
    + """
from flowctl import DAG
from flowctl.sensors import PythonSensor


def ready(ti):
    note("pokes.jsonl", try_number=ti.try_number)
    return (OUT / "ready").exists()


with DAG("waiting_sensor", schedule=None, is_paused_upon_creation=False):
    PythonSensor(task_id="ready", python_callable=ready, mode="reschedule", poke_interval=2, timeout=60)
"""
)


def test_clearing_a_sensor_that_waits_for_its_next_poke_starts_a_new_try(deployment: Deployment) -> None:
    # Given: a reschedule-mode sensor waiting after its first poke
    deployment.write_dag("waiting_sensor", WAITING_SENSOR)
    deployment.start()
    run_id = deployment.trigger("waiting_sensor")
    wait_until(
        lambda: state_of(deployment, run_id, "ready") == "up_for_reschedule",
        timeout=15,
        what=lambda: f"the sensor to wait for its next poke ({deployment.ti_states(run_id)})",
    )

    # When: it is cleared, and its condition becomes true
    deployment.flowctl("tasks", "clear", "waiting_sensor", "-t", "^ready$", "--yes")
    (deployment.out / "ready").touch()

    # Then: it succeeds in a second try; the first try stays in the history
    assert deployment.wait_for_run("waiting_sensor", run_id) == "success"
    assert deployment.ti(run_id, "ready").try_number == 2
    tries = deployment.tries(run_id, "ready")
    assert [t.try_number for t in tries] == [1, 2] and tries[-1].state == "success"
    assert [p["try_number"] for p in read_ledger(deployment.out / "pokes.jsonl")][-1] == 2
    assert deployment.log_path("waiting_sensor", run_id, "ready", attempt=2).exists()
