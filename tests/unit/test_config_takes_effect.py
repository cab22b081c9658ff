"""When a changed key takes effect: every option declares the processes a change needs restarted, or
when it is read again; `config list` and the config file say so; `reload_options` re-reads those keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowctl.config import PROCESSES, iter_options, load_settings, option, reload_options, render_config
from flowctl.exceptions import ConfigError
from tests.conftest import Cli


def test_every_option_says_which_processes_need_a_restart_or_when_it_is_read_again() -> None:
    for info in iter_options():
        assert bool(info.restart) != bool(info.reload), f"[{info.section}] {info.key}"
        assert set(info.restart) <= set(PROCESSES), f"[{info.section}] {info.key}"


@pytest.mark.parametrize(
    "declaration",
    [
        {},
        {"restart": ("scheduler",), "reload": "each mail"},
        {"restart": ("worker",)},
    ],
)
def test_an_option_without_exactly_one_valid_declaration_is_refused(declaration: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"restart= .* or reload="):
        option(1, "A key.", **declaration)  # type: ignore[arg-type]


def test_smtp_keys_are_read_at_each_mail_and_the_others_name_the_processes_to_restart() -> None:
    effects = {(info.section, info.key): info.takes_effect for info in iter_options()}

    assert {effect for (section, _), effect in effects.items() if section == "smtp"} == {"at each mail, no restart"}
    assert effects[("webserver", "base_url")] == "at each mail, no restart"
    assert effects[("webserver", "web_server_port")] == "after a restart of webserver"
    assert effects[("core", "parallelism")] == "after a restart of scheduler"
    assert effects[("core", "dags_folder")] == "after a restart of scheduler, dag-processor"
    assert effects[("core", "sql_alchemy_conn")] == "after a restart of scheduler, dag-processor, webserver"


def test_config_list_shows_when_each_key_takes_effect(home: Path) -> None:
    result = Cli(home, None)("config", "list", "-o", "json")

    assert result.exit_code == 0, result
    rows = {(row["section"], row["key"]): row for row in json.loads(result.stdout)}
    assert len(rows) == len(list(iter_options()))
    assert rows[("smtp", "smtp_host")]["takes_effect"] == "at each mail, no restart"
    assert rows[("scheduler", "parsing_processes")]["takes_effect"] == "after a restart of scheduler, dag-processor"
    table = Cli(home, None)("config", "list").stdout
    assert "takes_effect" in table.splitlines()[0]


def test_the_config_file_says_when_each_key_takes_effect() -> None:
    text = render_config()

    assert "# SMTP port.\n# Takes effect at each mail, no restart.\nsmtp_port = 25\n" in text
    assert "# Bind port.\n# Takes effect after a restart of webserver.\nweb_server_port = 8080\n" in text


def test_reload_options_rereads_only_the_keys_read_at_each_mail(tmp_path: Path) -> None:
    # Given: settings loaded at start, then the file changes
    config = tmp_path / "flowctl.cfg"
    config.write_text("[smtp]\nsmtp_host = old.example\n[core]\nparallelism = 4\n")
    at_start = load_settings({"FLOWCTL_HOME": str(tmp_path)})
    config.write_text(
        "[smtp]\nsmtp_host = new.example\nsmtp_port = 2525\n"
        "[webserver]\nbase_url = http://new.example\nweb_server_port = 9999\n[core]\nparallelism = 8\n"
    )

    # When
    now = reload_options(at_start, {"FLOWCTL__SMTP__SMTP_USER": "mailer"})

    # Then: the mail keys are as the file and environment say now, everything else as at start
    assert (now.smtp.smtp_host, now.smtp.smtp_port, now.smtp.smtp_user) == ("new.example", 2525, "mailer")
    assert now.webserver.base_url == "http://new.example"
    assert now.webserver.web_server_port == 8080
    assert now.core == at_start.core and now.core.parallelism == 4


def test_reload_options_names_a_bad_mail_value_and_ignores_bad_values_elsewhere(tmp_path: Path) -> None:
    at_start = load_settings({"FLOWCTL_HOME": str(tmp_path)})
    (tmp_path / "flowctl.cfg").write_text("[core]\nparallelism = many\n")
    assert reload_options(at_start, {}).core.parallelism == 32

    with pytest.raises(ConfigError, match=r"\[smtp\] smtp_port = 'twenty-five': expected a whole number"):
        reload_options(at_start, {"FLOWCTL__SMTP__SMTP_PORT": "twenty-five"})
