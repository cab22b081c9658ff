"""One bad DAG file never stalls the rest (SPEC §8): a file edited to hang, to exit the interpreter, or to
hang only inside a worker costs its own tries — which fail with the reason in their logs — while another
DAG's tries run on as usual. About processes, not the metadata DB: SQLite is enough."""

from __future__ import annotations

import itertools

import pytest

from tests.scheduler.conftest import Deployment, wait_until

IMPORT_TIMEOUT = {"FLOWCTL__CORE__DAGBAG_IMPORT_TIMEOUT": "3"}

VICTIM = """
from flowctl import DAG
from flowctl.operators import PythonOperator

with DAG("victim", schedule=None, is_paused_upon_creation=False, default_args={"retries": 0}):
    PythonOperator(task_id="work", python_callable=lambda: "done")
"""

BYSTANDER = """
import time

from flowctl import DAG
from flowctl.operators import PythonOperator


def nap():
    time.sleep(0.05)


with DAG("bystander", schedule=None, is_paused_upon_creation=False, max_active_tasks=32):
    for i in range(30):
        PythonOperator(task_id=f"t{i:02d}", python_callable=nap)
"""

EDITS = {
    "hangs": "\nwhile True:\n    pass\n",
    "exits": "\nimport os\nos._exit(0)\n",
}
REASONS = {
    "hangs": "DAG file import timed out after 3s (dagbag_import_timeout)",
    "exits": "exited with code 0 before finishing (os._exit?)",
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_a_dag_file_edited_to_hang_or_exit_fails_its_own_tries_while_other_dags_run_on(
    deployment: Deployment, edit: str, sqlite_only: None
) -> None:
    # Given: two DAGs parsed and a running scheduler
    deployment.write_dag("victim", VICTIM)
    deployment.write_dag("bystander", BYSTANDER)
    deployment.start(env=IMPORT_TIMEOUT)

    # When: the victim's file turns bad (the DB keeps its last good version) and both DAGs run
    deployment.write_dag("victim", VICTIM + EDITS[edit])
    victim_run = deployment.trigger("victim")
    bystander_run = deployment.trigger("bystander")

    # Then: the bystander's 30 tries all run; the victim's try fails, saying why in its log
    assert deployment.wait_for_run("bystander", bystander_run, timeout=40) == "success"
    assert deployment.wait_for_run("victim", victim_run, timeout=40) == "failed"
    victim = deployment.ti(victim_run, "work")
    assert victim.start_date is not None and victim.end_date is not None
    assert REASONS[edit] in deployment.read_log("victim", victim_run, "work")
    assert REASONS[edit] in deployment.tries(victim_run, "work")[0].error


TWO_FACED = """
import os
import signal

# Parse and probe imports lead process groups of their own; a worker's import does not. There this file
# hangs where no timeout signal reaches it.
if os.getpgid(0) != os.getpid():
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    while True:
        pass
"""


@pytest.mark.slow
def test_a_worker_stuck_importing_a_dag_file_is_replaced_and_its_try_fails_with_the_reason(
    deployment: Deployment, sqlite_only: None
) -> None:
    # Given: a file that imports fine everywhere but inside a worker, where it hangs beyond any timeout
    deployment.write_dag("victim", VICTIM)
    deployment.write_dag("bystander", BYSTANDER)
    deployment.start(env=IMPORT_TIMEOUT)
    deployment.write_dag("victim", VICTIM + TWO_FACED)

    # When
    victim_run = deployment.trigger("victim")

    # Then: the stuck worker is replaced (after 2 x 3 s + 10 s), the try fails saying so, and work goes on
    assert deployment.wait_for_run("victim", victim_run, timeout=60) == "failed"
    assert "its worker stopped answering" in deployment.read_log("victim", victim_run, "work")
    bystander_run = deployment.trigger("bystander")
    assert deployment.wait_for_run("bystander", bystander_run, timeout=30) == "success"


CHAIN = """
import time

from flowctl import DAG
from flowctl.operators import PythonOperator

with DAG("chain", schedule=None, is_paused_upon_creation=False):
    previous = None
    for i in range(40):
        current = PythonOperator(task_id=f"t{i:02d}", python_callable=time.sleep, op_args=[0.05])
        if previous is not None:
            previous >> current
        previous = current
"""


def test_a_new_dag_file_that_hangs_does_not_pause_a_running_chain(deployment: Deployment, sqlite_only: None) -> None:
    # Given: a chain of 40 short tasks running
    deployment.write_dag("chain", CHAIN)
    deployment.start(env={"FLOWCTL__CORE__DAGBAG_IMPORT_TIMEOUT": "4"})
    run_id = deployment.trigger("chain")
    wait_until(
        lambda: sum(ti.state == "success" for ti in deployment.task_instances(run_id)) >= 5,
        timeout=30,
        what="the chain to get going",
    )

    # When: a new file that hangs for the whole import timeout appears
    deployment.write_dag("hangs", "# a dag file\nimport time\ntime.sleep(60)\n")

    # Then: no hand-off in the chain waited for it to be parsed
    assert deployment.wait_for_run("chain", run_id, timeout=60) == "success"
    ends = sorted(ti.end_date for ti in deployment.task_instances(run_id))
    longest = max((later - earlier).total_seconds() for earlier, later in itertools.pairwise(ends))
    assert longest < 2, f"a hand-off took {longest:.1f}s"
    wait_until(lambda: deployment.import_errors(), timeout=20, what="the hanging file's import error")
