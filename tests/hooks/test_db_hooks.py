"""The SQL hooks against real databases: a SQLite file, and each server backend's own test database
(PostgreSQL, MariaDB). Every test works in a throwaway table of its own."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowctl.connection import Connection
from flowctl.exceptions import InvalidInput
from flowctl.hooks import BaseHook, DbApiHook, MySqlHook, PostgresHook, SqliteHook
from flowctl.hooks.base import HookError, hook_for_connection
from flowctl.hooks.dbapi import fetch_all_handler
from flowctl.hooks.sql_statements import split_sql_string
from tests.conftest import Cli


@pytest.fixture(autouse=True)
def _no_task_connection_source() -> Iterator[None]:
    """Hooks here run outside any task: an in-process task of another test must not leave its source."""
    BaseHook.install_connection_source(None)
    yield
    BaseHook.install_connection_source(None)


@pytest.fixture
def hook(target: Connection) -> DbApiHook:
    """A hook of the target's type, found by conn_type as operators find it."""
    found = BaseHook.get_hook("target")
    assert isinstance(found, DbApiHook)
    return found


@pytest.fixture
def table(hook: DbApiHook, unique: str) -> Iterator[str]:
    name = f"hook_test_{unique}"
    hook.run(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL, score INTEGER)")
    yield name
    hook.run(f"DROP TABLE {name}")


def _names(hook: DbApiHook, table: str) -> list[str]:
    return [row[0] for row in hook.get_records(f"SELECT name FROM {table} ORDER BY id")]


# finding the hook and the connection


def test_get_hook_picks_the_hook_class_of_the_connection_type(target: Connection) -> None:
    expected = {"sqlite": SqliteHook, "postgres": PostgresHook, "mysql": MySqlHook}[target.conn_type]

    hook = BaseHook.get_hook("target")

    assert type(hook) is expected
    assert hook.get_conn_id() == "target"
    assert hook.connection == target


def test_a_type_no_hook_serves_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(InvalidInput, match=r"no hook serves connections of type 'ftp'.*postgres"):
        hook_for_connection(Connection(conn_id="x", conn_type="ftp"))


def test_outside_a_task_a_hook_reads_a_connection_stored_encrypted_in_the_metadata_db(
    cli_db: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given a connection added with the CLI (so stored encrypted), and a script's environment
    database = tmp_path / "stored.db"
    added = cli_db("connections", "add", "stored_db", "--conn-type", "sqlite", "--conn-host", str(database))
    assert added.exit_code == 0, added.stderr
    for name, value in cli_db.env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)

    # When
    value = SqliteHook(sqlite_conn_id="stored_db").get_first("SELECT 41 + 1")

    # Then
    assert value == (42,)
    assert database.exists()


# run, get_records, get_first


def test_run_with_parameters_then_read_back_records_and_first_row(hook: DbApiHook, table: str) -> None:
    p = hook.placeholder

    hook.run(f"INSERT INTO {table} (id, name, score) VALUES ({p}, {p}, {p})", parameters=(1, "ada", 90))
    hook.run(f"INSERT INTO {table} (id, name, score) VALUES ({p}, {p}, {p})", parameters=(2, "bob", 70))

    assert hook.get_records(f"SELECT id, name, score FROM {table} ORDER BY id") == [(1, "ada", 90), (2, "bob", 70)]
    assert hook.get_first(f"SELECT name FROM {table} WHERE score > {p} ORDER BY id", parameters=(80,)) == ("ada",)
    assert hook.get_first(f"SELECT name FROM {table} WHERE score > 100") is None


def test_a_statement_without_rows_gives_none_through_the_fetch_all_handler(hook: DbApiHook, table: str) -> None:
    result = hook.run(f"INSERT INTO {table} (id, name) VALUES (1, 'x')", handler=fetch_all_handler)

    assert result is None
    assert _names(hook, table) == ["x"]


def test_split_statements_runs_each_and_returns_the_last_or_every_result(hook: DbApiHook, table: str) -> None:
    script = f"""
        INSERT INTO {table} (id, name) VALUES (1, 'semi;colon');  -- a comment; with a semicolon
        /* a block; comment */
        INSERT INTO {table} (id, name) VALUES (2, 'it''s');
        SELECT name FROM {table} ORDER BY id;
        SELECT COUNT(*) FROM {table};
    """

    last = hook.run(script, split_statements=True, handler=fetch_all_handler)
    every = hook.run(
        f"SELECT 1 FROM {table} WHERE id = 1; SELECT name FROM {table} ORDER BY id",
        split_statements=True,
        return_last=False,
        handler=fetch_all_handler,
    )

    assert last == [(2,)]
    assert every == [[(1,)], [("semi;colon",), ("it's",)]]
    assert len(hook.descriptions) == 2


def test_a_list_of_statements_gives_one_result_per_statement(hook: DbApiHook, table: str) -> None:
    results = hook.run(
        [f"INSERT INTO {table} (id, name) VALUES (1, 'a')", f"SELECT name FROM {table}"],
        handler=fetch_all_handler,
    )

    assert results == [None, [("a",)]]


def test_without_autocommit_a_failing_statement_rolls_back_the_earlier_ones(hook: DbApiHook, table: str) -> None:
    statements = [
        f"INSERT INTO {table} (id, name) VALUES (1, 'kept?')",
        f"INSERT INTO {table} (id, name) VALUES (2, NULL)",
    ]

    with pytest.raises(Exception, match=r"(?i)null"):
        hook.run(statements)

    assert _names(hook, table) == []


def test_with_autocommit_each_statement_stays_even_when_a_later_one_fails(hook: DbApiHook, table: str) -> None:
    statements = [
        f"INSERT INTO {table} (id, name) VALUES (1, 'kept')",
        f"INSERT INTO {table} (id, name) VALUES (2, NULL)",
    ]

    with pytest.raises(Exception, match=r"(?i)null"):
        hook.run(statements, autocommit=True)

    assert _names(hook, table) == ["kept"]


def test_no_statement_is_a_clear_error(hook: DbApiHook) -> None:
    with pytest.raises(HookError, match="no SQL statement"):
        hook.run("  ")
    with pytest.raises(HookError, match="no SQL statement"):
        hook.run("-- only a comment;", split_statements=True)


# insert_rows


def test_insert_rows_loads_a_generator_in_batches(
    hook: DbApiHook, table: str, caplog: pytest.LogCaptureFixture
) -> None:
    rows = ((n, f"name{n}", n * 10) for n in range(1, 6))

    with caplog.at_level("INFO"):
        loaded = hook.insert_rows(table, rows, target_fields=["id", "name", "score"], commit_every=2)

    assert loaded == 5
    assert hook.get_first(f"SELECT COUNT(*), SUM(score) FROM {table}") == (5, 150)
    progress = [r.getMessage() for r in caplog.records if "so far" in r.getMessage()]
    assert progress == [f"Loaded {n} rows into {table} so far" for n in (2, 4, 5)]


def test_insert_rows_commits_each_batch_so_a_failing_batch_leaves_the_earlier_ones(hook: DbApiHook, table: str) -> None:
    rows = [(1, "a"), (2, "b"), (3, "c"), (4, "d"), (5, None)]  # the last violates NOT NULL

    with pytest.raises(Exception, match=r"(?i)null"):
        hook.insert_rows(table, rows, target_fields=["id", "name"], commit_every=2)

    assert _names(hook, table) == ["a", "b", "c", "d"]


def test_insert_rows_with_commit_every_zero_is_all_or_nothing(hook: DbApiHook, table: str) -> None:
    rows = [(1, "a"), (2, "b"), (3, None)]

    with pytest.raises(Exception, match=r"(?i)null"):
        hook.insert_rows(table, rows, target_fields=["id", "name"], commit_every=0)

    assert _names(hook, table) == []


def test_insert_rows_with_replace_overwrites_rows_with_the_same_key(hook: DbApiHook, table: str) -> None:
    hook.insert_rows(table, [(1, "old", 1), (2, "two", 2)], target_fields=["id", "name", "score"])
    extra = {"replace_index": "id"} if isinstance(hook, PostgresHook) else {}

    hook.insert_rows(table, [(1, "new", 5)], target_fields=["id", "name", "score"], replace=True, **extra)

    assert hook.get_records(f"SELECT id, name, score FROM {table} ORDER BY id") == [(1, "new", 5), (2, "two", 2)]


# connection testing


def test_test_connection_answers_for_a_reachable_database(hook: DbApiHook, table: str) -> None:
    assert hook.test_connection() == (True, "SELECT 1 answered")


def test_test_connection_reports_an_unreachable_database_in_one_line(target: Connection, tmp_path: Path) -> None:
    if target.conn_type == "sqlite":
        broken = dataclasses.replace(target, host=str(tmp_path / "missing" / "x.db"))
    else:
        broken = dataclasses.replace(target, port=1)
    hook = hook_for_connection(broken)
    hook.test_timeout = 3

    worked, message = hook.test_connection()

    assert not worked
    assert "\n" not in message and message
    assert not (tmp_path / "missing").exists()  # testing a SQLite connection never creates its file


# per-driver behaviour


def test_sqlite_reads_the_file_from_host_or_from_a_uri_schema(tmp_path: Path) -> None:
    from_uri = Connection.from_uri("lite", f"sqlite:///{tmp_path}/via_uri.db")
    from_host = Connection(conn_id="lite", conn_type="sqlite", host=str(tmp_path / "via_host.db"))

    for conn, expected in ((from_uri, "via_uri.db"), (from_host, "via_host.db")):
        hook = hook_for_connection(conn)
        hook.run("CREATE TABLE t (x INTEGER)")
        assert (tmp_path / expected).exists()


def test_sqlite_without_a_file_is_a_clear_error() -> None:
    hook = hook_for_connection(Connection(conn_id="lite", conn_type="sqlite"))

    with pytest.raises(HookError, match="names no SQLite file"):
        hook.get_first("SELECT 1")


def test_postgres_copy_expert_dumps_and_loads_a_file(hook: DbApiHook, table: str, tmp_path: Path) -> None:
    if not isinstance(hook, PostgresHook):
        pytest.skip("COPY is PostgreSQL's")
    hook.insert_rows(table, [(1, "ada", 3), (2, "bob", 4)], target_fields=["id", "name", "score"])
    dump = tmp_path / "dump.csv"
    dump.write_text("old content that is longer than the dump itself, which must not survive\n" * 5)

    hook.copy_expert(f"COPY (SELECT id, name, score FROM {table} ORDER BY id) TO STDOUT WITH CSV", dump)
    hook.run(f"DELETE FROM {table}")
    hook.copy_expert(f"COPY {table} (id, name, score) FROM STDIN WITH CSV", dump)
    missing = tmp_path / "missing.csv"
    hook.copy_expert(f"COPY {table} FROM STDIN WITH CSV", missing)

    assert dump.read_text() == "1,ada,3\n2,bob,4\n"
    assert hook.get_records(f"SELECT id, name, score FROM {table} ORDER BY id") == [(1, "ada", 3), (2, "bob", 4)]
    assert missing.read_text() == ""  # as in Airflow: created empty, nothing loaded


def test_mysql_refuses_load_data_local_infile_unless_the_connection_allows_it(
    target: Connection, hook: DbApiHook, table: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not isinstance(hook, MySqlHook):
        pytest.skip("LOAD DATA LOCAL INFILE is MySQL's")
    data = tmp_path / "rows.tsv"
    data.write_text("1\tada\t3\n2\tbob\t4\n")

    with pytest.raises(HookError, match=r"does not allow LOAD DATA LOCAL INFILE.*local_infile"):
        hook.bulk_load(table, data)
    with pytest.raises(Exception, match=r"(?i)not allowed|disabled|rejected"):  # the driver refuses too
        hook.run(f"LOAD DATA LOCAL INFILE '{data}' INTO TABLE {table}")
    assert _names(hook, table) == []

    allowed = dataclasses.replace(target, extra=json.dumps({"local_infile": True}))
    monkeypatch.setenv("FLOWCTL_CONN_TARGET", allowed.get_uri())
    MySqlHook(mysql_conn_id="target").bulk_load(table, data)

    assert _names(hook, table) == ["ada", "bob"]


def test_get_pandas_df_without_pandas_is_a_clear_error(hook: DbApiHook) -> None:
    try:
        import pandas  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("pandas is installed here")

    with pytest.raises(HookError, match=r"needs pandas.*pip install pandas"):
        hook.get_pandas_df("SELECT 1")


def test_unknown_hook_arguments_are_refused_at_construction() -> None:
    with pytest.raises(TypeError, match="unexpected arguments: postgres_conn_id"):
        MySqlHook(postgres_conn_id="x")


# splitting scripts (pure)


@pytest.mark.parametrize(
    ("script", "statements"),
    [
        ("SELECT 1; SELECT 2;", ["SELECT 1", "SELECT 2"]),
        ("SELECT ';'; SELECT \"a;b\" FROM t", ["SELECT ';'", 'SELECT "a;b" FROM t']),
        ("SELECT 'it''s; fine'", ["SELECT 'it''s; fine'"]),
        ("SELECT 1 -- trailing; comment\n; -- only a comment;\n", ["SELECT 1 -- trailing; comment"]),
        ("/* a; */ SELECT 1; /* just; this */", ["/* a; */ SELECT 1"]),
        ("CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql; SELECT f()", None),
        ("SELECT $tag$ a;b $tag$; SELECT $1", ["SELECT $tag$ a;b $tag$", "SELECT $1"]),
        ("SELECT `a;b` FROM t; SELECT 2", ["SELECT `a;b` FROM t", "SELECT 2"]),
        ("", []),
    ],
)
def test_split_sql_string_splits_only_at_semicolons_that_end_statements(
    script: str, statements: list[str] | None
) -> None:
    if statements is None:
        statements = ["CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql", "SELECT f()"]
    assert split_sql_string(script) == statements


def test_split_sql_string_honours_backslash_escapes_only_when_asked() -> None:
    script = r"SELECT 'a\';b'; SELECT 2"

    assert split_sql_string(script, backslash_escapes=True) == [r"SELECT 'a\';b'", "SELECT 2"]
    assert split_sql_string(script) == [r"SELECT 'a\'", "b'; SELECT 2"]


# custom hooks


def test_a_custom_hook_with_its_own_conn_type_is_found_by_get_hook_and_tested(monkeypatch: pytest.MonkeyPatch) -> None:
    from flowctl.hooks.base import probe_connection

    class EchoHook(BaseHook):
        conn_name_attr = "echo_conn_id"
        default_conn_name = "echo_default"
        conn_type = "echo_for_tests"
        hook_name = "Echo"

        def __init__(self, echo_conn_id: str = default_conn_name) -> None:
            super().__init__()
            self.echo_conn_id = echo_conn_id

        def get_conn(self) -> str:
            return f"echo://{self.connection.host}"

        def test_connection(self) -> tuple[bool, str]:
            return self.connection.host == "up", f"host {self.connection.host} within {self.test_timeout} s"

    monkeypatch.setenv("FLOWCTL_CONN_ECHO", json.dumps({"conn_type": "echo_for_tests", "host": "up"}))

    hook = BaseHook.get_hook("echo")

    assert isinstance(hook, EchoHook) and hook.get_conn() == "echo://up"
    assert probe_connection(BaseHook.get_connection("echo"), timeout=2) == (True, "host up within 2 s")
