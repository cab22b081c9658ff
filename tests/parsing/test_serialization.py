"""A DAG as versioned JSON and back to the read model (DagSpec / TaskSpec), with no DB and no processes."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pendulum
import pytest

from flowctl import DAG, Label, Param, TaskGroup, task
from flowctl.dag_definition import DagDefaults
from flowctl.operators import BashOperator, EmptyOperator
from flowctl.sensors import PythonSensor
from flowctl.serialization import DagSpec, SerializationError, content_hash, deserialize_dag, serialize_dag

SEOUL_NEW_YEAR = pendulum.datetime(2024, 1, 1, tz="Asia/Seoul")


def notify(context: dict[str, Any]) -> None:
    """A callback; only its presence is serialized."""


def build_rich_dag(*, extra_task: bool = False, schedule: Any = "0 4 * * *") -> DAG:
    """A DAG using most authoring features, defaults applied as the DAG processor does."""
    with DAG(
        "rich",
        schedule=schedule,
        start_date=SEOUL_NEW_YEAR,
        catchup=True,
        description="Everything at once",
        doc_md="# Rich\nUses most features.",
        tags=["reports", "finance"],
        params={"rows": Param(3, type="integer", minimum=1, description="how many rows")},
        default_args={"owner": "data", "retries": 2, "retry_delay": timedelta(minutes=1)},
        on_failure_callback=notify,
        dagrun_timeout=timedelta(hours=2),
    ) as dag:
        start = EmptyOperator(task_id="start")
        with TaskGroup("extract") as extract:
            wait = PythonSensor(
                task_id="wait",
                python_callable=bool,
                mode="reschedule",
                poke_interval=30,
                timeout=timedelta(minutes=10),
                soft_fail=True,
                exponential_backoff=True,
            )
            fetch = BashOperator(
                task_id="fetch",
                bash_command="echo {{ ds }}",
                env={"DAY": "{{ ds_nodash }}"},
                pool="io",
                pool_slots=2,
                retries=5,
                retry_delay=timedelta(seconds=30),
                retry_exponential_backoff=True,
                max_retry_delay=timedelta(hours=1),
                execution_timeout=timedelta(minutes=15),
                on_success_callback=notify,
            )
            wait >> fetch

        @task
        def numbers() -> list[int]:
            return [1, 2, 3]

        @task
        def double(x: int) -> int:
            return x * 2

        echo_each = BashOperator.partial(task_id="echo_each").expand(bash_command=["echo 1", "echo 2"])
        doubled = double.expand(x=numbers())
        finish = EmptyOperator(task_id="finish", trigger_rule="all_done", doc_md="Runs last.")
        start >> Label("go") >> extract >> echo_each >> finish
        doubled >> finish
        if extra_task:
            finish >> EmptyOperator(task_id="audit")
    dag.apply_defaults(DagDefaults())
    return dag


def round_trip(dag: DAG) -> DagSpec:
    """Serialize, go through JSON text as the DB does, and read back."""
    return deserialize_dag(json.loads(json.dumps(serialize_dag(dag))))


@pytest.fixture
def spec() -> DagSpec:
    return round_trip(build_rich_dag())


def test_a_json_round_trip_reads_back_the_same_as_the_serialized_data() -> None:
    data = serialize_dag(build_rich_dag())

    assert deserialize_dag(json.loads(json.dumps(data))) == deserialize_dag(data)


def test_dag_settings_survive_the_round_trip(spec: DagSpec) -> None:
    assert spec.dag_id == "rich"
    assert spec.fileloc == __file__
    assert spec.schedule == "0 4 * * *"
    assert spec.timezone == "Asia/Seoul"
    assert spec.start_date == SEOUL_NEW_YEAR
    assert spec.end_date is None
    assert spec.catchup is True
    assert (spec.max_active_runs, spec.max_active_tasks) == (16, 16)
    assert spec.dagrun_timeout == 7200
    assert spec.tags == ("finance", "reports")
    assert spec.owners == ("data",)
    assert spec.description == "Everything at once"
    assert spec.doc_md == "# Rich\nUses most features."
    assert spec.is_paused_upon_creation is True
    assert (spec.has_on_failure_callback, spec.has_on_success_callback) == (True, False)


def test_params_keep_their_default_and_json_schema(spec: DagSpec) -> None:
    assert spec.params == {
        "rows": {"default": 3, "description": "how many rows", "schema": {"type": "integer", "minimum": 1}}
    }


def test_the_timetable_is_rebuilt_in_the_dag_time_zone(spec: DagSpec) -> None:
    first = spec.timetable.next_dagrun_info(
        last=None, start_date=spec.start_date, end_date=None, catchup=True, now=None
    )

    assert first is not None
    assert first.start == pendulum.datetime(2024, 1, 1, 4, tz="Asia/Seoul")


@pytest.mark.parametrize(
    ("schedule", "summary"),
    [
        ("0 4 * * *", "0 4 * * *"),
        ("@daily", "@daily"),
        (timedelta(minutes=10), "PT10M"),
        (timedelta(days=1), "P1D"),
        (None, None),
    ],
)
def test_the_schedule_reads_as_written_or_as_an_iso_duration(schedule: Any, summary: str | None) -> None:
    assert round_trip(build_rich_dag(schedule=schedule)).schedule == summary


def test_tasks_come_in_topological_order(spec: DagSpec) -> None:
    order = list(spec.tasks)

    assert sorted(order) == sorted(
        ["start", "extract.wait", "extract.fetch", "numbers", "double", "echo_each", "finish"]
    )
    for position, task_spec in enumerate(spec.tasks.values()):
        assert all(order.index(upstream) < position for upstream in task_spec.upstream), task_spec.task_id


def test_dependencies_and_trigger_rules_survive_the_round_trip(spec: DagSpec) -> None:
    edges = {task_id: (t.upstream, t.downstream) for task_id, t in spec.tasks.items()}

    assert edges == {
        "start": ((), ("extract.wait",)),
        "extract.wait": (("start",), ("extract.fetch",)),
        "extract.fetch": (("extract.wait",), ("echo_each",)),
        "echo_each": (("extract.fetch",), ("finish",)),
        "numbers": ((), ("double",)),
        "double": (("numbers",), ("finish",)),
        "finish": (("double", "echo_each"), ()),
    }
    assert spec.tasks["finish"].trigger_rule == "all_done"
    assert spec.tasks["start"].trigger_rule == "all_success"


def test_edge_labels_and_task_groups_survive_the_round_trip(spec: DagSpec) -> None:
    assert spec.edge_labels == {("start", "extract.wait"): "go"}
    groups = [child for child in spec.task_group["children"] if isinstance(child, dict)]
    assert [(group["group_id"], group["children"]) for group in groups] == [
        ("extract", ["extract.wait", "extract.fetch"])
    ]


def test_retry_settings_and_timeouts_are_in_seconds(spec: DagSpec) -> None:
    fetch, start = spec.tasks["extract.fetch"], spec.tasks["start"]

    assert (fetch.retries, fetch.retry_delay, fetch.max_retry_delay) == (5, 30.0, 3600.0)
    assert fetch.retry_exponential_backoff is True
    assert fetch.execution_timeout == 900.0
    assert (start.retries, start.retry_delay, start.execution_timeout) == (2, 60.0, None)


def test_pools_owners_docs_and_callbacks_survive_the_round_trip(spec: DagSpec) -> None:
    fetch = spec.tasks["extract.fetch"]

    assert (fetch.pool, fetch.pool_slots) == ("io", 2)
    assert spec.tasks["start"].pool == "default_pool"
    assert fetch.owner == "data"
    assert fetch.callbacks == ("on_success_callback",)
    assert spec.tasks["start"].callbacks == ()
    assert spec.tasks["finish"].doc_md == "Runs last."


def test_template_fields_keep_their_sources_as_written(spec: DagSpec) -> None:
    fetch = spec.tasks["extract.fetch"]

    assert fetch.template_fields == ("bash_command", "env", "cwd")
    assert fetch.template_sources["bash_command"] == "echo {{ ds }}"
    assert json.loads(fetch.template_sources["env"] or "") == {"DAY": "{{ ds_nodash }}"}
    assert fetch.template_sources["cwd"] is None


def test_sensor_settings_survive_the_round_trip(spec: DagSpec) -> None:
    wait = spec.tasks["extract.wait"]

    assert wait.is_sensor is True
    assert wait.sensor == {
        "mode": "reschedule",
        "poke_interval": 30.0,
        "timeout": 600.0,
        "soft_fail": True,
        "exponential_backoff": True,
        "max_wait": None,
    }
    assert spec.tasks["start"].is_sensor is False
    assert spec.tasks["start"].sensor is None


def test_mapped_tasks_keep_a_literal_expand_input(spec: DagSpec) -> None:
    echo_each = spec.tasks["echo_each"]

    assert echo_each.is_mapped is True
    assert echo_each.operator == "BashOperator"
    assert echo_each.expand_input == {"bash_command": ["echo 1", "echo 2"]}


def test_mapped_tasks_refer_to_an_upstream_output_with_an_xcomarg_marker(spec: DagSpec) -> None:
    double = spec.tasks["double"]

    assert double.is_mapped is True
    assert double.expand_input == {"x": {"__xcomarg__": {"task_id": "numbers", "key": "return_value"}}}
    assert spec.tasks["numbers"].is_mapped is False
    assert spec.tasks["numbers"].expand_input is None


def test_a_mapped_taskflow_task_has_the_same_operator_name_as_an_unmapped_one(spec: DagSpec) -> None:
    assert spec.tasks["numbers"].operator == "@task"
    assert spec.tasks["double"].operator == "@task"


def test_the_content_hash_is_the_same_for_identical_dags() -> None:
    assert content_hash(serialize_dag(build_rich_dag())) == content_hash(serialize_dag(build_rich_dag()))


def test_the_content_hash_changes_when_a_task_is_added() -> None:
    before = content_hash(serialize_dag(build_rich_dag()))

    after = content_hash(serialize_dag(build_rich_dag(extra_task=True)))

    assert after != before


def test_the_content_hash_does_not_depend_on_key_order() -> None:
    data = serialize_dag(build_rich_dag())

    reordered = dict(reversed(list(data.items())))

    assert content_hash(reordered) == content_hash(data)


def test_an_unknown_version_is_refused() -> None:
    data = {**serialize_dag(build_rich_dag()), "version": 999}

    with pytest.raises(SerializationError, match="version 999"):
        deserialize_dag(data)


def test_data_missing_a_field_is_refused_naming_the_dag() -> None:
    data = serialize_dag(build_rich_dag())
    del data["tasks"]

    with pytest.raises(SerializationError, match="'rich'"):
        deserialize_dag(data)
