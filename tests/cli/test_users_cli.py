"""`flowctl users ...` on every backend: create (passwords, roles, duplicates), list, delete."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import check_password_hash

from flowctl.db import models
from tests.conftest import Cli, CliResult, one_line_error

PASSWORD = "correct-horse-canary"
COLUMNS = ["username", "email", "role", "first_name", "last_name"]


def _create(cli: Cli, username: str = "alice", *, role: str = "Admin", email: str | None = None) -> CliResult:
    return cli(
        "users",
        "create",
        "--username",
        username,
        "--role",
        role,
        "--email",
        email or f"{username}@example.com",
        "--password",
        PASSWORD,
        "--firstname",
        username.title(),
        "--lastname",
        "Tester",
    )


def _user_rows(session_factory: sessionmaker[Session]) -> list[models.User]:
    with session_factory() as session:
        return list(session.scalars(select(models.User).order_by(models.User.username)))


def _user_count(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(models.User)) or 0


def _usernames(cli: Cli) -> list[str]:
    result = cli("users", "list", "-o", "json")
    assert result.exit_code == 0, result.stderr
    return [row["username"] for row in json.loads(result.stdout)]


def test_create_with_random_password_prints_it_once_and_stores_only_its_hash(
    cli_db: Cli, session_factory: sessionmaker[Session]
) -> None:
    result = cli_db("users", "create", "-u", "alice", "-r", "Admin", "-e", "a@example.com", "--use-random-password")

    assert result.exit_code == 0, result.stderr
    password_lines = [line for line in result.stdout.splitlines() if line.startswith("Password: ")]
    assert len(password_lines) == 1
    password = password_lines[0].removeprefix("Password: ")
    assert len(password) >= 8
    assert (result.stdout + result.stderr).count(password) == 1
    [user] = _user_rows(session_factory)
    assert check_password_hash(user.password_hash, password)
    assert password not in user.password_hash


def test_create_with_password_stores_a_hash_that_verifies_it(
    cli_db: Cli, session_factory: sessionmaker[Session]
) -> None:
    result = _create(cli_db)

    assert result.exit_code == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    [user] = _user_rows(session_factory)
    assert check_password_hash(user.password_hash, PASSWORD)
    assert not check_password_hash(user.password_hash, PASSWORD + "x")
    assert PASSWORD not in user.password_hash


def test_list_json_shows_each_user_with_the_spec_columns(cli_db: Cli) -> None:
    _create(cli_db, "bob", role="Viewer")
    _create(cli_db, "alice", role="Op")

    result = cli_db("users", "list", "-o", "json")

    rows = json.loads(result.stdout)
    assert [list(row.values()) for row in rows] == [
        ["alice", "alice@example.com", "Op", "Alice", "Tester"],
        ["bob", "bob@example.com", "Viewer", "Bob", "Tester"],
    ]
    assert all(list(row) == COLUMNS for row in rows)


def test_list_never_shows_password_hashes(cli_db: Cli, session_factory: sessionmaker[Session]) -> None:
    _create(cli_db)
    [user] = _user_rows(session_factory)

    for output in ("table", "json", "plain"):
        assert user.password_hash not in cli_db("users", "list", "-o", output).stdout


@pytest.mark.parametrize(
    ("username", "email", "taken"),
    [("alice", "other@example.com", "username"), ("alicia", "alice@example.com", "email")],
    ids=["username", "email"],
)
def test_create_with_a_taken_username_or_email_fails_and_writes_nothing(
    cli_db: Cli, session_factory: sessionmaker[Session], username: str, email: str, taken: str
) -> None:
    _create(cli_db, "alice")

    result = _create(cli_db, username, email=email)

    assert f"{taken} " in one_line_error(result)
    assert _user_count(session_factory) == 1


def test_create_with_an_unknown_role_fails_naming_the_valid_roles(
    cli_db: Cli, session_factory: sessionmaker[Session]
) -> None:
    error = one_line_error(_create(cli_db, role="Superuser"))

    assert "Superuser" in error
    assert all(role in error for role in ("Admin", "Op", "User", "Viewer"))
    assert _user_count(session_factory) == 0


@pytest.mark.parametrize(
    ("given", "stored"), [("admin", "Admin"), ("OP", "Op"), ("uSeR", "User"), ("viewer", "Viewer")]
)
def test_role_is_read_case_insensitively_and_stored_canonical(
    cli_db: Cli, session_factory: sessionmaker[Session], given: str, stored: str
) -> None:
    result = _create(cli_db, role=given)

    assert result.exit_code == 0, result.stderr
    assert [user.role for user in _user_rows(session_factory)] == [stored]
    assert json.loads(cli_db("users", "list", "-o", "json").stdout)[0]["role"] == stored


def test_create_without_a_password_and_without_a_terminal_fails(
    cli_db: Cli, session_factory: sessionmaker[Session]
) -> None:
    result = cli_db("users", "create", "-u", "alice", "-r", "Admin", "-e", "alice@example.com", stdin="")

    assert "password" in one_line_error(result)
    assert _user_count(session_factory) == 0


def test_create_with_a_short_password_fails(cli_db: Cli, session_factory: sessionmaker[Session]) -> None:
    result = cli_db("users", "create", "-u", "alice", "-r", "Admin", "-e", "alice@example.com", "-p", "tiny7")

    assert "too short" in one_line_error(result)
    assert "tiny7" not in result.stdout + result.stderr
    assert _user_count(session_factory) == 0


def test_create_with_both_password_options_fails(cli_db: Cli, session_factory: sessionmaker[Session]) -> None:
    result = cli_db(
        "users",
        "create",
        "-u",
        "alice",
        "-r",
        "Admin",
        "-e",
        "alice@example.com",
        "-p",
        PASSWORD,
        "--use-random-password",
    )

    one_line_error(result)
    assert _user_count(session_factory) == 0


def test_create_with_an_invalid_email_fails(cli_db: Cli, session_factory: sessionmaker[Session]) -> None:
    result = _create(cli_db, email="not-an-email")

    assert "not-an-email" in one_line_error(result)
    assert _user_count(session_factory) == 0


def test_create_without_a_role_is_a_usage_error(cli_db: Cli) -> None:
    result = cli_db("users", "create", "-u", "alice", "-e", "alice@example.com", "-p", PASSWORD)

    assert result.exit_code == 2


@pytest.mark.parametrize("how", [["alice"], ["-u", "alice"], ["--username", "alice"]], ids=" ".join)
def test_delete_removes_the_named_user(cli_db: Cli, how: list[str]) -> None:
    _create(cli_db, "alice")
    _create(cli_db, "bob")

    result = cli_db("users", "delete", *how)

    assert result.exit_code == 0, result.stderr
    assert _usernames(cli_db) == ["bob"]


def test_delete_of_an_unknown_user_fails(cli_db: Cli) -> None:
    _create(cli_db, "alice")

    assert "nobody" in one_line_error(cli_db("users", "delete", "nobody"))
    assert _usernames(cli_db) == ["alice"]


def test_delete_without_a_username_is_a_usage_error(cli_db: Cli) -> None:
    assert cli_db("users", "delete").exit_code == 2


def test_usernames_are_case_sensitive_and_emails_are_not(cli_db: Cli) -> None:
    assert (
        cli_db("users", "create", "-u", "bob", "-r", "User", "-e", "Bob@Example.com", "-p", "long-enough").exit_code
        == 0
    )

    other_bob = cli_db("users", "create", "-u", "Bob", "-r", "User", "-e", "bob2@example.com", "-p", "long-enough")
    same_email = cli_db("users", "create", "-u", "robert", "-r", "User", "-e", "BOB@example.COM", "-p", "long-enough")

    assert other_bob.exit_code == 0, other_bob.stderr
    assert same_email.exit_code == 1
    assert "email 'bob@example.com' already exists" in same_email.stderr
