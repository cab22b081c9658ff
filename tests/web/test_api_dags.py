"""`/api/v1/dags`: Airflow's DAG shapes, paging, filters, pausing, and a DAG's tasks."""

from __future__ import annotations

from flowctl.roles import Role
from tests.web.conftest import Seed, Web
from tests.web.test_api_openapi import conforms

REPORT = """
import pendulum
from datetime import timedelta
from flowctl import DAG
from flowctl.operators import BashOperator, EmptyOperator

with DAG(
    "report",
    schedule="0 4 * * *",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    description="Daily report",
    tags=["reports", "daily"],
    default_args={"owner": "data", "retries": 2, "retry_delay": timedelta(minutes=1)},
) as dag:
    extract = BashOperator(task_id="extract", bash_command="echo hi", execution_timeout=timedelta(hours=1))
    load = EmptyOperator(task_id="load", priority_weight=5)
    extract >> load
"""

EVERY_TEN_MINUTES = """
import pendulum
from datetime import timedelta
from flowctl import DAG
from flowctl.operators import EmptyOperator

with DAG("ticker", schedule=timedelta(minutes=10), start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), tags=["ops"]):
    EmptyOperator(task_id="tick")
"""

MANUAL = """
import pendulum
from flowctl import DAG
from flowctl.operators import EmptyOperator

with DAG("manual_only", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    EmptyOperator(task_id="only")
"""


def _seed_three(seed: Seed) -> None:
    for source in (REPORT, EVERY_TEN_MINUTES, MANUAL):
        seed.dag(source)


def test_dags_list_in_airflow_shape_with_every_field(web: Web, seed: Seed) -> None:
    _seed_three(seed)

    response = web.app.test_client().get("/api/v1/dags", headers=web.basic_auth(Role.VIEWER))

    assert response.status_code == 200
    body = conforms(response.get_json(), "DAGCollection")
    assert body["total_entries"] == 3
    assert [dag["dag_id"] for dag in body["dags"]] == ["manual_only", "report", "ticker"]
    report = body["dags"][1]
    assert report["is_paused"] is True and report["is_active"] is True
    assert report["description"] == "Daily report"
    assert report["owners"] == ["data"]
    assert report["tags"] == [{"name": "daily"}, {"name": "reports"}]
    assert report["schedule_interval"] == {"__type": "CronExpression", "value": "0 4 * * *"}
    assert report["schedule"] == "0 4 * * *"
    assert report["fileloc"].endswith("report.py")
    assert report["has_import_errors"] is False
    assert report["next_dagrun"].endswith("+00:00")
    ticker, manual = body["dags"][2], body["dags"][0]
    assert ticker["schedule_interval"] == {"__type": "TimeDelta", "days": 0, "seconds": 600, "microseconds": 0}
    assert manual["schedule_interval"] is None and manual["next_dagrun"] is None


def test_dags_are_paged_ordered_and_filtered(web: Web, seed: Seed) -> None:
    _seed_three(seed)
    client, auth = web.app.test_client(), web.basic_auth(Role.VIEWER)

    def ids(query: str) -> tuple[list[str], int]:
        body = client.get(f"/api/v1/dags?{query}", headers=auth).get_json()
        return [dag["dag_id"] for dag in body["dags"]], body["total_entries"]

    assert ids("limit=1&offset=1") == (["report"], 3)
    assert ids("order_by=-dag_id&limit=2") == (["ticker", "report"], 3)
    assert ids("tags=ops&tags=daily") == (["report", "ticker"], 2)
    assert ids("dag_id_pattern=REP") == (["report"], 1)
    assert ids("paused=false") == ([], 0)
    assert ids("paused=true&limit=100") == (["manual_only", "report", "ticker"], 3)


def test_bad_list_parameters_are_400_with_a_reason(web: Web) -> None:
    client, auth = web.app.test_client(), web.basic_auth(Role.VIEWER)

    for query in ("limit=0", "limit=abc", "offset=-1", "paused=maybe", "order_by=secret_column", "limit=1e3"):
        response = client.get(f"/api/v1/dags?{query}", headers=auth)
        assert response.status_code == 400, query
        error = response.get_json()
        assert error["status"] == 400 and error["title"] == "Bad Request" and error["detail"], query


def test_a_huge_limit_is_cut_to_the_maximum_page(web: Web, seed: Seed) -> None:
    seed.dag(MANUAL)

    response = web.app.test_client().get("/api/v1/dags?limit=99999999", headers=web.basic_auth(Role.VIEWER))

    assert response.status_code == 200 and response.get_json()["total_entries"] == 1


def test_get_one_dag_and_an_unknown_one_is_404(web: Web, seed: Seed) -> None:
    seed.dag(REPORT)
    client, auth = web.app.test_client(), web.basic_auth(Role.VIEWER)

    found = client.get("/api/v1/dags/report", headers=auth)
    missing = client.get("/api/v1/dags/nope", headers=auth)

    assert conforms(found.get_json(), "DAG")["dag_id"] == "report"
    assert missing.status_code == 404
    assert conforms(missing.get_json(), "Error")["detail"].startswith("no DAG 'nope'")


def test_patch_pauses_and_unpauses_with_or_without_update_mask(web: Web, seed: Seed) -> None:
    seed.dag(REPORT)
    client = web.app.test_client()
    auth = web.basic_auth(Role.USER)

    unpaused = client.patch("/api/v1/dags/report", json={"is_paused": False}, headers=auth)
    paused = client.patch("/api/v1/dags/report?update_mask=is_paused", json={"is_paused": True}, headers=auth)

    assert unpaused.status_code == 200 and conforms(unpaused.get_json(), "DAG")["is_paused"] is False
    assert paused.get_json()["is_paused"] is True
    assert client.get("/api/v1/dags/report", headers=auth).get_json()["is_paused"] is True


def test_patch_refuses_wrong_types_unknown_fields_and_masks(web: Web, seed: Seed) -> None:
    seed.dag(REPORT)
    client, auth = web.app.test_client(), web.basic_auth(Role.USER)

    for url, body in (
        ("/api/v1/dags/report", {"is_paused": "false"}),
        ("/api/v1/dags/report", {"is_paused": True, "owners": ["me"]}),
        ("/api/v1/dags/report", {}),
        ("/api/v1/dags/report", ["is_paused"]),
        ("/api/v1/dags/report?update_mask=description", {"is_paused": True}),
    ):
        response = client.patch(url, json=body, headers=auth)
        assert response.status_code == 400, (url, body)
    assert client.patch("/api/v1/dags/report", data="{not json", headers=auth).status_code == 400
    assert client.patch("/api/v1/dags/nope", json={"is_paused": True}, headers=auth).status_code == 404
    assert client.get("/api/v1/dags/report", headers=auth).get_json()["is_paused"] is True


def test_tasks_come_from_the_stored_dag_in_airflow_shape(web: Web, seed: Seed) -> None:
    seed.dag(REPORT)
    client, auth = web.app.test_client(), web.basic_auth(Role.VIEWER)

    body = conforms(client.get("/api/v1/dags/report/tasks", headers=auth).get_json(), "TaskCollection")
    by_priority = client.get("/api/v1/dags/report/tasks?order_by=-priority_weight", headers=auth).get_json()
    one = client.get("/api/v1/dags/report/tasks/extract", headers=auth)

    assert body["total_entries"] == 2
    extract = body["tasks"][0]
    assert extract["task_id"] == "extract" and extract["class_ref"]["class_name"] == "BashOperator"
    assert extract["owner"] == "data" and extract["retries"] == 2
    assert extract["retry_delay"] == {"__type": "TimeDelta", "days": 0, "seconds": 60, "microseconds": 0}
    assert extract["execution_timeout"]["seconds"] == 3600
    assert extract["downstream_task_ids"] == ["load"] and body["tasks"][1]["upstream_task_ids"] == ["extract"]
    assert [task["task_id"] for task in by_priority["tasks"]] == ["load", "extract"]
    assert conforms(one.get_json(), "Task")["task_id"] == "extract"
    assert client.get("/api/v1/dags/report/tasks/nope", headers=auth).status_code == 404
    assert client.get("/api/v1/dags/report/tasks?order_by=bogus", headers=auth).status_code == 400


def test_a_broken_dag_file_shows_in_has_import_errors(web: Web, seed: Seed, session_factory) -> None:
    from datetime import UTC, datetime

    from flowctl.db.queries.dags import add_import_error

    seed.dag(REPORT)
    with session_factory.begin() as session:
        fileloc = str(seed.settings.core.dags_folder / "report.py")
        add_import_error(session, fileloc, "Traceback: boom", at=datetime.now(UTC))

    body = web.app.test_client().get("/api/v1/dags/report", headers=web.basic_auth(Role.VIEWER)).get_json()

    assert body["has_import_errors"] is True
