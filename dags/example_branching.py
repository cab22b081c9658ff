"""Branching and short-circuiting, with a join that runs whichever branch was taken."""

import pendulum

from flowctl import DAG, task
from flowctl.operators import EmptyOperator

with DAG(
    dag_id="example_branching",
    schedule="0 6 * * 1-5",
    start_date=pendulum.datetime(2024, 1, 1, tz="Europe/London"),
    catchup=False,
    tags=["example", "branching"],
    default_args={"owner": "examples"},
) as dag:

    @task.branch
    def pick_route(**context) -> str:
        # Weekday of the data interval decides the route; Mondays get the full refresh.
        return "full_refresh" if context["data_interval_start"].day_of_week == 0 else "incremental"

    @task.short_circuit
    def has_new_data() -> bool:
        return True

    full = EmptyOperator(task_id="full_refresh")
    incremental = EmptyOperator(task_id="incremental")
    join = EmptyOperator(task_id="join", trigger_rule="none_failed_min_one_success")
    publish = EmptyOperator(task_id="publish")

    has_new_data() >> pick_route() >> [full, incremental] >> join >> publish
