"""Slots are shared fairly: a wide run does not take every slot for minutes while another DAG's small run
waits (SPEC §8: one DAG never stalls the rest)."""

from __future__ import annotations

import time

from tests.scheduler.conftest import Deployment, wait_until

WIDE = """
import time

from flowctl import DAG
from flowctl.operators import PythonOperator

with DAG("wide", schedule=None, is_paused_upon_creation=False, max_active_tasks=1000):
    for i in range(300):
        PythonOperator(task_id=f"t{i:03d}", python_callable=time.sleep, op_args=[0.2])
"""

SMALL = """
from flowctl import DAG
from flowctl.operators import PythonOperator

with DAG("small", schedule=None, is_paused_upon_creation=False):
    PythonOperator(task_id="a", python_callable=print) >> PythonOperator(task_id="b", python_callable=print)
"""


def test_a_small_run_gets_slots_while_a_300_task_run_fills_them(deployment: Deployment) -> None:
    # Given: 4 slots, all taken by a run of 300 tasks (about 15 s of work)
    deployment.write_dag("wide", WIDE)
    deployment.write_dag("small", SMALL)
    deployment.start(env={"FLOWCTL__CORE__PARALLELISM": "4"})
    wide_run = deployment.trigger("wide")
    wait_until(
        lambda: sum(state == "running" for state in deployment.ti_states(wide_run).values()) == 4,
        timeout=30,
        what="the wide run to take all 4 slots",
    )

    # When: another DAG's two-task run comes
    triggered_at = time.monotonic()
    small_run = deployment.trigger("small")

    # Then: it is done long before the wide run, its tasks taking turns with the wide run's
    assert deployment.wait_for_run("small", small_run, timeout=30) == "success"
    waited = time.monotonic() - triggered_at
    small = {t.task_id: (t.queued_at, t.start_date, t.end_date) for t in deployment.task_instances(small_run)}
    assert waited < 5, f"the small run took {waited:.1f}s: {small}, run {deployment.runs('small')[-1].start_date}"
    assert deployment.run_state("wide", wide_run) == "running"
