"""Dynamic task mapping: one task instance per element, sized at run time by an upstream result."""

import pendulum

from flowctl import DAG, task
from flowctl.operators import BashOperator

with DAG(
    dag_id="example_dynamic_mapping",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    tags=["example", "mapping"],
    default_args={"owner": "examples"},
) as dag:

    @task
    def list_files() -> list[str]:
        return ["a.csv", "b.csv", "c.csv"]

    @task
    def size_of(name: str, factor: int) -> int:
        return len(name) * factor

    @task
    def total(sizes: list[int]) -> int:
        return sum(sizes)

    sizes = size_of.partial(factor=10).expand(name=list_files())
    total(sizes)

    BashOperator.partial(task_id="echo_numbers").expand(bash_command=["echo 1", "echo 2"])
