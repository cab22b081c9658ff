"""How every command answers a wrong command line (exit 2) and an unusable metadata DB (exit 1, one line).

None of these needs a working metadata DB, so they run once, not once per backend.
"""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from flowctl.cli.main import cli as flowctl_group
from tests.conftest import Cli, one_line_error

UNREACHABLE_POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:1/x"
# Commands that read or write the metadata DB, with valid arguments.
DB_COMMANDS = [
    ("connections", "list"),
    ("connections", "get", "warehouse"),
    ("connections", "add", "warehouse", "--conn-uri", "http://example.com"),
    ("variables", "get", "greeting"),
    ("variables", "set", "greeting", "hello"),
    ("pools", "list"),
    ("users", "list"),
    ("users", "create", "-u", "alice", "-r", "Admin", "-e", "alice@example.com", "-p", "long-enough"),
    ("rotate-fernet-key",),
]


def _command_paths() -> list[tuple[str, ...]]:
    """Every command and subcommand of `flowctl`, as the words that name it."""
    context = click.Context(flowctl_group)
    paths: list[tuple[str, ...]] = []
    for name in flowctl_group.list_commands(context):
        command = flowctl_group.get_command(context, name)
        paths.append((name,))
        if isinstance(command, click.Group):
            paths += [(name, sub) for sub in command.list_commands(context)]
    return paths


def _ids(args: tuple[str, ...]) -> str:
    return " ".join(args[:2])


# --- the command line's shape ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("nosuch",), id="unknown-command"),
        pytest.param(("connections", "nosuch"), id="unknown-subcommand"),
        pytest.param(("--bogus",), id="unknown-top-level-option"),
        pytest.param(("connections", "list", "--bogus"), id="unknown-option"),
        pytest.param(("connections", "list", "-o", "xml"), id="bad-choice"),
        pytest.param(("connections", "get"), id="missing-argument"),
        pytest.param(("variables", "set", "greeting"), id="missing-second-argument"),
        pytest.param(("users", "create", "-u", "alice"), id="missing-required-option"),
        pytest.param(("connections", "get", "a", "b"), id="extra-argument"),
    ],
)
def test_a_wrong_command_line_is_a_usage_error_with_exit_code_2(home: Path, args: tuple[str, ...]) -> None:
    result = Cli(home, UNREACHABLE_POSTGRES)(*args)

    assert result.exit_code == 2, result
    assert result.stdout == ""
    assert "Usage: flowctl" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("path", _command_paths(), ids=" ".join)
def test_help_of_every_command_exits_0_without_touching_the_db(home: Path, path: tuple[str, ...]) -> None:
    result = Cli(home, UNREACHABLE_POSTGRES)(*path, "--help")

    assert result.exit_code == 0, result
    assert result.stdout.startswith(f"Usage: flowctl {' '.join(path)}")
    assert result.stderr == ""


def test_top_level_help_lists_every_command_group(home: Path) -> None:
    result = Cli(home, UNREACHABLE_POSTGRES)("--help")

    assert result.exit_code == 0
    for name in ("connections", "variables", "pools", "users", "rotate-fernet-key", "db", "config"):
        assert f"\n  {name} " in result.stdout


# --- an unusable metadata DB ---------------------------------------------------------------------------


@pytest.mark.parametrize("args", DB_COMMANDS, ids=_ids)
def test_a_command_on_a_db_without_schema_says_to_run_db_init(
    home: Path, tmp_path: Path, args: tuple[str, ...]
) -> None:
    cli = Cli(home, f"sqlite:///{tmp_path / 'empty.db'}")

    result = cli(*args)

    assert "run `flowctl db init`" in one_line_error(result)
    assert result.stdout == ""


@pytest.mark.parametrize("args", DB_COMMANDS, ids=_ids)
def test_a_command_on_an_unreachable_server_fails_in_one_line(home: Path, args: tuple[str, ...]) -> None:
    result = Cli(home, UNREACHABLE_POSTGRES)(*args)

    assert "cannot reach the metadata DB" in one_line_error(result)


@pytest.mark.parametrize("args", DB_COMMANDS[:3], ids=_ids)
def test_a_command_on_an_unknown_dialect_fails_in_one_line(home: Path, args: tuple[str, ...]) -> None:
    result = Cli(home, "foo://x")(*args)

    assert "unsupported database dialect 'foo'" in one_line_error(result)
