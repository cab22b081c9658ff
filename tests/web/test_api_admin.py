"""Connections, variables, pools and import errors over the API: Airflow's shapes, write-only passwords,
masked secrets, conflicts and every refusal."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from flowctl.roles import Role
from tests.web.conftest import Web
from tests.web.test_api_openapi import conforms

CANARY = "canary-pa55word-7f3a91"


def _client(web: Web, role: Role = Role.OP):
    client = web.app.test_client()
    auth = web.basic_auth(role)

    def call(method: str, url: str, **kwargs):
        return client.open(url, method=method, headers=auth, **kwargs)

    return call


def _new_connection(call, **fields) -> object:
    body = {
        "connection_id": "warehouse",
        "conn_type": "postgres",
        "host": "db.example.com",
        "login": "etl",
        "password": CANARY,
        "port": 5432,
        "schema": "analytics",
        "extra": json.dumps({"sslmode": "require", "api_token": "tok-123456", "note": f"uses {CANARY}"}),
        **fields,
    }
    return call("POST", "/api/v1/connections", json=body)


def test_connections_never_show_their_password_and_mask_secrets_in_extra(web: Web) -> None:
    call = _client(web)

    created = _new_connection(call)
    listed = call("GET", "/api/v1/connections")
    one = call("GET", "/api/v1/connections/warehouse")

    assert created.status_code == 200
    connection = conforms(one.get_json(), "Connection")
    assert created.get_json() == connection
    assert "password" not in connection
    assert (connection["host"], connection["port"], connection["login"]) == ("db.example.com", 5432, "etl")
    assert json.loads(connection["extra"]) == {"sslmode": "require", "api_token": "***", "note": "uses ***"}
    body = conforms(listed.get_json(), "ConnectionCollection")
    assert body["total_entries"] == 1 and body["connections"][0]["connection_id"] == "warehouse"
    for response in (created, listed, one):
        assert CANARY not in response.get_data(as_text=True) and "tok-123456" not in response.get_data(as_text=True)


def test_connections_are_edited_with_or_without_update_mask_and_deleted(web: Web, session_factory) -> None:
    from flowctl.db.secrets import SecretCipher
    from flowctl.services.connections import get_connection

    call = _client(web)
    _new_connection(call)

    host = call("PATCH", "/api/v1/connections/warehouse", json={"host": "db2", "port": None})
    masked = call("PATCH", "/api/v1/connections/warehouse?update_mask=login", json={"login": "new", "host": "x"})

    assert host.status_code == 200 and host.get_json()["host"] == "db2" and host.get_json()["port"] is None
    assert masked.get_json()["login"] == "new" and masked.get_json()["host"] == "db2"
    with session_factory() as session:
        stored = get_connection(session, SecretCipher(_fernet(web)), "warehouse", environ={})
    assert stored.password == CANARY  # untouched by edits that did not name it
    assert call("DELETE", "/api/v1/connections/warehouse").status_code == 204
    assert call("GET", "/api/v1/connections/warehouse").status_code == 404
    assert call("DELETE", "/api/v1/connections/warehouse").status_code == 404


def _fernet(web: Web) -> str:
    from flowctl.web.db import EXTENSION

    return web.app.extensions[EXTENSION].settings.core.fernet_key


def test_connection_refusals(web: Web) -> None:
    call = _client(web)
    _new_connection(call)

    assert _new_connection(call).status_code == 409
    for body in (
        {"connection_id": "x"},
        {"conn_type": "http"},
        {"connection_id": "x", "conn_type": "http", "port": "80"},
        {"connection_id": "x", "conn_type": "http", "port": 70000},
        {"connection_id": "x", "conn_type": "http", "extra": "not json"},
        {"connection_id": "x", "conn_type": "http", "conn_id": "x"},
        {"connection_id": "", "conn_type": "http"},
        {"connection_id": "x", "conn_type": "http", "host": "a\u0000b"},
    ):
        assert call("POST", "/api/v1/connections", json=body).status_code == 400, body
    assert call("PATCH", "/api/v1/connections/warehouse", json={"connection_id": "other"}).status_code == 400
    assert call("PATCH", "/api/v1/connections/warehouse?update_mask=password", json={}).status_code == 400
    assert call("PATCH", "/api/v1/connections/warehouse?update_mask=connection_id", json={}).status_code == 400
    assert call("PATCH", "/api/v1/connections/nope", json={"host": "h"}).status_code == 404
    assert call("GET", "/api/v1/connections?order_by=password").status_code == 400


def test_variables_list_keys_only_and_are_read_by_ops_only(web: Web) -> None:
    op, user = _client(web), _client(web, Role.USER)

    created = op("POST", "/api/v1/variables", json={"key": "region", "value": "eu-west-1"})
    op("POST", "/api/v1/variables", json={"key": "api_token", "value": "tok-secret-1"})

    assert conforms(created.get_json(), "Variable") == {"key": "region", "value": "eu-west-1", "description": None}
    listed = conforms(op("GET", "/api/v1/variables").get_json(), "VariableCollection")
    assert listed == {
        "variables": [{"key": "api_token", "description": None}, {"key": "region", "description": None}],
        "total_entries": 2,
    }
    assert op("GET", "/api/v1/variables/region").get_json()["value"] == "eu-west-1"
    assert op("GET", "/api/v1/variables/api_token").get_json()["value"] == "tok-secret-1"
    assert op("GET", "/api/v1/variables?limit=1&offset=1&order_by=-key").get_json()["variables"][0]["key"] == (
        "api_token"
    )
    for url in ("/api/v1/variables", "/api/v1/variables/region", "/api/v1/variables/api_token"):
        assert user("GET", url).status_code == 403, url  # as the admin pages (Op and Admin only)


def test_variables_are_changed_and_deleted_and_bad_bodies_refused(web: Web) -> None:
    call = _client(web)
    call("POST", "/api/v1/variables", json={"key": "a/b", "value": "1"})

    changed = call("PATCH", "/api/v1/variables/a/b", json={"key": "a/b", "value": "2"})
    masked = call("PATCH", "/api/v1/variables/a/b?update_mask=value", json={"value": "3"})

    assert changed.status_code == 200 and changed.get_json()["value"] == "2"
    assert call("GET", "/api/v1/variables/a/b").get_json()["value"] == masked.get_json()["value"] == "3"
    for method, url, body in (
        ("POST", "/api/v1/variables", {"key": "k"}),
        ("POST", "/api/v1/variables", {"key": "k", "value": 5}),
        ("POST", "/api/v1/variables", {"key": "", "value": "v"}),
        ("POST", "/api/v1/variables", {"key": "k" * 300, "value": "v"}),
        ("PATCH", "/api/v1/variables/a/b", {"key": "other", "value": "v"}),
        ("PATCH", "/api/v1/variables/a/b?update_mask=key", {"key": "a/b"}),
    ):
        assert call(method, url, json=body).status_code == 400, (method, url, body)
    assert call("PATCH", "/api/v1/variables/nope", json={"value": "v"}).status_code == 404
    assert call("DELETE", "/api/v1/variables/a/b").status_code == 204
    assert call("GET", "/api/v1/variables/a/b").status_code == 404


def test_pools_show_their_slots_and_are_created_changed_and_deleted(web: Web) -> None:
    call = _client(web)

    created = call("POST", "/api/v1/pools", json={"name": "etl", "slots": 4, "description": "ETL jobs"})
    changed = call("PATCH", "/api/v1/pools/etl?update_mask=slots", json={"slots": 6, "description": "ignored"})
    listed = conforms(call("GET", "/api/v1/pools").get_json(), "PoolCollection")

    assert conforms(created.get_json(), "Pool") == {
        "name": "etl",
        "slots": 4,
        "occupied_slots": 0,
        "running_slots": 0,
        "queued_slots": 0,
        "scheduled_slots": 0,
        "deferred_slots": 0,
        "open_slots": 4,
        "description": "ETL jobs",
        "include_deferred": False,
    }
    assert changed.get_json()["slots"] == 6 and changed.get_json()["description"] == "ETL jobs"
    assert [pool["name"] for pool in listed["pools"]] == ["default_pool", "etl"]
    assert call("GET", "/api/v1/pools?order_by=-slots&limit=1").get_json()["pools"][0]["name"] == "default_pool"
    assert call("DELETE", "/api/v1/pools/etl").status_code == 204
    assert call("GET", "/api/v1/pools/etl").status_code == 404


def test_pool_refusals(web: Web) -> None:
    call = _client(web)
    call("POST", "/api/v1/pools", json={"name": "etl", "slots": 1})

    assert call("POST", "/api/v1/pools", json={"name": "etl", "slots": 2}).status_code == 409
    for body in (
        {"name": "x"},
        {"name": "x", "slots": -1},
        {"name": "x", "slots": "3"},
        {"name": "x", "slots": 1.5},
        {"name": "x", "slots": 1, "include_deferred": True},
        {"name": "x", "slots": 1, "open_slots": 1},
    ):
        assert call("POST", "/api/v1/pools", json=body).status_code == 400, body
    assert call("PATCH", "/api/v1/pools/etl", json={"name": "renamed"}).status_code == 400
    assert call("PATCH", "/api/v1/pools/nope", json={"slots": 1}).status_code == 404
    assert call("DELETE", "/api/v1/pools/default_pool").status_code == 400
    assert call("DELETE", "/api/v1/pools/nope").status_code == 404
    assert call("GET", "/api/v1/pools?order_by=open_slots").status_code == 400


def test_import_errors_are_listed_and_read_one_by_one(web: Web, session_factory) -> None:
    from flowctl.db.queries.dags import add_import_error

    with session_factory.begin() as session:
        add_import_error(session, "/dags/b.py", "Traceback: b", at=datetime(2024, 1, 2, tzinfo=UTC))
        add_import_error(session, "/dags/a.py", "SyntaxError: a", at=datetime(2024, 1, 1, tzinfo=UTC))
    call = _client(web, Role.VIEWER)

    listed = conforms(call("GET", "/api/v1/importErrors?order_by=filename").get_json(), "ImportErrorCollection")
    first = listed["import_errors"][0]
    one = call("GET", f"/api/v1/importErrors/{first['import_error_id']}")

    assert [error["filename"] for error in listed["import_errors"]] == ["/dags/a.py", "/dags/b.py"]
    assert first["stack_trace"] == "SyntaxError: a" and first["timestamp"] == "2024-01-01T00:00:00+00:00"
    assert conforms(one.get_json(), "ImportError") == first
    assert call("GET", "/api/v1/importErrors/999999").status_code == 404
    assert call("GET", "/api/v1/importErrors/abc").status_code == 400
    assert call("GET", "/api/v1/importErrors?limit=1").get_json()["total_entries"] == 2


def test_a_connection_type_with_control_characters_whitespace_or_absurd_length_is_refused(
    web: Web, session_factory
) -> None:
    from flowctl.services.connections import get_stored_connection
    from flowctl.web import db

    call = _client(web)
    assert _new_connection(call, conn_type="postgres").status_code == 200

    refusals = [
        _new_connection(call, connection_id="bad", conn_type=conn_type)
        for conn_type in ("http\r\nX-Injected: 1", "\x1b[31mhttp", "my type", "a" * 101, "")
    ] + [
        call("PATCH", "/api/v1/connections/warehouse", json={"conn_type": "postgres\n"}),
        call("PATCH", "/api/v1/connections/warehouse?update_mask=conn_type", json={"conn_type": "Post gres"}),
    ]
    plugin_type = _new_connection(call, connection_id="cloud", conn_type="google_cloud_platform")

    for response in refusals:
        assert response.status_code == 400, response.get_data(as_text=True)
        detail = response.get_json()["detail"]
        assert "conn_type" in detail and "\n" not in detail and "\x1b" not in detail
    assert plugin_type.status_code == 200  # a type the registry does not know, as a plugin's: accepted
    assert call("GET", "/api/v1/connections").get_json()["total_entries"] == 2
    with web.app.app_context(), session_factory() as session:
        assert get_stored_connection(session, db.cipher(), "warehouse").conn_type == "postgres"
