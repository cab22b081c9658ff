from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowctl.connection import Connection, connection_from_environment, validate_extra
from flowctl.exceptions import InvalidInput

PASSWORD = "s3cr3t-Pa55"

# Parts that are hard to carry in a URI: every URI delimiter, the escape char itself, unicode.
tricky_text = st.sampled_from(["@:/?#%", "p@ss:w/rd?x=1&y#z", "%41%zz", "a b+c", "://", "[::1]", "héllo wörld ✓"])
any_text = st.text(st.characters(codec="utf-8"), max_size=20)
optional_text = st.none() | st.just("") | tricky_text | any_text
json_scalar = st.none() | st.booleans() | st.integers() | any_text
json_value = st.recursive(
    json_scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3)
)
flat_extra = st.dictionaries(any_text | tricky_text | st.just("__extra__"), any_text | tricky_text, max_size=4)
extra_text = st.builds(json.dumps, flat_extra) | st.builds(
    json.dumps, st.dictionaries(any_text, json_value, max_size=4), indent=st.none() | st.just(2)
)
connections = st.builds(
    Connection,
    conn_id=st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
    conn_type=st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True).filter(lambda t: t != "postgresql"),
    host=optional_text | st.builds("https://{}".format, any_text) | st.just("http://a://b"),
    login=optional_text,
    password=optional_text,
    schema=optional_text,
    port=st.none() | st.integers(1, 65535),
    extra=st.none() | extra_text,
)


@given(connections)
def test_get_uri_round_trips_through_from_uri(connection: Connection) -> None:
    assert Connection.from_uri(connection.conn_id, connection.get_uri()) == connection


@given(connections, optional_text)
def test_to_dict_with_secrets_round_trips_through_from_json(connection: Connection, description: str) -> None:
    connection = Connection(**{**connection.to_dict(show_secrets=True), "description": description})

    text = json.dumps(connection.to_dict(show_secrets=True))

    assert Connection.from_json(connection.conn_id, text) == connection


def test_from_uri_reads_every_part() -> None:
    connection = Connection.from_uri("db", "postgresql://user:pass@localhost:5432/mydb?sslmode=require&x=")

    assert connection == Connection(
        conn_id="db",
        conn_type="postgres",
        host="localhost",
        login="user",
        password="pass",
        schema="mydb",
        port=5432,
        extra='{"sslmode": "require", "x": ""}',
    )


def test_from_uri_turns_dashes_in_scheme_into_underscores() -> None:
    assert Connection.from_uri("gcp", "google-cloud-platform://").conn_type == "google_cloud_platform"


def test_from_uri_percent_decodes_the_password() -> None:
    connection = Connection.from_uri("db", "mysql://us%20er:p%40ss%3Aw%2Fo%3Frd%23%25%E2%9C%93@host")

    assert (connection.login, connection.password) == ("us er", "p@ss:w/o?rd#%✓")


def test_from_uri_keeps_the_protocol_of_a_host_given_after_the_conn_type() -> None:
    connection = Connection.from_uri("web", "http://https://example.com:443/path")

    assert (connection.conn_type, connection.host, connection.port, connection.schema) == (
        "http",
        "https://example.com",
        443,
        "path",
    )


def test_get_uri_writes_a_host_protocol_after_the_conn_type() -> None:
    connection = Connection(conn_id="web", conn_type="http", host="https://example.com", port=443, login="me")

    assert connection.get_uri() == "http://https://me@example.com:443"


def test_from_uri_reads_an_ipv6_host_in_brackets() -> None:
    connection = Connection.from_uri("db", "postgres://u@[::1]:5432/db")

    assert (connection.host, connection.port) == ("::1", 5432)


def test_from_uri_reads_nested_extra_from_the_extra_param() -> None:
    connection = Connection.from_uri("aws", "aws://?__extra__=%7B%22a%22%3A+%5B1%2C+2%5D%7D")

    assert connection.extra == '{"a": [1, 2]}'
    assert connection.extra_dejson == {"a": [1, 2]}


def test_get_uri_writes_flat_extra_as_query_params_and_nested_extra_as_extra_param() -> None:
    flat = Connection(conn_id="c", conn_type="aws", extra=json.dumps({"region": "eu west", "role": "a&b"}))
    nested = Connection(conn_id="c", conn_type="aws", extra=json.dumps({"tags": ["a"]}))

    assert flat.get_uri() == "aws:///?region=eu%20west&role=a%26b"
    assert nested.get_uri() == "aws:///?__extra__=%7B%22tags%22%3A%20%5B%22a%22%5D%7D"


def test_get_uri_writes_underscores_in_conn_type_as_dashes() -> None:
    connection = Connection(conn_id="c", conn_type="google_cloud_platform", schema="proj")

    assert connection.get_uri() == "google-cloud-platform:///proj"


@pytest.mark.parametrize("conn_type", ["", "Postgres", "my-type", "1db"])
def test_get_uri_refuses_a_conn_type_it_cannot_write_back(conn_type: str) -> None:
    with pytest.raises(InvalidInput, match="cannot be written as a URI"):
        Connection(conn_id="c", conn_type=conn_type).get_uri()


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        (f"mysql://user:{PASSWORD}@host:99999/db", "port of connection 'my_db'"),
        (f"mysql://user:{PASSWORD}@host:0/db", "port of connection 'my_db'"),
        (f"mysql://user:{PASSWORD}@host:-1/db", "port of connection 'my_db'"),
        (f"mysql://user:{PASSWORD}@host:port/db", "port of connection 'my_db'"),
        (f"mysql://user:{PASSWORD}/db@host", "port of connection 'my_db'"),
        (f"user:{PASSWORD}@host:5432/db", "has no scheme"),
        (f"://user:{PASSWORD}@host", "has no scheme"),
        (f"http://https://user:{PASSWORD}@host://x", r"contains '://' more than twice"),
        (f"9sql://user:{PASSWORD}@host", "invalid scheme"),
        (f"mysql://user:{PASSWORD}#x@host", "contains '#'"),
        (f"mysql://user:{PASSWORD}@[::1/db", "malformed '\\['"),
        (f"mysql://user:{PASSWORD}@host?a=1&a=2", "repeats a query parameter"),
        (f"mysql://user:{PASSWORD}@host?__extra__=%7B%7D&a=1", "mixes __extra__"),
        (
            f"mysql://user:{PASSWORD}@host?__extra__=%5B1%5D",
            "extra for connection 'my_db' is not a JSON object",
        ),
        (f"mysql://user:{PASSWORD}%FF@host", "not UTF-8"),
        ("", "has no scheme"),
    ],
)
def test_malformed_uri_raises_one_line_naming_the_connection_without_the_password(uri: str, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem) as exc:
        Connection.from_uri("my_db", uri)

    message = str(exc.value)
    assert "'my_db'" in message
    assert PASSWORD not in message
    assert "\n" not in message


def test_from_json_reads_extra_given_as_object_or_text() -> None:
    as_object = Connection.from_json("api", '{"conn_type": "http", "host": "h", "port": "8080", "extra": {"a": 1}}')
    as_text = Connection.from_json("api", '{"conn_type": "http", "host": "h", "port": 8080, "extra": "{\\"a\\": 1}"}')

    assert as_object == as_text == Connection(conn_id="api", conn_type="http", host="h", port=8080, extra='{"a": 1}')


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "is not valid JSON"),
        ("[1]", "must be an object"),
        ('{"conn_type": "http", "hots": "h"}', "unknown fields: hots"),
        ('{"conn_id": "other"}', "names a different conn_id"),
        ('{"host": 5}', "field 'host' .* must be a string or null"),
        ('{"port": "80a"}', "port of connection"),
        ('{"port": true}', "port of connection"),
        ('{"extra": "[1, 2]"}', "is not a JSON object"),
    ],
)
def test_malformed_json_raises_invalid_input_naming_the_connection(text: str, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem) as exc:
        Connection.from_json("api", text)

    assert "'api'" in str(exc.value)


def test_to_dict_leaves_out_the_password_unless_secrets_are_shown() -> None:
    connection = Connection(conn_id="db", conn_type="postgres", login="u", password=PASSWORD, extra='{"a": 1}')

    hidden = connection.to_dict(show_secrets=False)
    shown = connection.to_dict(show_secrets=True)

    assert list(hidden) == ["conn_id", "conn_type", "description", "host", "port", "login", "schema", "extra"]
    assert shown["password"] == PASSWORD
    assert {key: value for key, value in shown.items() if key != "password"} == hidden
    assert hidden["extra"] == '{"a": 1}'


def test_repr_masks_password_and_extra() -> None:
    connection = Connection(conn_id="db", login="u", password=PASSWORD, extra='{"token": "tok-123"}')

    text = repr(connection)

    assert PASSWORD not in text
    assert "tok-123" not in text
    assert "password='***'" in text
    assert "login='u'" in text
    assert str(connection) == text


def test_empty_text_fields_are_stored_as_none() -> None:
    connection = Connection(conn_id="c", host="", login="", password="", schema="", description="", extra="")

    assert connection == Connection(conn_id="c")


def test_extra_dejson_is_empty_dict_without_extra() -> None:
    assert Connection(conn_id="c").extra_dejson == {}


@pytest.mark.parametrize("port", [0, 65536, True, "5432"])
def test_connection_rejects_a_port_outside_1_to_65535(port: object) -> None:
    with pytest.raises(InvalidInput, match="port of connection 'c' must be an integer from 1 to 65535"):
        Connection(conn_id="c", port=port)  # type: ignore[arg-type]


def test_connection_rejects_an_empty_conn_id() -> None:
    with pytest.raises(InvalidInput, match="connection id must not be empty"):
        Connection(conn_id="")


@pytest.mark.parametrize(("extra", "detail"), [("{oops", "Expecting property name"), ("[1]", "got a list")])
def test_validate_extra_rejects_anything_but_a_json_object(extra: str, detail: str) -> None:
    with pytest.raises(InvalidInput, match=f"^extra for connection 'c' is not a JSON object: {detail}"):
        validate_extra(extra, conn_id="c")


def test_environment_connection_from_a_uri() -> None:
    environ = {"FLOWCTL_CONN_MY_DB": "postgresql://user:pass@host:5432/db?param=x\n"}

    connection = connection_from_environment("my_db", environ)

    assert connection == Connection(
        conn_id="my_db",
        conn_type="postgres",
        host="host",
        login="user",
        password="pass",
        schema="db",
        port=5432,
        extra='{"param": "x"}',
    )


def test_environment_connection_from_json() -> None:
    environ = {"FLOWCTL_CONN_API": ' {"conn_type": "http", "host": "https://api.example.com", "extra": {"v": 2}}'}

    connection = connection_from_environment("api", environ)

    assert connection == Connection(conn_id="api", conn_type="http", host="https://api.example.com", extra='{"v": 2}')


@pytest.mark.parametrize("environ", [{}, {"FLOWCTL_CONN_API": ""}, {"FLOWCTL_CONN_OTHER": "http://h"}])
def test_environment_connection_is_none_when_the_variable_is_unset_or_empty(environ: dict[str, str]) -> None:
    assert connection_from_environment("api", environ) is None


def test_environment_connection_error_names_the_variable() -> None:
    environ = {"FLOWCTL_CONN_API": f"http://u:{PASSWORD}@host:http"}

    with pytest.raises(InvalidInput, match=r"^environment variable FLOWCTL_CONN_API: port of connection 'api'") as exc:
        connection_from_environment("api", environ)
    assert PASSWORD not in str(exc.value)
