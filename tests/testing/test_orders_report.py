"""The example of docs/testing.md, as it is there: a DAG file tested with flowctl.testing and DAG.test()."""

from pathlib import Path

from flowctl.testing import run_dag, run_task

DAG_FILE = Path(__file__).parent / "dags" / "orders_report.py"


def test_the_report_totals_the_orders_and_announces_the_total():
    result = run_dag(DAG_FILE, logical_date="2024-03-01")

    assert result.state == "success"
    assert result.task_states == {"extract": "success", "total": "success", "announce": "success"}
    assert result.xcom("total") == "1236.70 EUR"
    assert "reading orders of 2024-03-01" in result.logs["extract"]
    assert "total 1236.70 EUR" in result.logs["announce"]


def test_conf_and_variables_change_the_total():
    result = run_dag(DAG_FILE, conf={"currency": "KRW"}, variables={"minimum_order": "400"})

    assert result.xcom("total") == "935.43 KRW"


def test_one_task_alone():
    extract = run_task(DAG_FILE, "extract")

    assert extract.state == "success"
    assert extract.xcoms["return_value"] == [301.27, 433.21, 502.22]


def test_dag_test_as_in_airflow():
    from tests.testing.dags.orders_report import dag

    run = dag.test(run_conf={"currency": "USD"})

    assert run.state == "success"
    assert run.xcom("total") == "1236.70 USD"
