"""`flowctl db ...` on every backend, and the clear answers for DBs that cannot be used."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from flowctl.db import migrate
from flowctl.db.models import Pool
from tests.conftest import Cli


def _pools(engine: Engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(Pool.pool, Pool.slots))]


def test_init_creates_schema_and_default_pool_and_is_idempotent(cli: Cli, migrated_engine: Engine) -> None:
    migrate.downgrade(migrated_engine, "base")

    first = cli("db", "init")
    second = cli("db", "init")

    assert (first.exit_code, second.exit_code) == (0, 0), first.stderr + second.stderr
    assert migrate.current_revision(migrated_engine) == migrate.SCHEMA_REVISION
    assert _pools(migrated_engine) == [("default_pool", 128)]


def test_check_passes_at_head(cli_db: Cli) -> None:
    result = cli_db("db", "check")

    assert result.exit_code == 0
    assert "reachable" in result.stdout


def test_check_and_commands_fail_on_a_db_without_schema(cli: Cli, migrated_engine: Engine) -> None:
    migrate.downgrade(migrated_engine, "base")

    check = cli("db", "check")
    listing = cli("pools", "list")

    for result in (check, listing):
        assert result.exit_code == 1
        assert result.stderr.strip().splitlines() == [
            "Error: the metadata DB has no flowctl schema: run `flowctl db init`"
        ]


def test_db_at_another_revision_says_to_upgrade(cli_db: Cli, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))

    result = cli_db("pools", "list")

    assert result.exit_code == 1
    assert "at revision 0000" in result.stderr and "run `flowctl db upgrade`" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_downgrade_requires_confirmation_then_drops_tables(cli_db: Cli, engine: Engine) -> None:
    refused = cli_db("db", "downgrade", "--to-revision", "base", stdin="n\n")
    assert refused.exit_code == 1
    assert migrate.current_revision(engine) == migrate.SCHEMA_REVISION

    done = cli_db("db", "downgrade", "--to-revision", "base", "-y")
    assert done.exit_code == 0, done.stderr
    assert migrate.current_revision(engine) is None

    upgraded = cli_db("db", "upgrade")
    assert upgraded.exit_code == 0
    assert migrate.current_revision(engine) == migrate.SCHEMA_REVISION


def test_upgrade_to_unknown_revision_is_a_one_line_error(cli_db: Cli) -> None:
    result = cli_db("db", "upgrade", "--to-revision", "nonexistent")

    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "nonexistent" in result.stderr


def test_reset_drops_data_and_recreates_default_pool(cli_db: Cli, engine: Engine) -> None:
    assert cli_db("pools", "set", "extra", "3", "temporary").exit_code == 0

    result = cli_db("db", "reset", "-y")

    assert result.exit_code == 0, result.stderr
    assert _pools(engine) == [("default_pool", 128)]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Pool)).scalar() == 1


def test_unreachable_server_is_a_one_line_error(home: Path) -> None:
    cli = Cli(home, "postgresql+psycopg2://postgres@127.0.0.1:1/flowctl")

    for args in (("db", "check"), ("db", "init"), ("pools", "list")):
        result = cli(*args)
        assert result.exit_code == 1, args
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: cannot reach the metadata DB"), lines


def test_wrong_mysql_password_is_a_one_line_error(home: Path, db_url: str) -> None:
    if not db_url.startswith("mysql"):
        pytest.skip("only MySQL/MariaDB checks passwords here (PostgreSQL trusts local logins)")
    cli = Cli(home, "mysql+pymysql://root:wrong-password@127.0.0.1:3306/mysql")

    result = cli("db", "check")

    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "wrong-password" not in result.stderr


def test_unknown_dialect_and_garbage_url_are_one_line_errors(home: Path) -> None:
    for url, expected in (
        ("oracle://scott@h/x", "unsupported database dialect"),
        ("not a url", "not a database URL"),
    ):
        result = Cli(home, url)("db", "check")
        assert result.exit_code == 1
        assert len(result.stderr.strip().splitlines()) == 1
        assert expected in result.stderr


def test_password_in_db_url_is_never_echoed(home: Path) -> None:
    result = Cli(home, "postgresql+psycopg2://postgres:s3cr3t-canary@127.0.0.1:1/flowctl")("db", "check")

    assert result.exit_code == 1
    assert "s3cr3t-canary" not in result.stderr + result.stdout
