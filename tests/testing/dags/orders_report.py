"""The DAG that docs/testing.md tests: totals of a day's orders, announced by a shell command."""

import pendulum

from flowctl import DAG, Param, Variable, task
from flowctl.operators import BashOperator

with DAG(
    "orders_report",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    params={"currency": Param("EUR", type="string")},
) as dag:

    @task
    def extract(**context) -> list[float]:
        print(f"reading orders of {context['ds']}")
        return [301.27, 433.21, 502.22]

    @task
    def total(amounts: list[float], **context) -> str:
        minimum = float(Variable.get("minimum_order", default_var=0))
        kept = [amount for amount in amounts if amount >= minimum]
        return f"{sum(kept):.2f} {context['params']['currency']}"

    announce = BashOperator(
        task_id="announce",
        bash_command="echo \"total {{ ti.xcom_pull(task_ids='total') }}\"",
    )

    total(extract()) >> announce
