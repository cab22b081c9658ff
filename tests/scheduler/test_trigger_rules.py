"""Trigger rules, branching and short-circuits in real runs, on every backend (SPEC §4): every rule
downstream of a succeeding, a failing and a skipped task, and how skips propagate."""

from __future__ import annotations

from tests.scheduler.conftest import Deployment

# (trigger rule, its upstream tasks) -> the state Airflow users expect once the upstreams are done.
# `ok` succeeds, `bad` fails, `skip` raises SkipTask.
RULE_CASES = {
    ("all_success", ("ok",)): "success",
    ("all_success", ("ok", "skip")): "skipped",
    ("all_success", ("ok", "bad")): "upstream_failed",
    ("all_failed", ("bad",)): "success",
    ("all_failed", ("ok", "bad")): "skipped",
    ("all_done", ("ok", "bad", "skip")): "success",
    ("all_skipped", ("skip",)): "success",
    ("all_skipped", ("ok", "skip")): "skipped",
    ("one_success", ("ok", "bad", "skip")): "success",
    ("one_success", ("bad", "skip")): "upstream_failed",
    ("one_success", ("skip",)): "skipped",
    ("one_failed", ("ok", "bad", "skip")): "success",
    ("one_failed", ("ok", "skip")): "skipped",
    ("one_done", ("bad", "skip")): "success",
    ("one_done", ("skip",)): "skipped",
    ("none_failed", ("ok", "skip")): "success",
    ("none_failed", ("ok", "bad")): "upstream_failed",
    ("none_failed_min_one_success", ("ok", "skip")): "success",
    ("none_failed_min_one_success", ("skip",)): "skipped",
    ("none_failed_min_one_success", ("bad", "skip")): "upstream_failed",
    ("none_skipped", ("ok", "bad")): "success",
    ("none_skipped", ("ok", "skip")): "skipped",
    ("always", ("bad", "skip")): "success",
}

RULES_DAG = """
from flowctl import DAG
from flowctl.exceptions import SkipTask
from flowctl.operators import EmptyOperator, PythonOperator


def fail():
    raise RuntimeError("this task fails on purpose")


def skip():
    raise SkipTask("nothing to do today")


with DAG("rules", schedule=None, is_paused_upon_creation=False):
    upstream = {
        "ok": EmptyOperator(task_id="ok"),
        "bad": PythonOperator(task_id="bad", python_callable=fail),
        "skip": PythonOperator(task_id="skip", python_callable=skip),
    }
    for rule, names in CASES:
        downstream = EmptyOperator(task_id=f"{rule}__{'_'.join(names)}", trigger_rule=rule)
        [upstream[name] for name in names] >> downstream
"""


def test_every_trigger_rule_decides_from_succeeded_failed_and_skipped_upstreams(
    deployment: Deployment,
) -> None:
    # Given
    deployment.write_dag("rules", f"CASES = {list(RULE_CASES)!r}\n{RULES_DAG}")
    deployment.start()

    # When
    run_id = deployment.trigger("rules")

    # Then: leaves ended upstream_failed, so the run failed
    assert deployment.wait_for_run("rules", run_id) == "failed"
    expected = {f"{rule}__{'_'.join(names)}": state for (rule, names), state in RULE_CASES.items()}
    expected.update(ok="success", bad="failed", skip="skipped")
    assert deployment.ti_states(run_id) == expected
    assert "this task fails on purpose" in deployment.read_log("rules", run_id, "bad")


BRANCHES_DAG = """
from flowctl import DAG, task
from flowctl.operators import EmptyOperator

with DAG("branches", schedule=None, is_paused_upon_creation=False):

    @task.branch
    def choose():
        return "left"

    left = EmptyOperator(task_id="left")
    right = EmptyOperator(task_id="right")
    right_child = EmptyOperator(task_id="right_child")
    join = EmptyOperator(task_id="join", trigger_rule="none_failed_min_one_success")
    after_join = EmptyOperator(task_id="after_join")
    choose() >> [left, right]
    right >> right_child
    [left, right_child] >> join >> after_join

    @task.short_circuit
    def closed_gate():
        return False

    beyond_closed = EmptyOperator(task_id="beyond_closed")
    beyond_closed_all_done = EmptyOperator(task_id="beyond_closed_all_done", trigger_rule="all_done")
    closed_gate() >> beyond_closed >> beyond_closed_all_done

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def polite_gate():
        return 0

    beyond_polite = EmptyOperator(task_id="beyond_polite")
    beyond_polite_all_done = EmptyOperator(task_id="beyond_polite_all_done", trigger_rule="all_done")
    beyond_polite_default = EmptyOperator(task_id="beyond_polite_default")
    polite_gate() >> beyond_polite >> [beyond_polite_all_done, beyond_polite_default]

    @task.short_circuit
    def open_gate():
        return "yes"

    beyond_open = EmptyOperator(task_id="beyond_open")
    open_gate() >> beyond_open

    @task.branch(do_xcom_push=False)  # a decision must not depend on an XCom being pushed
    def quiet_choice():
        return "quiet_taken"

    quiet_choice() >> [EmptyOperator(task_id="quiet_taken"), EmptyOperator(task_id="quiet_not_taken")]
"""


def test_branches_and_short_circuits_skip_what_they_did_not_choose_and_the_run_succeeds(
    deployment: Deployment,
) -> None:
    # Given
    deployment.write_dag("branches", BRANCHES_DAG)
    deployment.start()

    # When
    run_id = deployment.trigger("branches")

    # Then: skipped leaves do not fail a run
    assert deployment.wait_for_run("branches", run_id) == "success"
    assert deployment.ti_states(run_id) == {
        "choose": "success",
        "left": "success",
        "right": "skipped",
        "right_child": "skipped",  # a skip propagates through all_success
        "join": "success",  # none_failed_min_one_success: left succeeded
        "after_join": "success",
        "closed_gate": "success",
        "beyond_closed": "skipped",
        "beyond_closed_all_done": "skipped",  # by default a short-circuit ignores downstream rules
        "polite_gate": "success",
        "beyond_polite": "skipped",
        "beyond_polite_all_done": "success",  # ...unless told to respect them
        "beyond_polite_default": "skipped",
        "open_gate": "success",
        "beyond_open": "success",
        "quiet_choice": "success",
        "quiet_taken": "success",
        "quiet_not_taken": "skipped",
    }
