"""`/api/v1/dags/{dag_id}/dagRuns`: triggering (params, duplicates, dates), listing with filters and paging."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from flowctl.roles import Role
from tests.web.conftest import Seed, Web
from tests.web.test_api_openapi import conforms

WITH_PARAMS = """
import pendulum
from flowctl import DAG, Param
from flowctl.operators import EmptyOperator

with DAG(
    "with_params",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    params={"rows": Param(10, type="integer", minimum=1)},
):
    EmptyOperator(task_id="a")
"""

OTHER = """
import pendulum
from flowctl import DAG
from flowctl.operators import EmptyOperator

with DAG("other", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    EmptyOperator(task_id="b")
"""


def _runs(session_factory) -> int:
    from flowctl.db.models import DagRun

    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(DagRun))


def test_trigger_creates_a_queued_manual_run_and_answers_it_in_airflow_shape(web: Web, seed: Seed) -> None:
    seed.dag(WITH_PARAMS)
    client = web.app.test_client()

    response = client.post(
        "/api/v1/dags/with_params/dagRuns",
        json={"dag_run_id": "my_run", "logical_date": "2024-03-01T12:00:00+09:00", "conf": {"rows": 3}},
        headers=web.basic_auth(Role.USER),
    )

    assert response.status_code == 200
    run = conforms(response.get_json(), "DAGRun")
    assert run["dag_run_id"] == run["run_id"] == "my_run"
    assert run["dag_id"] == "with_params" and run["state"] == "queued" and run["run_type"] == "manual"
    assert run["logical_date"] == run["execution_date"] == "2024-03-01T03:00:00+00:00"
    assert run["data_interval_start"] == "2024-02-29T00:00:00+00:00"
    assert run["data_interval_end"] == "2024-03-01T00:00:00+00:00"
    assert run["conf"] == {"rows": 3} and run["external_trigger"] is True
    assert run["start_date"] is None and run["end_date"] is None and run["note"] is None
    fetched = client.get("/api/v1/dags/with_params/dagRuns/my_run", headers=web.basic_auth(Role.VIEWER))
    assert fetched.get_json() == run


def test_trigger_without_a_body_of_fields_uses_now_and_a_manual_run_id(web: Web, seed: Seed) -> None:
    seed.dag(OTHER)
    before = datetime.now(UTC)

    response = web.app.test_client().post("/api/v1/dags/other/dagRuns", json={}, headers=web.basic_auth(Role.USER))

    run = response.get_json()
    assert response.status_code == 200 and run["dag_run_id"].startswith("manual__")
    assert datetime.fromisoformat(run["logical_date"]) >= before.replace(microsecond=0)
    assert run["data_interval_start"] == run["data_interval_end"] == run["logical_date"]


def test_conf_refused_by_params_is_400_and_creates_nothing(web: Web, seed: Seed, session_factory) -> None:
    seed.dag(WITH_PARAMS)

    response = web.app.test_client().post(
        "/api/v1/dags/with_params/dagRuns", json={"conf": {"rows": 0}}, headers=web.basic_auth(Role.USER)
    )

    assert response.status_code == 400
    assert "rows" in response.get_json()["detail"]
    assert _runs(session_factory) == 0


def test_a_duplicate_run_id_or_logical_date_is_409(web: Web, seed: Seed) -> None:
    seed.dag(OTHER)
    client, auth = web.app.test_client(), web.basic_auth(Role.USER)
    first = {"dag_run_id": "once", "logical_date": "2024-05-01T00:00:00Z"}

    assert client.post("/api/v1/dags/other/dagRuns", json=first, headers=auth).status_code == 200
    again = client.post("/api/v1/dags/other/dagRuns", json=first, headers=auth)
    same_date = client.post(
        "/api/v1/dags/other/dagRuns", json={"logical_date": "2024-05-01T00:00:00+00:00"}, headers=auth
    )

    assert again.status_code == 409 and conforms(again.get_json(), "Error")["status"] == 409
    assert same_date.status_code == 409


def test_trigger_bodies_are_checked_field_by_field(web: Web, seed: Seed, session_factory) -> None:
    seed.dag(OTHER)
    client, auth = web.app.test_client(), web.basic_auth(Role.USER)

    for body in (
        {"conf": "not an object"},
        {"conf": [1, 2]},
        {"dag_run_id": 5},
        {"dag_run_id": ""},
        {"dag_run_id": "a/b"},
        {"dag_run_id": "../../etc"},
        {"logical_date": "yesterday"},
        {"logical_date": "2024-01-01T00:00:00"},  # no time zone
        {"logical_date": "0001-01-01T00:00:00+05:00"},
        {"logical_date": "2024-01-01T00:00:00Z", "execution_date": "2024-01-02T00:00:00Z"},
        {"state": "success"},
        {"note": "hello"},
        {"conf": {"x": "a\u0000b"}},
    ):
        response = client.post("/api/v1/dags/other/dagRuns", json=body, headers=auth)
        assert response.status_code == 400, body
        assert response.get_json()["detail"], body
    assert client.post("/api/v1/dags/nope/dagRuns", json={}, headers=auth).status_code == 404
    assert _runs(session_factory) == 0


def test_runs_are_listed_paged_filtered_and_ordered(web: Web, seed: Seed) -> None:
    seed.dag(WITH_PARAMS)
    seed.dag(OTHER)
    for day in (1, 2, 3):
        seed.run("with_params", run_id=f"r{day}", logical_date=datetime(2024, 1, day, tzinfo=UTC))
    seed.run("other", run_id="o1", logical_date=datetime(2024, 1, 5, tzinfo=UTC), run_state="success")
    client, auth = web.app.test_client(), web.basic_auth(Role.VIEWER)

    def ids(url: str) -> tuple[list[str], int]:
        body = conforms(client.get(url, headers=auth).get_json(), "DAGRunCollection")
        return [run["dag_run_id"] for run in body["dag_runs"]], body["total_entries"]

    assert ids("/api/v1/dags/with_params/dagRuns") == (["r1", "r2", "r3"], 3)
    assert ids("/api/v1/dags/with_params/dagRuns?limit=1&offset=1") == (["r2"], 3)
    assert ids("/api/v1/dags/with_params/dagRuns?order_by=-execution_date") == (["r3", "r2", "r1"], 3)
    window = "execution_date_gte=2024-01-02T00:00:00%2B00:00&execution_date_lte=2024-01-03T00:00:00Z"
    assert ids(f"/api/v1/dags/with_params/dagRuns?{window}") == (["r2", "r3"], 2)
    assert ids("/api/v1/dags/with_params/dagRuns?execution_date_gte=2024-01-03T00:00:00 00:00") == (["r3"], 1)
    assert ids("/api/v1/dags/~/dagRuns?state=success") == (["o1"], 1)
    assert ids("/api/v1/dags/~/dagRuns?state=running&state=success") == (["r1", "r2", "r3", "o1"], 4)


def test_bad_run_list_parameters_are_400_and_unknown_ids_404(web: Web, seed: Seed) -> None:
    seed.dag(OTHER)
    client, auth = web.app.test_client(), web.basic_auth(Role.VIEWER)

    for query in ("execution_date_gte=soon", "start_date_lte=2024-01-01", "order_by=conf", "offset=x"):
        assert client.get(f"/api/v1/dags/other/dagRuns?{query}", headers=auth).status_code == 400, query
    assert client.get("/api/v1/dags/nope/dagRuns", headers=auth).status_code == 404
    assert client.get("/api/v1/dags/other/dagRuns/nope", headers=auth).status_code == 404
    assert client.get("/api/v1/dags/other/dagRuns/bad%00id", headers=auth).status_code == 400


def test_extreme_logical_dates_are_answered_never_a_server_error(web: Web, seed: Seed) -> None:
    seed.dag(WITH_PARAMS)
    client, auth = web.app.test_client(), web.basic_auth(Role.USER)

    for when in ("9999-12-31T23:59:59+00:00", "1000-01-01T00:00:00+00:00", "1970-01-01T00:00:00-12:00"):
        response = client.post("/api/v1/dags/with_params/dagRuns", json={"logical_date": when}, headers=auth)
        assert response.status_code in (200, 400), (when, response.get_json())
        listed = client.get(
            f"/api/v1/dags/with_params/dagRuns?execution_date_lte={when.replace('+', '%2B')}", headers=auth
        )
        assert listed.status_code == 200, when
