"""An Airflow 2 DAG file ports by renaming `airflow` to `flowctl` in its imports (no DB).

The files below are written as Airflow users write them; each test renames the imports, imports the
file the way the DAG processor does (by path), and checks the DAG it defines.
"""

from __future__ import annotations

import importlib.util
import textwrap
import uuid
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import pendulum
import pytest

from flowctl import DAG
from flowctl.dag_definition import DagDefaults
from flowctl.operators import BashOperator, PythonOperator

CLASSIC_DAG_FILE = textwrap.dedent(
    """
    from datetime import timedelta

    import pendulum
    from airflow import DAG
    from airflow.operators.bash import BashOperator
    from airflow.operators.python import PythonOperator

    default_args = {
        "owner": "data",
        "retries": 3,
        "retry_delay": timedelta(minutes=5),
        "email": ["a@b.c"],
        "email_on_failure": True,
        "depends_on_past": True,
    }

    dag = DAG(
        "seeds",
        default_args=default_args,
        description="Load the seed tables every night",
        schedule_interval="0 2 * * *",
        start_date=pendulum.datetime(2024, 1, 1, tz="Asia/Seoul"),
        catchup=False,
        tags=["seeds"],
    )


    def download_seeds(target_day, **context):
        context["ti"].xcom_push(key="rows", value=42)
        return target_day


    t1 = PythonOperator(
        task_id="download_seeds",
        python_callable=download_seeds,
        provide_context=True,
        op_kwargs={"target_day": "{{ ds }}"},
        dag=dag,
    )

    t2 = BashOperator(
        task_id="load_seeds",
        bash_command="echo {{ ti.xcom_pull(task_ids='download_seeds', key='rows') }}",
        retries=1,
        dag=dag,
    )

    t3 = BashOperator(task_id="report", bash_command="echo done", dag=dag)

    t2.set_upstream(t1)
    t3.set_upstream(t2)
    """
)

TASKFLOW_DAG_FILE = textwrap.dedent(
    """
    import pendulum
    from airflow.decorators import dag, task
    from airflow.operators.empty import EmptyOperator


    @dag(
        schedule="@daily",
        start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
        catchup=False,
        default_args={"owner": "analytics", "retries": 2},
        tags=["example"],
    )
    def tutorial_taskflow(threshold: int = 10):
        \"\"\"Extract, transform, load.\"\"\"

        @task()
        def extract():
            return {"1001": 301.27, "1002": 433.21}

        @task(multiple_outputs=True)
        def transform(order_data: dict):
            return {"total_order_value": sum(order_data.values())}

        @task()
        def load(total_order_value: float):
            print(f"Total order value is: {total_order_value:.2f}")

        start = EmptyOperator(task_id="start")
        order_data = extract()
        start >> order_data
        summary = transform(order_data)
        load(summary["total_order_value"])


    tutorial_dag = tutorial_taskflow()
    """
)


def import_ported(tmp_path: Path, airflow_source: str) -> ModuleType:
    """Rename the imports, write the file and import it by path, as the DAG processor does."""
    path = tmp_path / "ported_dag.py"
    path.write_text(airflow_source.replace("airflow", "flowctl"))
    spec = importlib.util.spec_from_file_location(f"ported_dag_{uuid.uuid4().hex}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_classic_airflow_file_defines_the_same_dag(tmp_path: Path) -> None:
    # When the renamed Airflow file is imported
    module = import_ported(tmp_path, CLASSIC_DAG_FILE)

    # Then it defines the DAG with its schedule, tasks and dependencies
    dag = module.dag
    assert isinstance(dag, DAG)
    assert dag.dag_id == "seeds"
    assert dag.schedule == "0 2 * * *"
    assert dag.start_date == pendulum.datetime(2024, 1, 1, tz="Asia/Seoul")
    assert dag.catchup is False
    assert dag.tags == ["seeds"]
    assert dag.fileloc == str(tmp_path / "ported_dag.py")
    assert dag.task_ids == ["download_seeds", "load_seeds", "report"]
    assert set(dag.iter_dependencies()) == {("download_seeds", "load_seeds"), ("load_seeds", "report")}
    assert isinstance(dag.get_task("download_seeds"), PythonOperator)
    assert isinstance(dag.get_task("load_seeds"), BashOperator)


def test_classic_airflow_file_default_args_reach_every_task(tmp_path: Path) -> None:
    dag = import_ported(tmp_path, CLASSIC_DAG_FILE).dag

    for task in dag.tasks:
        assert task.owner == "data", task.task_id
        assert task.depends_on_past is True, task.task_id
        assert task.retry_delay == timedelta(minutes=5), task.task_id
        assert task.email == ["a@b.c"], task.task_id
        assert task.email_on_failure is True, task.task_id
    assert {task.task_id: task.retries for task in dag.tasks} == {
        "download_seeds": 3,
        "load_seeds": 1,  # given to the operator: beats default_args
        "report": 3,
    }
    assert dag.owner == "data"


def test_classic_airflow_python_task_gets_op_kwargs_and_context(tmp_path: Path) -> None:
    # Given the ported PythonOperator with provide_context=True and templated op_kwargs
    download = import_ported(tmp_path, CLASSIC_DAG_FILE).dag.get_task("download_seeds")
    pushed: dict[str, object] = {}

    class FakeTI:
        def xcom_push(self, key: str, value: object) -> None:
            pushed[key] = value

    # When it runs with its op_kwargs already rendered
    download.op_kwargs = {"target_day": "2024-01-01"}
    result = download.execute({"ti": FakeTI(), "ds": "2024-01-01"})

    # Then the callable got both its keyword and the context
    assert result == "2024-01-01"
    assert pushed == {"rows": 42}
    assert PythonOperator.template_fields == ("templates_dict", "op_args", "op_kwargs")


def test_classic_airflow_file_passes_configuration_defaults_and_validation(tmp_path: Path) -> None:
    pytest.importorskip("flowctl.schedule")
    dag = import_ported(tmp_path, CLASSIC_DAG_FILE).dag

    dag.apply_defaults(DagDefaults())
    dag.validate()

    assert dag.timezone == "Asia/Seoul"
    assert dag.max_active_runs == DagDefaults().max_active_runs


def test_taskflow_airflow_file_defines_the_same_dag(tmp_path: Path) -> None:
    module = import_ported(tmp_path, TASKFLOW_DAG_FILE)

    dag = module.tutorial_dag
    assert dag.dag_id == "tutorial_taskflow"
    assert dag.schedule == "@daily"
    assert dag.doc_md == "Extract, transform, load."
    assert dag.params["threshold"].default == 10
    assert dag.task_ids == ["start", "extract", "transform", "load"]
    assert set(dag.iter_dependencies()) == {
        ("start", "extract"),
        ("extract", "transform"),
        ("transform", "load"),
    }
    assert dag.get_task("transform").multiple_outputs is True
    assert all((t.owner, t.retries) == ("analytics", 2) for t in dag.tasks)


def test_taskflow_airflow_file_passes_configuration_defaults_and_validation(tmp_path: Path) -> None:
    pytest.importorskip("flowctl.schedule")
    dag = import_ported(tmp_path, TASKFLOW_DAG_FILE).tutorial_dag

    dag.apply_defaults(DagDefaults())
    dag.validate()

    assert dag.timezone == "UTC"


@pytest.mark.parametrize(
    "module",
    [
        "flowctl.decorators",
        "flowctl.operators.empty",
        "flowctl.operators.python",
        "flowctl.operators.bash",
        "flowctl.sensors.base",
        "flowctl.sensors.python",
    ],
)
def test_airflow_submodule_names_exist(module: str) -> None:
    importlib.import_module(module)
