"""Classic operators: a Python task pushes XComs, Bash tasks read them through templates.

Shell commands never interpolate params or conf: values reach the shell as environment variables,
which bash does not parse as code.
"""

from datetime import timedelta

import pendulum

from flowctl import DAG
from flowctl.operators import BashOperator, EmptyOperator, PythonOperator


def count_rows(target_day, **context):
    rows = len(target_day)  # stands in for a query
    context["ti"].xcom_push(key="rows", value=rows)
    return {"day": target_day, "rows": rows}


with DAG(
    dag_id="example_python_bash",
    description="Python and Bash tasks sharing XComs through templates",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"owner": "examples", "retries": 1, "retry_delay": timedelta(seconds=10)},
    params={"greeting": "hello"},
    tags=["example", "xcom"],
    doc_md="Counts rows with Python, then reports them with Bash.",
) as dag:
    start = EmptyOperator(task_id="start")
    count = PythonOperator(task_id="count_rows", python_callable=count_rows, op_kwargs={"target_day": "{{ ds }}"})
    report = BashOperator(
        task_id="report",
        bash_command=("echo \"$GREETING: {{ ti.xcom_pull(task_ids='count_rows', key='rows') }} rows on {{ ds }}\""),
        env={"GREETING": "{{ params.greeting }}"},
        append_env=True,
    )
    done = BashOperator(task_id="done", bash_command="echo finished run {{ run_id }}")

    start >> count >> report >> done
