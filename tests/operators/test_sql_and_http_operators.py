"""SQLExecuteQueryOperator against each backend's test database and HttpOperator against a local API,
each try run through the real task runtime: templates rendered, results pushed to XCom, secrets masked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flowctl import DAG
from flowctl.connection import Connection
from flowctl.exceptions import DagDefinitionError
from flowctl.hooks import BaseHook
from flowctl.operators import HttpOperator, SQLExecuteQueryOperator
from tests.hooks.api_server import ApiServer, Reply
from tests.operators.conftest import RunTry

API_PASSWORD = "api-pw-canary-93kq"


@pytest.fixture
def dag(tmp_path: Path) -> DAG:
    return DAG("ops", schedule=None, template_searchpath=[str(tmp_path)])


@pytest.fixture
def scores(target: Connection, unique: str) -> Any:
    """A table `scores_<unique>` with three rows, in the target database."""
    hook = BaseHook.get_hook("target")
    table = f"scores_{unique}"
    hook.run(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, day VARCHAR(10), score DECIMAL(10, 2))")
    hook.insert_rows(table, [(1, "2024-03-05", 1.5), (2, "2024-03-05", 2.5), (3, "2024-03-04", 7)])
    yield table
    hook.run(f"DROP TABLE {table}")


@pytest.fixture
def api_connection(api: ApiServer, monkeypatch: pytest.MonkeyPatch) -> ApiServer:
    api.credentials = ("etl", API_PASSWORD)
    monkeypatch.setenv("FLOWCTL_CONN_API", f"http://etl:{API_PASSWORD}@127.0.0.1:{api.port}")
    return api


# SQLExecuteQueryOperator


def test_templated_sql_with_parameters_pushes_its_rows(dag: DAG, scores: str, run_try: RunTry) -> None:
    p = BaseHook.get_hook("target").placeholder  # type: ignore[attr-defined]
    task = SQLExecuteQueryOperator(
        task_id="read",
        conn_id="target",
        sql=f"SELECT id, score FROM {scores} WHERE day = '{{{{ ds }}}}' AND id > {p} ORDER BY id",
        parameters=[0],
        dag=dag,
    )

    done = run_try(task)

    assert done.state == "success", done.outcome.error
    assert done.return_value == [(1, 1.5), (2, 2.5)]  # DECIMAL made JSON-friendly
    assert "WHERE day = '2024-03-05'" in done.outcome.rendered_fields["sql"]


def test_sql_from_a_template_file_and_whole_decimals_as_ints(
    dag: DAG, scores: str, run_try: RunTry, tmp_path: Path
) -> None:
    (tmp_path / "total.sql").write_text(f"SELECT COUNT(*), SUM(score) FROM {scores} WHERE day <= '{{{{ ds }}}}'")
    task = SQLExecuteQueryOperator(task_id="total", conn_id="target", sql="total.sql", dag=dag)

    done = run_try(task)

    assert done.state == "success", done.outcome.error
    assert done.return_value == [(3, 11)]


def test_split_statements_returns_every_result_unless_return_last(dag: DAG, scores: str, run_try: RunTry) -> None:
    script = f"UPDATE {scores} SET score = 0 WHERE id = 3; SELECT score FROM {scores} WHERE id = 3"
    every = SQLExecuteQueryOperator(
        task_id="every", conn_id="target", sql=script, split_statements=True, return_last=False, dag=dag
    )
    last = SQLExecuteQueryOperator(task_id="last", conn_id="target", sql=script, split_statements=True, dag=dag)

    assert run_try(every).return_value == [None, [(0,)]]
    assert run_try(last).return_value == [(0,)]


def test_more_rows_than_max_rows_fail_the_task_without_retrying(dag: DAG, scores: str, run_try: RunTry) -> None:
    limited = SQLExecuteQueryOperator(
        task_id="limited", conn_id="target", sql=f"SELECT id FROM {scores}", max_rows=2, dag=dag
    )
    unlimited = SQLExecuteQueryOperator(
        task_id="unlimited", conn_id="target", sql=f"SELECT id FROM {scores} ORDER BY id", max_rows=None, dag=dag
    )

    refused = run_try(limited)

    assert (refused.state, refused.outcome.retryable) == ("failed", False)
    assert "more than max_rows=2 rows" in (refused.outcome.error or "")
    assert run_try(unlimited).return_value == [(1,), (2,), (3,)]


def test_without_xcom_push_the_statements_run_and_nothing_is_pushed(dag: DAG, scores: str, run_try: RunTry) -> None:
    task = SQLExecuteQueryOperator(
        task_id="delete", conn_id="target", sql=f"DELETE FROM {scores} WHERE id = 1", do_xcom_push=False, dag=dag
    )

    done = run_try(task)

    assert (done.state, done.xcoms) == ("success", {})
    assert BaseHook.get_hook("target").get_first(f"SELECT COUNT(*) FROM {scores}") == (2,)  # type: ignore[attr-defined]


def test_a_connection_password_rendered_into_sql_is_masked_in_rendered_fields(
    dag: DAG, target: Connection, run_try: RunTry, api_connection: ApiServer
) -> None:
    task = SQLExecuteQueryOperator(
        task_id="leaky", conn_id="target", sql="SELECT 1 -- {{ conn.api.password }}", dag=dag
    )

    done = run_try(task)

    assert done.state == "success", done.outcome.error
    assert API_PASSWORD not in json.dumps(done.outcome.rendered_fields)
    assert done.outcome.rendered_fields["sql"] == "SELECT 1 -- ***"


def test_a_connection_that_does_not_run_sql_fails_clearly(dag: DAG, run_try: RunTry, api_connection: ApiServer) -> None:
    task = SQLExecuteQueryOperator(task_id="wrong", conn_id="api", sql="SELECT 1", dag=dag)

    done = run_try(task)

    assert done.state == "failed"
    assert "connection 'api' is served by HttpHook, which does not run SQL" in (done.outcome.error or "")


def test_sql_operator_needs_a_conn_id(dag: DAG) -> None:
    with pytest.raises(DagDefinitionError, match="needs conn_id"):
        SQLExecuteQueryOperator(task_id="t", sql="SELECT 1", dag=dag)


# HttpOperator


def test_templated_endpoint_and_data_and_the_response_text_goes_to_xcom(
    dag: DAG, api_connection: ApiServer, run_try: RunTry
) -> None:
    api_connection.reply("/reports/2024-03-05", Reply(200, "report body"))
    task = HttpOperator(
        task_id="get",
        http_conn_id="api",
        method="GET",
        endpoint="reports/{{ ds }}",
        data={"run": "{{ run_id }}"},
        dag=dag,
    )

    done = run_try(task)

    assert done.state == "success", done.outcome.error
    assert done.return_value == "report body"
    (request,) = api_connection.requests_to("/reports/2024-03-05")
    assert request.query == {"run": ["manual__operators"]}
    assert done.outcome.rendered_fields["endpoint"] == "reports/2024-03-05"


def test_response_filter_and_check_get_the_response_and_the_context_keys_they_name(
    dag: DAG, api_connection: ApiServer, run_try: RunTry
) -> None:
    api_connection.items = [{"id": 1}, {"id": 2}]
    seen: dict[str, Any] = {}

    def check(response: Any, ds: str) -> bool:
        seen["ds"] = ds
        return response.status_code == 200

    task = HttpOperator(
        task_id="filtered",
        http_conn_id="api",
        method="GET",
        endpoint="items",
        response_check=check,
        response_filter=lambda response: [item["id"] for item in response.json()["items"]],
        dag=dag,
    )

    done = run_try(task)

    assert done.return_value == [1, 2]
    assert seen == {"ds": "2024-03-05"}


def test_a_false_response_check_fails_the_task(dag: DAG, api_connection: ApiServer, run_try: RunTry) -> None:
    task = HttpOperator(
        task_id="checked", http_conn_id="api", method="GET", endpoint="items", response_check=lambda r: False, dag=dag
    )

    done = run_try(task)

    assert done.state == "failed"
    assert "response_check returned False" in (done.outcome.error or "")


def test_pagination_calls_until_the_function_returns_none_and_hands_every_page_on(
    dag: DAG, api_connection: ApiServer, run_try: RunTry
) -> None:
    api_connection.items = [{"id": n} for n in range(1, 6)]  # three pages of two

    def next_page(response: Any) -> dict[str, Any] | None:
        following = response.json()["next_page"]
        return {"data": {"page": following}} if following else None

    task = HttpOperator(
        task_id="paged",
        http_conn_id="api",
        method="GET",
        endpoint="items",
        data={"page": 1, "day": "{{ ds }}"},
        pagination_function=next_page,
        response_filter=lambda pages: [item["id"] for page in pages for item in page.json()["items"]],
        dag=dag,
    )

    done = run_try(task)

    assert done.return_value == [1, 2, 3, 4, 5]
    assert [r.query for r in api_connection.requests_to("/items")] == [
        {"page": [str(n)], "day": ["2024-03-05"]} for n in (1, 2, 3)
    ]


def test_without_a_filter_pagination_pushes_every_page_text(
    dag: DAG, api_connection: ApiServer, run_try: RunTry
) -> None:
    api_connection.items = [{"id": 1}, {"id": 2}, {"id": 3}]
    task = HttpOperator(
        task_id="texts",
        http_conn_id="api",
        method="GET",
        endpoint="items",
        pagination_function=lambda r: {"endpoint": f"items?page={n}"} if (n := r.json()["next_page"]) else None,
        dag=dag,
    )

    pages = run_try(task).return_value

    assert [json.loads(text)["page"] for text in pages] == [1, 2]


def test_a_pagination_function_that_never_stops_is_cut_at_max_pages(
    dag: DAG, api_connection: ApiServer, run_try: RunTry
) -> None:
    task = HttpOperator(
        task_id="endless",
        http_conn_id="api",
        method="GET",
        endpoint="items",
        pagination_function=lambda r: {"data": {"page": 1}},
        max_pages=3,
        dag=dag,
    )

    done = run_try(task)

    assert done.state == "failed"
    assert "more than max_pages=3 pages" in (done.outcome.error or "")
    assert len(api_connection.requests_to("/items")) == 3


def test_an_error_answer_fails_the_task_with_the_status_and_retry_args_retry_it(
    dag: DAG, api_connection: ApiServer, run_try: RunTry
) -> None:
    api_connection.reply("/broken", Reply(500, "boom"))
    api_connection.reply("/flaky", Reply(502), Reply(200, "fine"))
    broken = HttpOperator(task_id="broken", http_conn_id="api", method="POST", endpoint="broken", dag=dag)
    flaky = HttpOperator(
        task_id="flaky",
        http_conn_id="api",
        method="POST",
        endpoint="flaky",
        data={"x": "1"},
        retry_args={"retries": 2, "backoff": 0.01},
        dag=dag,
    )

    failed = run_try(broken)
    recovered = run_try(flaky)

    assert failed.state == "failed"
    assert "HTTP 500 Internal Server Error from POST" in (failed.outcome.error or "")
    assert recovered.return_value == "fine"
    assert [r.body for r in api_connection.requests_to("/flaky")] == [b"x=1", b"x=1"]


def test_log_response_prints_the_text(
    dag: DAG, api_connection: ApiServer, run_try: RunTry, capsys: pytest.CaptureFixture[str]
) -> None:
    api_connection.reply("/hello", Reply(200, "hello there"))
    task = HttpOperator(task_id="loud", http_conn_id="api", method="GET", endpoint="hello", log_response=True, dag=dag)

    run_try(task)

    assert "hello there" in capsys.readouterr().out


def test_an_unknown_method_is_a_dag_definition_error(dag: DAG) -> None:
    with pytest.raises(DagDefinitionError, match="method 'fetch' is not one of"):
        HttpOperator(task_id="t", method="fetch", dag=dag)
