"""Settings: defaults, the file written on first use, environment overrides and bad values."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from flowctl.config import (
    ensure_config_file,
    iter_options,
    load_settings,
    render_config,
    settings_from_environment,
)
from flowctl.exceptions import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_defaults_match_the_spec(tmp_path: Path) -> None:
    settings = load_settings({"FLOWCTL_HOME": str(tmp_path)})

    assert settings.core.dags_folder == tmp_path / "dags"
    assert settings.core.executor == "local"
    assert settings.core.parallelism == 32
    assert settings.core.max_active_tasks_per_dag == 16
    assert settings.core.max_active_runs_per_dag == 16
    assert settings.core.default_timezone == "utc"
    assert settings.core.load_examples is False
    assert settings.core.dags_are_paused_at_creation is True
    assert settings.core.dagbag_import_timeout == 30
    assert settings.core.max_xcom_size == 16777216
    assert settings.core.sql_alchemy_conn == f"sqlite:///{tmp_path}/flowctl.db"
    assert settings.scheduler.catchup_by_default is False
    assert settings.scheduler.dag_dir_list_interval == 10
    assert settings.scheduler.parsing_processes == 2
    assert settings.scheduler.task_heartbeat_timeout == 60
    assert settings.scheduler.max_tis_per_query == 512
    assert (settings.webserver.web_server_host, settings.webserver.web_server_port) == ("127.0.0.1", 8080)
    assert settings.webserver.base_url == "http://127.0.0.1:8080"
    assert settings.webserver.workers == 2
    assert settings.webserver.auth == "password"
    assert settings.ui_timezone == "utc"
    assert settings.smtp.smtp_port == 25
    assert settings.smtp.smtp_starttls is True
    assert settings.smtp.smtp_ssl is False
    assert settings.logging.base_log_folder == tmp_path / "logs"


def test_first_use_writes_owner_only_config_with_generated_keys(tmp_path: Path) -> None:
    home = tmp_path / "new-home"

    settings = settings_from_environment({"FLOWCTL_HOME": str(home)})

    config_file = home / "flowctl.cfg"
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert settings.core.fernet_key and settings.webserver.secret_key
    assert settings.core.fernet_key in config_file.read_text()
    again = settings_from_environment({"FLOWCTL_HOME": str(home)})
    assert again.core.fernet_key == settings.core.fernet_key
    assert again.webserver.secret_key == settings.webserver.secret_key


def test_each_install_gets_its_own_keys(tmp_path: Path) -> None:
    first = settings_from_environment({"FLOWCTL_HOME": str(tmp_path / "a")})
    second = settings_from_environment({"FLOWCTL_HOME": str(tmp_path / "b")})

    assert first.core.fernet_key != second.core.fernet_key
    assert first.webserver.secret_key != second.webserver.secret_key


def test_existing_config_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "flowctl.cfg"
    path.write_text("[core]\nparallelism = 7\n")

    assert ensure_config_file(path) is False
    assert path.read_text() == "[core]\nparallelism = 7\n"


def test_environment_wins_over_file(tmp_path: Path) -> None:
    (tmp_path / "flowctl.cfg").write_text("[core]\nparallelism = 7\nload_examples = true\n")

    settings = load_settings({"FLOWCTL_HOME": str(tmp_path), "FLOWCTL__CORE__PARALLELISM": "9"})

    assert settings.core.parallelism == 9
    assert settings.core.load_examples is True


def test_database_section_is_an_alias_for_the_db_url(tmp_path: Path) -> None:
    (tmp_path / "flowctl.cfg").write_text("[database]\nsql_alchemy_conn = sqlite:////x/y.db\n")

    settings = load_settings({"FLOWCTL_HOME": str(tmp_path)})

    assert settings.core.sql_alchemy_conn == "sqlite:////x/y.db"
    assert settings.get("database", "sql_alchemy_conn") == "sqlite:////x/y.db"
    assert settings.warnings == ()


def test_home_placeholder_expands_in_paths_and_db_url(tmp_path: Path) -> None:
    env = {"FLOWCTL_HOME": str(tmp_path), "FLOWCTL__CORE__DAGS_FOLDER": "$FLOWCTL_HOME/pipelines"}

    settings = load_settings(env)

    assert settings.core.dags_folder == tmp_path / "pipelines"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("FLOWCTL__CORE__PARALLELISM", "abc", "[core] parallelism = 'abc': expected a whole number"),
        ("FLOWCTL__CORE__LOAD_EXAMPLES", "maybe", "[core] load_examples = 'maybe': expected true or false"),
        ("FLOWCTL__CORE__DAGBAG_IMPORT_TIMEOUT", "-1", "[core] dagbag_import_timeout = '-1'"),
        ("FLOWCTL__CORE__EXECUTOR", "celery", "[core] executor = 'celery'"),
        ("FLOWCTL__CORE__DEFAULT_TIMEZONE", "Mars/Base", "[core] default_timezone = 'Mars/Base'"),
        ("FLOWCTL__WEBSERVER__WEB_SERVER_PORT", "70000", "[webserver] web_server_port = '70000'"),
        ("FLOWCTL__WEBSERVER__AUTH", "anonymous-admin", "[webserver] auth = 'anonymous-admin'"),
        ("FLOWCTL__CORE__PARALLELISM", "0", "[core] parallelism = 0"),
    ],
)
def test_bad_value_error_names_section_key_and_value(tmp_path: Path, variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"FLOWCTL_HOME": str(tmp_path), variable: value})

    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_bad_value_in_file_is_reported_like_environment(tmp_path: Path) -> None:
    (tmp_path / "flowctl.cfg").write_text("[scheduler]\nparsing_processes = two\n")

    with pytest.raises(ConfigError, match=r"\[scheduler\] parsing_processes = 'two'"):
        load_settings({"FLOWCTL_HOME": str(tmp_path)})


def test_unknown_keys_and_sections_are_warnings(tmp_path: Path) -> None:
    (tmp_path / "flowctl.cfg").write_text("[core]\nparalelism = 3\n[nonsense]\nx = 1\n")

    settings = load_settings({"FLOWCTL_HOME": str(tmp_path), "FLOWCTL__CORE__TYPO": "1"})

    assert settings.core.parallelism == 32
    assert [w.split(" (")[0] for w in settings.warnings] == [
        "unknown config key [core] paralelism",
        "unknown config key [core] typo",
        "unknown config key [nonsense] x",
    ]


def test_malformed_ini_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "flowctl.cfg").write_text("parallelism = 3\n")

    with pytest.raises(ConfigError, match="not a valid INI file"):
        load_settings({"FLOWCTL_HOME": str(tmp_path)})


def test_unknown_key_lookup_is_an_error(tmp_path: Path) -> None:
    settings = load_settings({"FLOWCTL_HOME": str(tmp_path)})

    with pytest.raises(ConfigError, match=r"unknown config key \[core\] nope"):
        settings.get("core", "nope")


def test_every_key_has_documentation() -> None:
    for info in iter_options():
        assert info.doc.strip(), f"[{info.section}] {info.key} has no doc"


def test_config_example_documents_every_key_with_its_default() -> None:
    assert (REPO / "config.example.cfg").read_text() == render_config(), (
        "config.example.cfg is stale: regenerate it with "
        "python -c \"from flowctl.config import render_config; print(render_config(), end='')\" "
        "> config.example.cfg"
    )


def test_rendered_defaults_load_back_to_the_defaults(tmp_path: Path) -> None:
    (tmp_path / "flowctl.cfg").write_text(render_config({"core.fernet_key": "k"}))

    from_file = load_settings({"FLOWCTL_HOME": str(tmp_path)})
    from_nothing = load_settings({"FLOWCTL_HOME": str(tmp_path)}, path=tmp_path / "missing.cfg")

    assert from_file.core.fernet_key == "k"
    assert from_file.scheduler == from_nothing.scheduler
    assert from_file.webserver == from_nothing.webserver


def test_home_that_cannot_be_created_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")

    with pytest.raises(ConfigError, match="cannot create"):
        settings_from_environment({"FLOWCTL_HOME": str(blocker / "home")})
