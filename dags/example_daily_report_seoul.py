"""A daily report at 02:00 in Seoul, written the Airflow 2 way: catchup off, retries, e-mail on failure."""

from datetime import timedelta

import pendulum

from flowctl import DAG
from flowctl.operators import BashOperator, PythonOperator

default_args = {
    "owner": "reports",
    "depends_on_past": True,
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "email": ["reports@example.com"],
    "email_on_failure": True,
}


def build_report(report_day, **context):
    print(
        f"building the report for {report_day} (interval {context['data_interval_start']} - "
        f"{context['data_interval_end']})"
    )
    return {"day": report_day, "pages": 3}


with DAG(
    dag_id="example_daily_report_seoul",
    default_args=default_args,
    schedule_interval="0 2 * * *",
    start_date=pendulum.datetime(2024, 1, 1, tz="Asia/Seoul"),
    catchup=False,
    max_active_runs=1,
    tags=["example", "report"],
) as dag:
    build = PythonOperator(
        task_id="build_report",
        python_callable=build_report,
        provide_context=True,
        op_kwargs={"report_day": "{{ ds }}"},
    )
    archive = BashOperator(task_id="archive", bash_command="echo archiving report for {{ ds_nodash }}")
    archive.set_upstream(build)
