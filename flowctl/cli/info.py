"""`flowctl info`: what this installation is, on one screen (as Airflow's `airflow info`), to paste into
a bug report. It reads the settings only: it works when the metadata DB is down, and never shows a
password."""

from __future__ import annotations

import platform
import sys
from typing import Any

import click

import flowctl
from flowctl.cli.output import output_option, print_record
from flowctl.cli.runtime import Runtime, pass_runtime


@click.command("info")
@output_option
@pass_runtime
def info(runtime: Runtime, output: str) -> None:
    """Version, Python, platform, paths, executor, metadata DB and plugins of this installation."""
    print_record(installation_facts(runtime), output)


def installation_facts(runtime: Runtime) -> dict[str, Any]:
    settings = runtime.settings
    dialect, url = _database(settings.core.sql_alchemy_conn)
    return {
        "flowctl_version": flowctl.__version__,
        "python_version": platform.python_version(),
        "python_location": sys.executable,
        "platform": platform.platform(),
        "architecture": platform.machine(),
        "flowctl_home": settings.home,
        "config_file": settings.config_path,
        "dags_folder": settings.core.dags_folder,
        "base_log_folder": settings.logging.base_log_folder,
        "executor": settings.core.executor,
        "parallelism": settings.core.parallelism,
        "default_timezone": settings.core.default_timezone,
        "load_examples": settings.core.load_examples,
        "db_dialect": dialect,
        "sql_alchemy_conn": url,
        **_plugin_counts(),
    }


def _database(url: str) -> tuple[str, str]:
    """(dialect, URL with the password as ***); a URL that cannot be parsed is not shown at all."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return "unknown", "(not a database URL: see [core] sql_alchemy_conn)"
    return parsed.get_backend_name(), parsed.render_as_string(hide_password=True)


def _plugin_counts() -> dict[str, int]:
    from flowctl.plugins import discover

    report = discover()
    return {"plugins": len(report.plugins), "plugins_failed_to_load": len(report.broken)}
