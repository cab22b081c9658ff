"""TaskFlow: functions become tasks; passing results creates the dependencies and the XCom hand-off."""

import json

import pendulum

from flowctl.decorators import dag, task


@dag(
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "taskflow"],
    default_args={"owner": "examples"},
)
def example_taskflow():
    """Extract an order summary, transform it, load the totals."""

    @task
    def extract() -> dict:
        return json.loads('{"1001": 301.27, "1002": 433.21, "1003": 502.22}')

    @task(multiple_outputs=True)
    def transform(orders: dict) -> dict:
        return {"total": round(sum(orders.values()), 2), "count": len(orders)}

    @task
    def load(total: float, count: int) -> None:
        print(f"{count} orders, total {total:.2f}")

    summary = transform(extract())
    load(summary["total"], summary["count"])


example_taskflow()
