"""Operator arguments: defaults, default_args, unknown and legacy arguments (no DB)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from flowctl import DAG, BaseOperator, Param, TriggerRule
from flowctl.exceptions import DagDefinitionError
from flowctl.operators import BashOperator, EmptyOperator, PythonOperator
from flowctl.sensors import PythonSensor


def noop() -> None:
    return None


def test_operator_defaults_match_airflow() -> None:
    task = EmptyOperator(task_id="t")

    assert task.owner == "flowctl"
    assert task.retries == 0
    assert task.retry_delay == timedelta(minutes=5)
    assert task.trigger_rule == "all_success"
    assert task.pool == "default_pool"
    assert task.pool_slots == 1
    assert task.priority_weight == 1
    assert task.weight_rule == "downstream"
    assert task.depends_on_past is False
    assert task.email == []
    assert task.email_on_failure is True
    assert task.do_xcom_push is True


def test_default_args_apply_to_every_task_of_the_dag() -> None:
    default_args = {
        "owner": "data",
        "retries": 3,
        "retry_delay": timedelta(minutes=1),
        "email": ["ops@example.com"],
        "email_on_failure": False,
        "depends_on_past": True,
        "pool": "etl",
    }
    with DAG("defaults", default_args=default_args) as dag:
        EmptyOperator(task_id="empty")
        PythonOperator(task_id="python", python_callable=noop)
        BashOperator(task_id="bash", bash_command="true")

    for task in dag.tasks:
        assert task.owner == "data", task.task_id
        assert task.retries == 3, task.task_id
        assert task.retry_delay == timedelta(minutes=1), task.task_id
        assert task.email == ["ops@example.com"], task.task_id
        assert task.email_on_failure is False, task.task_id
        assert task.depends_on_past is True, task.task_id
        assert task.pool == "etl", task.task_id


def test_argument_given_to_the_operator_beats_default_args() -> None:
    with DAG("override", default_args={"retries": 3, "owner": "data"}):
        task = EmptyOperator(task_id="t", retries=0)

    assert task.retries == 0
    assert task.owner == "data"


def test_operator_default_args_merge_over_the_dags() -> None:
    with DAG("merge", default_args={"retries": 3, "owner": "data"}):
        task = EmptyOperator(task_id="t", default_args={"retries": 1})

    assert (task.owner, task.retries) == ("data", 1)


def test_default_args_go_only_to_operators_that_accept_them() -> None:
    # Given default_args meant for some operators only
    default_args = {"bash_command": "echo default", "poke_interval": 5, "python_callable": noop}

    # When operators of several kinds are made (none of which passes them itself)
    with DAG("selective", default_args=default_args):
        empty = EmptyOperator(task_id="empty")
        bash = BashOperator(task_id="bash")
        sensor = PythonSensor(task_id="sensor")

    # Then each took only what it accepts, and none complained about the rest
    assert bash.bash_command == "echo default"
    assert sensor.poke_interval == 5
    assert sensor.python_callable is noop
    assert not hasattr(empty, "bash_command")
    assert not hasattr(bash, "poke_interval")


def test_default_args_reach_subclasses_with_their_own_init() -> None:
    class Greeter(BaseOperator):
        def __init__(self, *, greeting: str = "hello", **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.greeting = greeting

    with DAG("custom", default_args={"greeting": "hi", "retries": 2}):
        task = Greeter(task_id="greet")

    assert (task.greeting, task.retries) == ("hi", 2)


def test_unknown_argument_is_an_error_naming_operator_task_and_argument() -> None:
    with (
        DAG("unknown"),
        pytest.raises(
            DagDefinitionError,
            match=r"Invalid arguments were passed to BashOperator \(task_id: load\): colour, size",
        ),
    ):
        BashOperator(task_id="load", bash_command="true", size=1, colour="red")


def test_unknown_argument_in_default_args_is_ignored() -> None:
    with DAG("lenient", default_args={"no_such_argument": 1}):
        task = EmptyOperator(task_id="t")

    assert not hasattr(task, "no_such_argument")


@pytest.mark.parametrize("legacy", [{"provide_context": True}, {"sla": timedelta(hours=1)}, {"executor_config": {}}])
def test_airflow_era_arguments_are_accepted_and_ignored(legacy: dict[str, Any]) -> None:
    with DAG("legacy"):
        task = PythonOperator(task_id="t", python_callable=noop, **legacy)

    assert task.task_id == "t"


def test_retry_delay_and_execution_timeout_accept_seconds() -> None:
    task = EmptyOperator(task_id="t", retry_delay=30, execution_timeout=90.5, max_retry_delay=600)

    assert task.retry_delay == timedelta(seconds=30)
    assert task.execution_timeout == timedelta(seconds=90.5)
    assert task.max_retry_delay == timedelta(minutes=10)


def test_single_email_address_becomes_a_list() -> None:
    assert EmptyOperator(task_id="t", email="ops@example.com").email == ["ops@example.com"]


def test_wait_for_downstream_implies_depends_on_past() -> None:
    task = EmptyOperator(task_id="t", wait_for_downstream=True)

    assert task.depends_on_past is True


def test_trigger_rule_accepts_enum_or_string() -> None:
    assert EmptyOperator(task_id="a", trigger_rule=TriggerRule.ALL_DONE).trigger_rule == "all_done"
    assert EmptyOperator(task_id="b", trigger_rule="one_failed").trigger_rule == "one_failed"


def test_unknown_trigger_rule_is_an_error_listing_the_allowed_ones() -> None:
    with pytest.raises(DagDefinitionError, match="'t': trigger_rule 'sometimes' is not one of all_success"):
        EmptyOperator(task_id="t", trigger_rule="sometimes")


def test_unknown_weight_rule_is_an_error() -> None:
    with pytest.raises(DagDefinitionError, match="weight_rule 'heaviest'"):
        EmptyOperator(task_id="t", weight_rule="heaviest")


def test_python_callable_that_is_not_callable_is_an_error() -> None:
    with pytest.raises(DagDefinitionError, match="'t': python_callable must be callable"):
        PythonOperator(task_id="t", python_callable="noop")


def test_task_params_merge_over_dag_params() -> None:
    with DAG("params", params={"region": "eu", "limit": 5}):
        task = EmptyOperator(task_id="t", params={"limit": Param(10, type="integer")})

    assert task.params["region"].default == "eu"
    assert task.params["limit"].default == 10


def test_task_start_date_is_kept_per_task() -> None:
    with DAG("dates", start_date=datetime(2024, 1, 1)):
        task = EmptyOperator(task_id="t", start_date=datetime(2024, 2, 1))

    assert task.start_date == datetime(2024, 2, 1)


def test_doc_is_an_alias_of_doc_md() -> None:
    assert EmptyOperator(task_id="t", doc="how it works").doc_md == "how it works"


def test_operator_without_execute_says_what_to_implement() -> None:
    class Incomplete(BaseOperator):
        pass

    with pytest.raises(NotImplementedError, match="Incomplete must implement execute"):
        Incomplete(task_id="t").execute({})


def test_a_zero_retry_delay_retries_at_once_instead_of_falling_back_to_the_default() -> None:
    assert EmptyOperator(task_id="now", retry_delay=timedelta(0)).retry_delay == timedelta(0)
    assert EmptyOperator(task_id="zero", retry_delay=0).retry_delay == timedelta(0)
    assert EmptyOperator(task_id="default").retry_delay == timedelta(minutes=5)
