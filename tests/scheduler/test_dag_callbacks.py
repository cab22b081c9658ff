"""DAG-level callbacks: called once when a run ends, in a task-side process, never in the scheduler."""

from __future__ import annotations

from tests.scheduler.conftest import Deployment, wait_until

DAGS = """
from pathlib import Path
from flowctl import DAG
from flowctl.operators import BashOperator

OUT = Path(OUT_DIR)

def on_success(context):
    (OUT / "success.txt").write_text(context["run_id"])

def on_failure(context):
    (OUT / "failure.txt").write_text(context["reason"])

with DAG("cb_ok", schedule=None, is_paused_upon_creation=False, on_success_callback=on_success,
         on_failure_callback=on_failure):
    BashOperator(task_id="t", bash_command="true")

with DAG("cb_bad", schedule=None, is_paused_upon_creation=False, on_success_callback=on_success,
         on_failure_callback=on_failure):
    BashOperator(task_id="t", bash_command="false")
"""


def test_success_and_failure_callbacks_of_the_dag_are_called_with_the_run(deployment: Deployment) -> None:
    # Given DAGs whose callbacks write files, and a scheduler
    out = deployment.out
    deployment.write_dag("callbacks", DAGS)
    deployment.prepare()
    scheduler = deployment.start()

    # When one run succeeds and one fails
    ok_run = deployment.trigger("cb_ok")
    bad_run = deployment.trigger("cb_bad")
    assert deployment.wait_for_run("cb_ok", ok_run) == "success"
    assert deployment.wait_for_run("cb_bad", bad_run) == "failed"

    # Then each DAG's matching callback ran once, with the run's context
    wait_until(
        lambda: (out / "failure.txt").exists() and (out / "success.txt").exists(),
        timeout=15,
        what="both callback files",
    )
    assert (out / "success.txt").read_text() == ok_run
    assert (out / "failure.txt").read_text() == "failed"
    assert scheduler.alive
