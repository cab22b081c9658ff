"""`flowctl rotate-fernet-key` on every backend: secrets move to the new key and the old one can go."""

from __future__ import annotations

import json

from cryptography.fernet import Fernet

from tests.conftest import Cli, CliResult, one_line_error

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
PASSWORD = "pw-canary-0c4d1f"
SECRET_VALUE = "var-canary-e8a2b6"


def _with_key(key: str) -> dict[str, str]:
    return {"FLOWCTL__CORE__FERNET_KEY": key}


def _store_secrets_under(cli: Cli, key: str) -> None:
    added = cli(
        "connections",
        "add",
        "warehouse",
        "--conn-uri",
        f"postgresql://alice:{PASSWORD}@db.example.com/sales?api_token=tok",
        env=_with_key(key),
    )
    assert added.exit_code == 0, added.stderr
    assert cli("variables", "set", "db_password", SECRET_VALUE, env=_with_key(key)).exit_code == 0


def _connection(cli: Cli, key: str) -> CliResult:
    return cli("connections", "get", "warehouse", "--show-secrets", "-o", "json", env=_with_key(key))


def _variable(cli: Cli, key: str) -> CliResult:
    return cli("variables", "get", "db_password", env=_with_key(key))


def test_after_rotation_the_new_key_alone_reads_secrets_and_the_old_key_does_not(cli_db: Cli) -> None:
    # Given a connection and a variable encrypted with the old key
    _store_secrets_under(cli_db, OLD_KEY)

    # When secrets are rotated with `new,old`
    rotated = cli_db("rotate-fernet-key", env=_with_key(f"{NEW_KEY},{OLD_KEY}"))

    # Then the new key alone decrypts them, and the old key alone no longer does
    assert rotated.exit_code == 0, rotated.stderr
    connection = _connection(cli_db, NEW_KEY)
    assert connection.exit_code == 0, connection.stderr
    assert json.loads(connection.stdout)["password"] == PASSWORD
    assert json.loads(json.loads(connection.stdout)["extra"]) == {"api_token": "tok"}
    assert _variable(cli_db, NEW_KEY).stdout == SECRET_VALUE + "\n"
    for result in (_connection(cli_db, OLD_KEY), _variable(cli_db, OLD_KEY)):
        assert "fernet_key" in one_line_error(result)
        assert PASSWORD not in result.stdout and SECRET_VALUE not in result.stdout


def test_before_rotation_new_then_old_key_reads_secrets_stored_with_the_old_key(cli_db: Cli) -> None:
    _store_secrets_under(cli_db, OLD_KEY)

    both = f"{NEW_KEY},{OLD_KEY}"

    assert json.loads(_connection(cli_db, both).stdout)["password"] == PASSWORD
    assert _variable(cli_db, both).stdout == SECRET_VALUE + "\n"


def test_rotation_without_the_old_key_fails_and_leaves_secrets_readable_with_it(cli_db: Cli) -> None:
    # Given secrets encrypted with the old key
    _store_secrets_under(cli_db, OLD_KEY)

    # When rotation is run with only an unrelated key configured
    result = cli_db("rotate-fernet-key", env=_with_key(NEW_KEY))

    # Then it fails in one line and changes nothing
    assert "fernet_key" in one_line_error(result)
    assert json.loads(_connection(cli_db, OLD_KEY).stdout)["password"] == PASSWORD
    assert _variable(cli_db, OLD_KEY).stdout == SECRET_VALUE + "\n"


def test_rotation_of_an_empty_db_succeeds(cli_db: Cli) -> None:
    result = cli_db("rotate-fernet-key", env=_with_key(f"{NEW_KEY},{OLD_KEY}"))

    assert result.exit_code == 0, result.stderr


def test_an_invalid_fernet_key_is_a_one_line_error_that_does_not_echo_it(cli_db: Cli) -> None:
    result = cli_db("variables", "list", env=_with_key("not-a-fernet-key-canary"))

    assert "fernet_key" in one_line_error(result)
    assert "not-a-fernet-key-canary" not in result.stderr
