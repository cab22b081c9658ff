"""Which connection type names flowctl accepts when a connection is created or edited (issue 10, item 8):
any name a connection URI can carry as its scheme, known to the registry or not (a plugin brings its own);
never control characters, whitespace, upper case or an absurd length."""

from __future__ import annotations

import pytest

from flowctl.connection import Connection
from flowctl.connection_types import CONN_TYPE_MAX, check_conn_type, connection_types, is_registered
from flowctl.exceptions import InvalidInput

PLUGIN_TYPES = ["aws", "google_cloud_platform", "echo_for_tests", "movielens", "spark+k8s", "db2.v11"]
BAD_TYPES = {
    "empty": "",
    "newline": "http\n",
    "carriage return header": "http\r\nX-Injected: 1",
    "escape sequence": "\x1b[31mhttp",
    "nul": "http\x00",
    "tab": "ht\ttp",
    "space": "my type",
    "non-breaking space": "my\u00a0type",
    "upper case": "Postgres",
    "dash": "my-type",
    "leading digit": "1db",
    "too long": "a" * (CONN_TYPE_MAX + 1),
}


@pytest.mark.parametrize("conn_type", [*connection_types(), *PLUGIN_TYPES, "a" * CONN_TYPE_MAX])
def test_a_registered_or_plugin_type_is_accepted_and_works_as_a_uri_scheme(conn_type: str) -> None:
    check_conn_type(conn_type, conn_id="c")

    conn = Connection(conn_id="c", conn_type=conn_type, host="h", password="p")
    assert Connection.from_uri("c", conn.get_uri()).conn_type == conn_type


@pytest.mark.parametrize("conn_type", BAD_TYPES.values(), ids=BAD_TYPES.keys())
def test_a_bad_type_is_refused_with_one_line_naming_the_connection(conn_type: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_conn_type(conn_type, conn_id="my_conn")

    message = str(refused.value)
    assert "'my_conn'" in message and "\n" not in message and "\r" not in message and "\x1b" not in message
    assert len(message) < 300


def test_only_the_registry_s_types_count_as_registered() -> None:
    assert is_registered("postgres") and is_registered("generic")
    assert not is_registered("aws")
