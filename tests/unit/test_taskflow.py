"""TaskFlow: @dag factories, @task and its variants, XCom hand-off, and dynamic mapping (no DB)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from flowctl import DAG, task
from flowctl.decorators import dag
from flowctl.exceptions import DagDefinitionError
from flowctl.operators import (
    BashOperator,
    BranchPythonOperator,
    EmptyOperator,
    PythonOperator,
    ShortCircuitOperator,
)
from flowctl.sensors import PythonSensor
from flowctl.taskflow import MappedOperator, XComArg

JAN1 = datetime(2024, 1, 1)


class FakeTI:
    def __init__(self, xcoms: dict[tuple[str, str], Any] | None = None) -> None:
        self.xcoms = xcoms or {}

    def xcom_pull(self, task_ids: str, key: str = "return_value") -> Any:
        return self.xcoms[(task_ids, key)]


# @dag


def test_dag_decorator_is_importable_from_the_package() -> None:
    from flowctl import dag as exported
    from flowctl.taskflow import dag as decorator

    assert exported is decorator


def test_dag_factory_makes_a_dag_named_after_the_function() -> None:
    @dag(schedule="@daily", start_date=JAN1, catchup=False, tags=["etl"])
    def nightly_etl() -> None:
        """Loads the night's data."""
        EmptyOperator(task_id="only")

    built = nightly_etl()

    assert isinstance(built, DAG)
    assert built.dag_id == "nightly_etl"
    assert built.schedule == "@daily"
    assert built.catchup is False
    assert built.tags == ["etl"]
    assert built.task_ids == ["only"]
    assert built.doc_md == "Loads the night's data."


def test_dag_factory_takes_an_explicit_dag_id() -> None:
    @dag("renamed", schedule=None)
    def whatever() -> None:
        pass

    assert whatever().dag_id == "renamed"


def test_bare_dag_decorator_works() -> None:
    @dag
    def bare() -> None:
        pass

    assert bare().dag_id == "bare"


def test_dag_function_defaults_become_params() -> None:
    @dag(schedule=None, params={"region": "eu"})
    def report(day_count: int = 7, unit: str = "days") -> None:
        pass

    built = report()

    assert {name: p.default for name, p in built.params.items()} == {
        "day_count": 7,
        "unit": "days",
        "region": "eu",
    }


def test_dag_function_arguments_are_param_templates_inside_the_body() -> None:
    @task
    def show(value: Any) -> Any:
        return value

    @dag(schedule=None)
    def report(day_count: int = 7) -> None:
        show(day_count)

    built = report()

    assert built.get_task("show").op_args == ["{{ params.day_count }}"]


def test_calling_a_dag_factory_twice_gives_two_independent_dags() -> None:
    @dag(schedule=None)
    def twice() -> None:
        EmptyOperator(task_id="t")

    first, second = twice(), twice()

    assert first is not second
    assert first.get_task("t") is not second.get_task("t")


def test_dag_factory_leaves_no_dag_open_after_it_returns() -> None:
    @dag(schedule=None)
    def closed() -> None:
        pass

    closed()

    assert EmptyOperator(task_id="after").dag is None


# @task


def test_task_call_inside_a_dag_adds_a_python_task_and_returns_its_xcom() -> None:
    @task
    def extract() -> int:
        return 1

    with DAG("d") as d:
        result = extract()

    assert isinstance(result, XComArg)
    assert result.operator is d.get_task("extract")
    assert isinstance(result.operator, PythonOperator)
    assert result.key == "return_value"


def test_passing_a_task_result_makes_the_dependency_and_the_xcom_hand_off() -> None:
    # Given two TaskFlow tasks where the second takes the first's result
    @task
    def extract() -> list[int]:
        return [1, 2]

    @task
    def load(rows: list[int], *, table: str) -> int:
        return len(rows)

    with DAG("etl") as d:
        load(extract(), table="t")

    # Then load waits for extract and will pull extract's return value
    loader = d.get_task("load")
    assert loader.upstream_task_ids == {"extract"}
    (arg,) = loader.op_args
    assert arg.resolve({"ti": FakeTI({("extract", "return_value"): [1, 2]})}) == [1, 2]
    assert loader.op_kwargs == {"table": "t"}


def test_xcom_nested_in_a_dict_argument_also_makes_the_dependency() -> None:
    @task
    def source() -> int:
        return 1

    @task
    def sink(config: dict[str, Any]) -> None:
        pass

    with DAG("d") as d:
        sink({"inputs": [source()]})

    assert d.get_task("sink").upstream_task_ids == {"source"}


def test_multiple_outputs_items_are_separate_xcom_keys() -> None:
    @task(multiple_outputs=True)
    def split() -> dict[str, int]:
        return {"a": 1, "b": 2}

    @task
    def use(a: int) -> int:
        return a

    with DAG("d") as d:
        parts = split()
        use(parts["a"])

    assert d.get_task("split").multiple_outputs is True
    (arg,) = d.get_task("use").op_args
    assert arg.to_dict() == {"task_id": "split", "key": "a"}
    assert d.get_task("use").upstream_task_ids == {"split"}


def test_calling_a_task_again_gets_a_numbered_task_id() -> None:
    @task
    def step() -> None:
        pass

    with DAG("d") as d:
        step()
        step()
        step()

    assert d.task_ids == ["step", "step__1", "step__2"]


def test_numbered_task_ids_count_within_the_task_group() -> None:
    from flowctl import TaskGroup

    @task
    def step() -> None:
        pass

    with DAG("d") as d:
        step()
        with TaskGroup("g"):
            step()
            step()

    assert d.task_ids == ["step", "g.step", "g.step__1"]


def test_override_changes_task_arguments_for_one_call() -> None:
    @task(retries=1)
    def fetch() -> None:
        pass

    with DAG("d") as d:
        fetch()
        fetch.override(task_id="fetch_again", retries=4, pool="slow")()

    assert d.get_task("fetch").retries == 1
    again = d.get_task("fetch_again")
    assert (again.retries, again.pool) == (4, "slow")


def test_task_decorator_applies_the_dags_default_args() -> None:
    @task
    def step() -> None:
        pass

    with DAG("d", default_args={"owner": "data", "retries": 2}) as d:
        step()

    assert (d.get_task("step").owner, d.get_task("step").retries) == ("data", 2)


def test_calling_a_task_with_arguments_its_function_does_not_take_is_an_error() -> None:
    @task
    def one(x: int) -> int:
        return x

    with DAG("d"), pytest.raises(DagDefinitionError, match="task 'one'"):
        one(1, 2)


def test_task_variants_create_their_operator_classes() -> None:
    @task.branch
    def choose() -> str:
        return "a"

    @task.short_circuit
    def gate() -> bool:
        return True

    @task.sensor(poke_interval=5, mode="reschedule")
    def ready() -> bool:
        return True

    @task.bash
    def command() -> str:
        return "echo hi"

    @task.python
    def plain() -> None:
        pass

    with DAG("d") as d:
        choose()
        gate()
        ready()
        command()
        plain()

    assert isinstance(d.get_task("choose"), BranchPythonOperator)
    assert isinstance(d.get_task("gate"), ShortCircuitOperator)
    sensor = d.get_task("ready")
    assert isinstance(sensor, PythonSensor)
    assert sensor.is_sensor
    assert (sensor.poke_interval, sensor.mode) == (5, "reschedule")
    assert isinstance(d.get_task("command"), BashOperator)
    assert isinstance(d.get_task("plain"), PythonOperator)
    assert not isinstance(d.get_task("plain"), BranchPythonOperator | ShortCircuitOperator)


def test_task_bash_runs_the_command_its_function_returns() -> None:
    @task.bash
    def greet(name: str) -> str:
        return f"echo hello {name}"

    with DAG("d") as d:
        greet("world")

    assert d.get_task("greet").execute({}) == "hello world"


def test_task_bash_renders_the_returned_command_as_a_template() -> None:
    @task.bash
    def stamp(prefix: str) -> str:
        return prefix + " {{ ds }} {{ params.who }}"

    with DAG("d", params={"who": "flowctl"}) as d:
        stamp("echo")

    assert d.get_task("stamp").execute({"ds": "2026-11-21", "params": {"who": "flowctl"}}) == "2026-11-21 flowctl"


def test_task_bash_function_returning_no_command_fails() -> None:
    @task.bash
    def nothing() -> str:
        return "  "

    with DAG("d") as d:
        nothing()

    with pytest.raises(Exception, match="must return a non-empty command"):
        d.get_task("nothing").execute({})


# dynamic task mapping


def test_task_expand_makes_one_mapped_task_over_the_list() -> None:
    @task
    def double(x: int) -> int:
        return 2 * x

    with DAG("d") as d:
        result = double.expand(x=[1, 2, 3])

    mapped = d.get_task("double")
    assert result.operator is mapped
    assert isinstance(mapped, MappedOperator)
    assert mapped.is_mapped
    assert mapped.expand_input == {"x": [1, 2, 3]}
    assert mapped.operator_name == "@task"


def test_task_partial_fixes_arguments_and_expand_maps_the_rest() -> None:
    @task
    def add(x: int, y: int) -> int:
        return x + y

    with DAG("d") as d:
        add.partial(y=10).expand(x=(1, 2))

    mapped = d.get_task("add")
    assert mapped.expand_input == {"x": [1, 2]}
    assert mapped.partial_kwargs["op_kwargs"] == {"y": 10}


def test_expand_over_another_tasks_output_depends_on_it() -> None:
    @task
    def list_files() -> list[str]:
        return ["a", "b"]

    @task
    def process(path: str) -> None:
        pass

    with DAG("d") as d:
        process.expand(path=list_files())

    assert d.get_task("process").upstream_task_ids == {"list_files"}


def test_classic_operator_partial_expand() -> None:
    with DAG("d", default_args={"retries": 2, "owner": "data"}) as d:
        mapped = BashOperator.partial(task_id="echo", retries=5).expand(bash_command=["echo 1", "echo 2"])

    assert isinstance(mapped, MappedOperator)
    assert d.get_task("echo") is mapped
    assert mapped.operator_name == "BashOperator"
    assert mapped.expand_input == {"bash_command": ["echo 1", "echo 2"]}
    assert mapped.retries == 5  # partial() beats default_args
    assert mapped.owner == "data"
    assert mapped.template_fields == BashOperator.template_fields


def test_mapped_classic_operator_joins_dependencies_like_any_task() -> None:
    with DAG("d") as d:
        start = EmptyOperator(task_id="start")
        mapped = BashOperator.partial(task_id="echo").expand(bash_command=["true"])
        start >> mapped

    assert d.get_task("echo").upstream_task_ids == {"start"}


@pytest.mark.parametrize("value", ["echo 1", 3, None])
def test_expand_over_something_that_is_not_a_list_is_an_error(value: Any) -> None:
    with (
        DAG("d"),
        pytest.raises(DagDefinitionError, match=r"'echo': expand\(bash_command=...\) needs a list"),
    ):
        BashOperator.partial(task_id="echo").expand(bash_command=value)


def test_task_expand_over_a_scalar_is_an_error() -> None:
    @task
    def double(x: int) -> int:
        return 2 * x

    with DAG("d"), pytest.raises(DagDefinitionError, match=r"expand\(x=...\) needs a list.*not int"):
        double.expand(x=5)


def test_expand_of_an_argument_the_operator_does_not_take_is_an_error() -> None:
    with (
        DAG("d"),
        pytest.raises(DagDefinitionError, match=r"BashOperator \(task_id: echo\): colour"),
    ):
        BashOperator.partial(task_id="echo").expand(colour=["red"])


def test_task_expand_of_an_argument_the_function_does_not_take_is_an_error() -> None:
    @task
    def double(x: int) -> int:
        return 2 * x

    with DAG("d"), pytest.raises(DagDefinitionError, match="'double'"):
        double.expand(y=[1])


def test_expand_without_arguments_is_an_error() -> None:
    with DAG("d"), pytest.raises(DagDefinitionError, match="expand\\(\\) needs at least one argument"):
        BashOperator.partial(task_id="echo").expand()


def test_partial_without_task_id_is_an_error() -> None:
    with pytest.raises(DagDefinitionError, match=r"BashOperator.partial\(\) needs a task_id"):
        BashOperator.partial(bash_command="true")


def test_unmap_makes_the_concrete_classic_operator_for_one_index() -> None:
    # Given a mapped BashOperator with fixed and mapped arguments and an upstream
    with DAG("d", default_args={"owner": "data"}) as d:
        start = EmptyOperator(task_id="start")
        mapped = BashOperator.partial(task_id="echo", retries=3, env={"A": "1"}).expand(
            bash_command=["echo 1", "echo 2"]
        )
        start >> mapped

    # When one map index is made concrete (as the task runner does, outside the DAG file)
    concrete = mapped.unmap({"bash_command": "echo 2"})

    # Then it is a plain BashOperator with that index's value and the partial arguments
    assert type(concrete) is BashOperator
    assert not concrete.is_mapped
    assert concrete.task_id == "echo"
    assert concrete.bash_command == "echo 2"
    assert concrete.env == {"A": "1"}
    assert (concrete.retries, concrete.owner) == (3, "data")
    assert concrete.dag is d
    assert concrete.upstream_task_ids == {"start"}
    assert d.get_task("echo") is mapped  # the DAG still holds the mapped task
    assert concrete.execute({}) == "2"


def test_unmap_of_a_task_merges_the_index_value_into_op_kwargs() -> None:
    @task
    def add(x: int, y: int) -> int:
        return x + y

    with DAG("d"):
        result = add.partial(y=10).expand(x=[1, 2])

    concrete = result.operator.unmap({"x": 2})

    assert isinstance(concrete, PythonOperator)
    assert concrete.op_kwargs == {"y": 10, "x": 2}
    assert concrete.execute({}) == 12


def test_unmap_keeps_the_group_prefixed_task_id() -> None:
    from flowctl import TaskGroup

    with DAG("d"), TaskGroup("g"):
        mapped = BashOperator.partial(task_id="echo").expand(bash_command=["true"])

    assert mapped.unmap({"bash_command": "true"}).task_id == "g.echo"


def test_a_mapped_task_cannot_be_executed_itself() -> None:
    with DAG("d"):
        mapped = BashOperator.partial(task_id="echo").expand(bash_command=["true"])

    with pytest.raises(DagDefinitionError, match="runs only through its map indexes"):
        mapped.execute({})
