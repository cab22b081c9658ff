"""HttpHook against a real HTTP server on 127.0.0.1: base URLs, auth, headers from the extra, retries with
backoff, timeouts, and clear errors for 4xx/5xx answers."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from flowctl.connection import Connection
from flowctl.exceptions import FlowctlError
from flowctl.hooks import BaseHook, HttpHook
from flowctl.hooks.base import HookError
from flowctl.hooks.http import HttpError, HttpRequestError, RetryPolicy, base_url
from tests.hooks.api_server import ApiServer, Reply


@pytest.fixture(autouse=True)
def _no_task_connection_source() -> Iterator[None]:
    BaseHook.install_connection_source(None)
    yield


def use_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str = "api", **fields: Any) -> None:
    """Define the connection in FLOWCTL_CONN_<ID> as JSON, as a deployment would."""
    fields.setdefault("conn_type", "http")
    monkeypatch.setenv(f"FLOWCTL_CONN_{conn_id.upper()}", json.dumps(fields))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# base URL


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"host": "http://127.0.0.1:8000"}, "http://127.0.0.1:8000"),
        ({"host": "127.0.0.1", "port": 8000}, "http://127.0.0.1:8000"),
        ({"host": "api.example.com", "schema": "https"}, "https://api.example.com"),
        ({"host": "https://api.example.com/v1", "port": 8443}, "https://api.example.com:8443/v1"),
        ({"host": "http://h:9000", "port": 8000}, "http://h:9000"),  # the host's own port wins
        ({"host": "HTTPS://h"}, "https://h"),
    ],
)
def test_base_url_is_built_from_host_port_and_schema_as_in_airflow(fields: dict[str, Any], expected: str) -> None:
    assert base_url(Connection(conn_id="api", conn_type="http", **fields)) == expected


def test_a_uri_with_the_scheme_in_the_host_keeps_it() -> None:
    conn = Connection.from_uri("api", "http://https://api.example.com:8443")  # Airflow's doubled form

    assert base_url(conn) == "https://api.example.com:8443"


def test_a_schema_that_is_not_a_url_scheme_is_a_clear_error() -> None:
    with pytest.raises(HookError, match=r"scheme 'public' is not http or https"):
        base_url(Connection(conn_id="api", conn_type="http", host="h", schema="public"))


def test_a_host_with_its_scheme_reaches_the_server_and_endpoints_join_with_one_slash(
    api: ApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(monkeypatch, host=api.url + "/")
    hook = HttpHook(method="GET", http_conn_id="api")

    response = hook.run("/items", data={"page": 1})

    assert hook.url_from_endpoint("/items") == f"{api.url}/items"
    assert response.json()["page"] == 1
    assert [(r.method, r.path, r.query) for r in api.requests] == [("GET", "/items", {"page": ["1"]})]


def test_host_port_and_schema_reach_the_server(api: ApiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    use_connection(monkeypatch, host="127.0.0.1", port=api.port, schema="http")

    response = HttpHook(method="GET", http_conn_id="api").run("items")

    assert response.status_code == 200


# auth, headers, bodies


def test_login_and_password_are_sent_as_basic_auth(api: ApiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    api.credentials = ("reader", "s3cret-pass")
    use_connection(monkeypatch, host=api.url, login="reader", password="s3cret-pass")
    use_connection(monkeypatch, "wrong", host=api.url, login="reader", password="guess")

    assert HttpHook("GET", "api").run("items").status_code == 200
    with pytest.raises(HttpError) as refused:
        HttpHook("GET", "wrong").run("items")

    assert refused.value.status_code == 401
    assert isinstance(refused.value, FlowctlError)
    assert "guess" not in str(refused.value)


def test_extra_keys_become_headers_and_options_do_not(api: ApiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    extra = {"X-Api-Key": "k-123", "headers": {"X-Team": "data"}, "timeout": 5, "retries": 0}
    use_connection(monkeypatch, host=api.url, extra=extra)

    HttpHook("GET", "api").run("items", headers={"X-Call": "one"})

    sent = api.requests[0].headers
    assert (sent["X-Api-Key"], sent["X-Team"], sent["X-Call"]) == ("k-123", "data", "one")
    assert "timeout" not in {name.lower() for name in sent} and "retries" not in {n.lower() for n in sent}


def test_a_header_that_is_not_text_is_a_clear_error(api: ApiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    use_connection(monkeypatch, host=api.url, extra={"X-Count": 3})

    with pytest.raises(HookError, match=r"extra key 'X-Count' would be sent as a header but is not text"):
        HttpHook("GET", "api").run("items")


def test_get_sends_data_as_the_query_string_and_post_as_the_body(
    api: ApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(monkeypatch, host=api.url)
    api.reply("/echo", Reply(200, {"ok": True}))

    HttpHook("GET", "api").run("echo", data={"q": "x y"})
    HttpHook("POST", "api").run("echo", data={"name": "ada"})
    HttpHook("PUT", "api").run("echo", json={"n": 1})

    get, post, put = api.requests_to("/echo")
    assert (get.query, get.body) == ({"q": ["x y"]}, b"")
    assert (post.method, post.body) == ("POST", b"name=ada")
    assert (put.method, json.loads(put.body)) == ("PUT", {"n": 1})


# errors, retries, timeouts


def test_a_4xx_answer_raises_http_error_at_once_without_retrying(
    api: ApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(monkeypatch, host=api.url, extra={"retries": 3, "retry_backoff": 0.01})
    api.reply("/missing", Reply(404, {"error": "no such thing"}))

    with pytest.raises(HttpError, match=r"HTTP 404 Not Found from GET http://127\.0\.0\.1:\d+/missing.*no such thing"):
        HttpHook("GET", "api").run("missing")

    assert len(api.requests_to("/missing")) == 1


def test_a_503_is_retried_with_growing_backoff_until_it_succeeds(
    api: ApiServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    use_connection(monkeypatch, host=api.url, extra={"retries": 3, "retry_backoff": 0.1})
    api.reply("/flaky", Reply(503), Reply(503), Reply(200, {"ok": True}))

    started = time.monotonic()
    with caplog.at_level("WARNING"):
        response = HttpHook("GET", "api").run("flaky")
    elapsed = time.monotonic() - started

    assert response.json() == {"ok": True}
    assert len(api.requests_to("/flaky")) == 3
    assert elapsed >= 0.1 + 0.2  # 0.1 s, then twice that
    waits = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert waits == ["HTTP 503; retry 1 of 3 in 0.10 s", "HTTP 503; retry 2 of 3 in 0.20 s"]


def test_when_retries_run_out_the_last_error_answer_is_raised(api: ApiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    use_connection(monkeypatch, host=api.url)
    api.reply("/down", Reply(503, "maintenance"))

    with pytest.raises(HttpError, match=r"HTTP 503 Service Unavailable.*maintenance") as error:
        HttpHook("GET", "api", retries=2, retry_backoff=0.01).run("down")

    assert error.value.status_code == 503
    assert len(api.requests_to("/down")) == 3


def test_retry_after_from_the_server_sets_the_wait_within_the_maximum(
    api: ApiServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    use_connection(monkeypatch, host=api.url, extra={"retries": 1, "retry_backoff": 0.01, "retry_max_backoff": 0.3})
    api.reply("/busy", Reply(429, headers={"Retry-After": "120"}), Reply(200, "done"))

    with caplog.at_level("WARNING"):
        assert HttpHook("GET", "api").run("busy").text == "done"

    assert "HTTP 429; retry 1 of 1 in 0.30 s" in caplog.text


def test_a_slow_answer_times_out_after_the_extra_options_timeout(
    api: ApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(monkeypatch, host=api.url, extra={"timeout": 30})
    api.reply("/slow", Reply(200, "late", delay=1.0))

    started = time.monotonic()
    with pytest.raises(HttpRequestError, match=r"GET http://127\.0\.0\.1:\d+/slow timed out after 0\.2 s"):
        HttpHook("GET", "api").run("slow", extra_options={"timeout": 0.2})

    assert time.monotonic() - started < 0.9


def test_a_timeout_is_retried_like_a_5xx(api: ApiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    use_connection(monkeypatch, host=api.url, extra={"timeout": 0.2, "retries": 1, "retry_backoff": 0.01})
    api.reply("/slow-once", Reply(200, "late", delay=0.6), Reply(200, "quick"))

    assert HttpHook("GET", "api").run("slow-once").text == "quick"


def test_a_refused_connection_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    use_connection(monkeypatch, host=f"http://127.0.0.1:{free_port()}")

    with pytest.raises(HttpRequestError, match=r"GET http://127\.0\.0\.1:\d+/x failed: .*(?i:refused)"):
        HttpHook("GET", "api").run("x")


def test_check_response_false_hands_back_an_error_answer(api: ApiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    use_connection(monkeypatch, host=api.url)

    response = HttpHook("GET", "api").run("nowhere", extra_options={"check_response": False})

    assert response.status_code == 404


def test_run_with_advanced_retry_takes_its_own_retry_rules(api: ApiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    use_connection(monkeypatch, host=api.url)
    api.reply("/teapot", Reply(418), Reply(200, "brewed"))
    hook = HttpHook("GET", "api")

    response = hook.run_with_advanced_retry({"retries": 1, "backoff": 0.01, "statuses": [418]}, endpoint="teapot")

    assert response.text == "brewed"
    with pytest.raises(HookError, match="unknown retry arguments"):
        hook.run_with_advanced_retry({"attempts": 3}, "teapot")


def test_retry_delays_double_up_to_the_maximum() -> None:
    policy = RetryPolicy(retries=5, backoff=1.0, max_backoff=5.0)

    assert [policy.delay_before(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_an_unknown_method_is_refused() -> None:
    with pytest.raises(HookError, match="HTTP method 'FETCH' is not one of"):
        HttpHook("FETCH", "api")


# testing the connection


def test_test_connection_heads_the_base_url(api: ApiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    use_connection(monkeypatch, host=api.url)
    use_connection(monkeypatch, "missing", host=api.url + "/nowhere")
    use_connection(monkeypatch, "closed", host=f"http://127.0.0.1:{free_port()}")

    assert HttpHook("GET", "api").test_connection() == (True, f"HTTP 200 from {api.url}")
    assert HttpHook("GET", "missing").test_connection() == (False, f"HTTP 404 Not Found from {api.url}/nowhere")
    worked, message = HttpHook("GET", "closed").test_connection()
    assert not worked and "ConnectionError" in message
    assert [r.method for r in api.requests] == ["HEAD", "HEAD"]
