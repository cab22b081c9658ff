"""Task instances over the API: listing and reading (mapped ones too), marking, clearing, and XComs."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from flowctl.roles import Role
from tests.web.conftest import Seed, Web
from tests.web.test_api_openapi import conforms

CHAIN = """
import pendulum
from flowctl import DAG
from flowctl.operators import EmptyOperator

with DAG("chain", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    a = EmptyOperator(task_id="a", pool="default_pool", priority_weight=3)
    b = EmptyOperator(task_id="b")
    c = EmptyOperator(task_id="c")
    a >> b >> c
"""
RUN_DATE = datetime(2024, 2, 1, tzinfo=UTC)


def _chain_run(seed: Seed, states: dict[str, str], **kwargs) -> str:
    seed.dag(CHAIN)
    return seed.run("chain", states, run_id="r1", logical_date=RUN_DATE, **kwargs)


def _states(session_factory, run_id: str = "r1") -> dict[str, str]:
    from flowctl.db.models import TaskInstance

    with session_factory() as session:
        rows = session.execute(select(TaskInstance.task_id, TaskInstance.state).where(TaskInstance.run_id == run_id))
        return dict(rows.all())


def _add_mapped(session_factory, task_id: str, count: int) -> None:
    from flowctl.db.models import TaskInstance

    with session_factory.begin() as session:
        for index in range(count):
            session.add(TaskInstance(dag_id="chain", run_id="r1", task_id=task_id, map_index=index, state="success"))


def test_a_runs_task_instances_in_airflow_shape_with_filters_and_paging(web: Web, seed: Seed) -> None:
    _chain_run(seed, {"a": "success", "b": "failed"})
    client, auth = web.app.test_client(), web.basic_auth(Role.VIEWER)
    url = "/api/v1/dags/chain/dagRuns/r1/taskInstances"

    body = conforms(client.get(url, headers=auth).get_json(), "TaskInstanceCollection")
    failed = client.get(f"{url}?state=failed", headers=auth).get_json()
    second = client.get(f"{url}?limit=1&offset=1", headers=auth).get_json()
    everything = client.get("/api/v1/dags/~/dagRuns/~/taskInstances?state=success", headers=auth).get_json()

    assert body["total_entries"] == 3
    a = body["task_instances"][0]
    assert (a["task_id"], a["dag_id"], a["dag_run_id"], a["map_index"]) == ("a", "chain", "r1", -1)
    assert a["state"] == "success" and a["try_number"] == 1 and a["priority_weight"] >= 3
    assert a["execution_date"] == "2024-02-01T00:00:00+00:00" and a["pool"] == "default_pool"
    assert a["operator"] == "EmptyOperator" and a["rendered_fields"] == {}
    assert body["task_instances"][2]["state"] == "none"
    assert [ti["task_id"] for ti in failed["task_instances"]] == ["b"]
    assert [ti["task_id"] for ti in second["task_instances"]] == ["b"] and second["total_entries"] == 3
    assert [ti["task_id"] for ti in everything["task_instances"]] == ["a"]


def test_one_task_instance_mapped_or_not_and_404s(web: Web, seed: Seed, session_factory) -> None:
    _chain_run(seed, {"a": "success"})
    _add_mapped(session_factory, "c", 2)
    client, auth = web.app.test_client(), web.basic_auth(Role.VIEWER)
    base = "/api/v1/dags/chain/dagRuns/r1/taskInstances"

    one = client.get(f"{base}/a", headers=auth)
    mapped = client.get(f"{base}/c/1", headers=auth)

    assert conforms(one.get_json(), "TaskInstance")["task_id"] == "a"
    assert conforms(mapped.get_json(), "TaskInstance")["map_index"] == 1
    for url in (
        f"{base}/nope",
        f"{base}/c/7",
        f"{base}/c/99999999999999999999",
        "/api/v1/dags/chain/dagRuns/x/taskInstances/a",
    ):
        assert client.get(url, headers=auth).status_code == 404, url
    assert client.get("/api/v1/dags/chain/dagRuns/nope/taskInstances", headers=auth).status_code == 404


def test_patch_marks_success_and_a_dry_run_changes_nothing(web: Web, seed: Seed, session_factory) -> None:
    _chain_run(seed, {"a": "failed"})
    client, auth = web.app.test_client(), web.basic_auth(Role.USER)
    url = "/api/v1/dags/chain/dagRuns/r1/taskInstances/a"

    dry = client.patch(url, json={"new_state": "success", "dry_run": True}, headers=auth)
    assert dry.status_code == 200 and _states(session_factory)["a"] == "failed"
    marked = client.patch(url, json={"new_state": "success"}, headers=auth)

    assert marked.status_code == 200
    assert conforms(marked.get_json(), "TaskInstanceReference") == {
        "task_id": "a",
        "dag_id": "chain",
        "dag_run_id": "r1",
        "execution_date": "2024-02-01T00:00:00+00:00",
        "map_index": -1,
    }
    assert _states(session_factory)["a"] == "success"
    assert client.patch(url, json={"new_state": "failed"}, headers=auth).status_code == 200
    assert _states(session_factory)["a"] == "failed"


def test_patch_refuses_other_states_bad_bodies_and_unknown_instances(web: Web, seed: Seed, session_factory) -> None:
    _chain_run(seed, {"a": "failed"})
    client, auth = web.app.test_client(), web.basic_auth(Role.USER)
    url = "/api/v1/dags/chain/dagRuns/r1/taskInstances/a"

    for body in (
        {"new_state": "running"},
        {"new_state": "skipped"},
        {},
        {"new_state": "success", "extra": 1},
        {"new_state": "success", "dry_run": "no"},
    ):
        assert client.patch(url, json=body, headers=auth).status_code == 400, body
    missing = client.patch(url.replace("/a", "/zz"), json={"new_state": "success"}, headers=auth)
    assert missing.status_code == 404
    assert _states(session_factory)["a"] == "failed"


def test_clear_is_a_dry_run_of_failed_instances_unless_told_otherwise(web: Web, seed: Seed, session_factory) -> None:
    _chain_run(seed, {"a": "success", "b": "failed", "c": "upstream_failed"}, run_state="failed")
    client, auth = web.app.test_client(), web.basic_auth(Role.USER)
    url = "/api/v1/dags/chain/clearTaskInstances"

    dry = client.post(url, json={"dag_run_id": "r1"}, headers=auth)

    body = conforms(dry.get_json(), "TaskInstanceReferenceCollection")
    assert [ref["task_id"] for ref in body["task_instances"]] == ["b", "c"]
    assert body["task_instances"][0]["execution_date"] == "2024-02-01T00:00:00+00:00"
    assert _states(session_factory) == {"a": "success", "b": "failed", "c": "upstream_failed"}


def test_clear_with_downstream_resets_instances_and_requeues_the_run(web: Web, seed: Seed, session_factory) -> None:
    from flowctl.db.models import DagRun

    _chain_run(seed, {"a": "success", "b": "success", "c": "failed"}, run_state="failed")
    client, auth = web.app.test_client(), web.basic_auth(Role.USER)
    body = {
        "dag_run_id": "r1",
        "task_ids": ["a"],
        "include_downstream": True,
        "only_failed": False,
        "dry_run": False,
        "reset_dag_runs": True,
        "include_subdags": True,
    }

    response = client.post("/api/v1/dags/chain/clearTaskInstances", json=body, headers=auth)

    assert response.status_code == 200
    assert sorted(ref["task_id"] for ref in response.get_json()["task_instances"]) == ["a", "b", "c"]
    assert _states(session_factory) == {"a": "none", "b": "none", "c": "none"}
    with session_factory() as session:
        assert session.scalar(select(DagRun.state).where(DagRun.run_id == "r1")) == "queued"


def test_clear_across_runs_by_date_and_with_include_past(web: Web, seed: Seed, session_factory) -> None:
    seed.dag(CHAIN)
    for day in (1, 2, 3):
        seed.run("chain", {"a": "failed"}, run_id=f"r{day}", logical_date=datetime(2024, 2, day, tzinfo=UTC))
    client, auth = web.app.test_client(), web.basic_auth(Role.USER)
    url = "/api/v1/dags/chain/clearTaskInstances"

    def runs(body: dict) -> list[str]:
        answer = client.post(url, json={"task_ids": ["a"], **body}, headers=auth)
        assert answer.status_code == 200, answer.get_json()
        return [ref["dag_run_id"] for ref in answer.get_json()["task_instances"]]

    assert runs({"start_date": "2024-02-02T00:00:00Z"}) == ["r2", "r3"]
    assert runs({"end_date": "2024-02-01T00:00:00Z"}) == ["r1"]
    assert runs({"dag_run_id": "r2", "include_past": True}) == ["r1", "r2"]
    assert runs({"dag_run_id": "r2", "include_future": True}) == ["r2", "r3"]
    assert all(state == "failed" for state in _states(session_factory, "r2").values() if state != "none")


def test_clear_refuses_bad_bodies(web: Web, seed: Seed, session_factory) -> None:
    _chain_run(seed, {"b": "failed"})
    client, auth = web.app.test_client(), web.basic_auth(Role.USER)
    url = "/api/v1/dags/chain/clearTaskInstances"

    for body in (
        {"task_ids": []},
        {"task_ids": "a"},
        {"task_ids": ["nope"]},
        {"dry_run": "false"},
        {"reset_dag_runs": False},
        {"only_running": True},
        {"start_date": "2024-13-01T00:00:00Z"},
        {"task_regex": "a"},
    ):
        assert client.post(url, json=body, headers=auth).status_code == 400, body
    assert client.post(url, json={"dag_run_id": "nope"}, headers=auth).status_code == 404
    assert client.post("/api/v1/dags/nope/clearTaskInstances", json={}, headers=auth).status_code == 404
    assert _states(session_factory)["b"] == "failed"


def test_xcom_entries_list_keys_and_one_entry_gives_its_value(web: Web, seed: Seed, session_factory) -> None:
    from flowctl.db.queries.task_instances import get
    from flowctl.db.queries.xcoms import replace_xcoms
    from flowctl.xcom_codec import encode_xcom

    _chain_run(seed, {"a": "success"})
    with session_factory.begin() as session:
        ti = get(session, "chain", "r1", "a")
        values = {"return_value": {"rows": 42}, "note": "<b>hi</b>"}
        encoded = [(key, encode_xcom(value, task_id="a", key=key, max_size=1 << 20)) for key, value in values.items()]
        replace_xcoms(session, ti.id, encoded, at=RUN_DATE)
    client, auth = web.app.test_client(), web.basic_auth(Role.VIEWER)
    base = "/api/v1/dags/chain/dagRuns/r1/taskInstances/a/xcomEntries"

    listing = conforms(client.get(base, headers=auth).get_json(), "XComCollection")
    text = conforms(client.get(f"{base}/return_value", headers=auth).get_json(), "XCom")
    data = client.get(f"{base}/return_value?stringify=false", headers=auth).get_json()
    note = client.get(f"{base}/note", headers=auth).get_json()

    assert [entry["key"] for entry in listing["xcom_entries"]] == ["note", "return_value"]
    assert listing["xcom_entries"][0]["execution_date"] == "2024-02-01T00:00:00+00:00"
    assert text["value"] == '{"rows": 42}' and data["value"] == {"rows": 42}
    assert note["value"] == "<b>hi</b>"
    filtered = client.get(f"{base}?xcom_key=note&limit=5", headers=auth).get_json()
    assert filtered["total_entries"] == 1
    assert client.get(f"{base}/nope", headers=auth).status_code == 404
    assert client.get(f"{base}/note?map_index=3", headers=auth).status_code == 404
