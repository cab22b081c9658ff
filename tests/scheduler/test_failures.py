"""How tries end in real runs, on every backend: retries with (exponential) delays, retries running
out, execution_timeout killing a task's whole process tree, and task processes that die without
reporting (os._exit, SIGKILL) while the scheduler carries on."""

from __future__ import annotations

import json
import os
import signal
import time

from tests.scheduler.conftest import Deployment, pid_alive, read_ledger, wait_until

RETRIES_DAG = """
import json
import pathlib
import time
from datetime import timedelta

from flowctl import DAG, task

LEDGER = pathlib.Path(OUT_DIR, "flaky.jsonl")

with DAG("retries", schedule=None, is_paused_upon_creation=False):

    @task(retries=2, retry_delay=timedelta(seconds=0.8), retry_exponential_backoff=True)
    def flaky():
        started_at = time.time()
        tries = len(LEDGER.read_text().splitlines()) + 1 if LEDGER.exists() else 1
        with LEDGER.open("a") as ledger:
            ledger.write(json.dumps({"try": tries, "started_at": started_at}) + "\\n")
        if tries < 3:
            raise RuntimeError(f"flaky failure number {tries}")
        return tries

    @task(retries=1, retry_delay=timedelta(seconds=0.2))
    def hopeless():
        raise RuntimeError("this never works")

    @task
    def after_flaky(value):
        return value

    @task
    def after_hopeless():
        return "unreachable"

    after_flaky(flaky())
    hopeless() >> after_hopeless()
"""


def test_retries_rerun_a_flaky_task_with_doubling_delays_and_give_up_after_the_last_try(
    deployment: Deployment,
) -> None:
    # Given
    deployment.write_dag("retries", RETRIES_DAG)
    deployment.start()

    # When
    run_id = deployment.trigger("retries")

    # Then: the flaky task succeeded on its third try, with a log per try
    assert deployment.wait_for_run("retries", run_id) == "failed"
    states = deployment.ti_states(run_id)
    assert states == {
        "flaky": "success",
        "after_flaky": "success",
        "hopeless": "failed",
        "after_hopeless": "upstream_failed",
    }
    flaky = deployment.ti(run_id, "flaky")
    assert flaky.try_number == 3
    assert [t.state for t in deployment.tries(run_id, "flaky")] == ["up_for_retry", "up_for_retry", "success"]
    assert [t.exit_code for t in deployment.tries(run_id, "flaky")] == [1, 1, 0]  # a failed try exits 1
    for attempt in (1, 2):
        log = deployment.read_log("retries", run_id, "flaky", attempt=attempt)
        assert f"flaky failure number {attempt}" in log
    assert "Returned value was: 3" in deployment.read_log("retries", run_id, "flaky", attempt=3)
    assert not deployment.log_path("retries", run_id, "flaky", attempt=4).exists()
    assert deployment.xcom(run_id, "after_flaky") == 3

    # ...the second delay (1.6 s) was about double the first (0.8 s)
    starts = [entry["started_at"] for entry in read_ledger(deployment.out / "flaky.jsonl")]
    first_gap, second_gap = starts[1] - starts[0], starts[2] - starts[1]
    assert 0.8 <= first_gap < 2.5, starts
    assert 1.6 <= second_gap < 4.0, starts
    assert 1.4 <= second_gap / first_gap <= 2.6, (first_gap, second_gap)

    # ...and the hopeless task failed for good after its one retry
    assert deployment.ti(run_id, "hopeless").try_number == 2
    assert [t.state for t in deployment.tries(run_id, "hopeless")] == ["up_for_retry", "failed"]


TIMEOUT_DAG = """
import pathlib
from datetime import timedelta

from flowctl import DAG
from flowctl.operators import BashOperator

PID_FILE = pathlib.Path(OUT_DIR, "grandchild.pid")

with DAG("timeouts", schedule=None, is_paused_upon_creation=False):
    stuck = BashOperator(
        task_id="stuck",
        bash_command=f"sleep 60 & echo $! > {PID_FILE}; sleep 60; wait",
        execution_timeout=timedelta(seconds=1),
    )
    BashOperator(task_id="after_stuck", bash_command="echo never") << stuck
"""


def test_execution_timeout_fails_the_task_and_kills_its_process_tree(deployment: Deployment) -> None:
    # Given
    deployment.write_dag("timeouts", TIMEOUT_DAG)
    deployment.start()

    # When
    started_at = time.monotonic()
    run_id = deployment.trigger("timeouts")

    # Then: the task failed soon after its 1 s timeout...
    assert deployment.wait_for_run("timeouts", run_id, timeout=20) == "failed"
    assert time.monotonic() - started_at < 8
    assert deployment.ti_states(run_id) == {"stuck": "failed", "after_stuck": "upstream_failed"}
    last_line = deployment.read_log("timeouts", run_id, "stuck").splitlines()[-1]
    assert "execution_timeout of 1s exceeded" in last_line

    # ...and the sleep it started in the background went with it
    grandchild = int((deployment.out / "grandchild.pid").read_text())
    wait_until(lambda: not pid_alive(grandchild), timeout=2, what=f"grandchild {grandchild} to be gone")


CRASHES_DAG = """
import os
import signal
from datetime import timedelta

from flowctl import DAG, task

with DAG("crashes", schedule=None, is_paused_upon_creation=False):

    @task
    def exits():
        os._exit(3)

    @task(retries=1, retry_delay=timedelta(seconds=0.2))
    def killed():
        os.kill(os.getpid(), signal.SIGKILL)

    @task
    def healthy():
        return "fine"

    @task
    def after_exit():
        return "unreachable"

    @task
    def after_kill():
        return "unreachable"

    exits() >> after_exit()
    killed() >> after_kill()
    healthy()

with DAG("after_crashes", schedule=None, is_paused_upon_creation=False):

    @task
    def still_works():
        return "yes"

    still_works()
"""


def test_a_task_process_that_dies_without_reporting_fails_and_the_scheduler_carries_on(
    deployment: Deployment,
) -> None:
    # Given
    deployment.write_dag("crashes", CRASHES_DAG)
    deployment.start()

    # When
    run_id = deployment.trigger("crashes")

    # Then: each death is a failed try, with the exit code or signal at the end of its log
    assert deployment.wait_for_run("crashes", run_id) == "failed"
    assert deployment.ti_states(run_id) == {
        "exits": "failed",
        "after_exit": "upstream_failed",
        "killed": "failed",
        "after_kill": "upstream_failed",
        "healthy": "success",
    }
    exit_line = deployment.read_log("crashes", run_id, "exits").splitlines()[-1]
    assert exit_line.startswith("[flowctl] task process") and "exited with code 3" in exit_line
    assert [t.exit_code for t in deployment.tries(run_id, "exits")] == [3]
    for attempt in (1, 2):  # killed once, retried, killed again
        kill_line = deployment.read_log("crashes", run_id, "killed", attempt=attempt).splitlines()[-1]
        assert kill_line.startswith("[flowctl] task process") and "killed by SIGKILL" in kill_line
    assert [t.state for t in deployment.tries(run_id, "killed")] == ["up_for_retry", "failed"]

    # ...and the scheduler still runs other runs
    assert deployment.scheduler.alive()
    other = deployment.trigger("after_crashes")
    assert deployment.wait_for_run("after_crashes", other) == "success"


WORKER_VICTIM_DAG = """
import json
import pathlib
import subprocess
import time
from datetime import timedelta

from flowctl import DAG, task

OUT = pathlib.Path(OUT_DIR)


def alive(pid):
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


with DAG("worker_victim", schedule=None, is_paused_upon_creation=False):

    @task(retries=1, retry_delay=timedelta(seconds=0.2))
    def long_job(ti=None):
        if ti.try_number == 1:
            helper = subprocess.Popen(["sleep", "60"])
            (OUT / "helper.pid").write_text(str(helper.pid))
            time.sleep(60)
        first_helper = int((OUT / "helper.pid").read_text())
        (OUT / "second_try.json").write_text(json.dumps({"first_helper_alive": alive(first_helper)}))
        return "done"

    long_job()
"""


# Process-level, so SQLite is enough.
def test_kill_9_of_a_worker_retries_its_tries_and_kills_what_they_started(
    deployment: Deployment, sqlite_only: None
) -> None:
    # Given: a try that started a helper process and is running
    deployment.write_dag("worker_victim", WORKER_VICTIM_DAG)
    deployment.start()
    run_id = deployment.trigger("worker_victim")
    wait_until(lambda: (deployment.out / "helper.pid").exists(), timeout=15, what="the helper to start")
    task_pid = wait_until(lambda: deployment.ti(run_id, "long_job").pid, timeout=5, what="the try's pid")
    worker_pid = parent_pid(task_pid)

    helper_pid = int((deployment.out / "helper.pid").read_text())

    # When: its worker is killed
    os.kill(worker_pid, signal.SIGKILL)

    # Then: the try is retried (by a new worker), and the first try's helper was gone before that
    try:
        assert deployment.wait_for_run("worker_victim", run_id) == "success"
        assert [t.state for t in deployment.tries(run_id, "long_job")] == ["up_for_retry", "success"]
        assert json.loads((deployment.out / "second_try.json").read_text()) == {"first_helper_alive": False}
        assert deployment.scheduler.alive()
    finally:
        if pid_alive(helper_pid):  # the leak under test: do not leave it behind
            os.kill(helper_pid, signal.SIGKILL)


def parent_pid(pid: int) -> int:
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        return int(handle.read().rsplit(")", 1)[1].split()[1])
