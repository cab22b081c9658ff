"""The `flowctl` command: a click group whose subcommands are imported only when they run.

`flowctl --help` and `flowctl version` import neither SQLAlchemy nor Flask (ARCHITECTURE decision 10):
the short help of every subcommand is kept in COMMANDS, not read from its module.
"""

from __future__ import annotations

import importlib
import sys

import click

import flowctl

# name -> (module:attribute, short help)
COMMANDS: dict[str, tuple[str, str]] = {
    "config": ("flowctl.cli.config:config_group", "Show configuration values."),
    "connections": ("flowctl.cli.connections:connections_group", "Manage connections."),
    "dag-processor": (
        "flowctl.cli.dag_processor:dag_processor",
        "Parse the dags folder continuously (the scheduler does this too).",
    ),
    "dags": ("flowctl.cli.dags:dags_group", "List, inspect, pause and parse DAGs."),
    "db": ("flowctl.cli.db:db_group", "Create, migrate, reset and check the metadata DB."),
    "info": ("flowctl.cli.info:info", "Show version, Python, platform, paths, executor and DB of this install."),
    "jobs": ("flowctl.cli.scheduler:jobs_group", "Check scheduler jobs."),
    "plugins": ("flowctl.cli.plugins:plugins", "List installed plugins and what they provide."),
    "pools": ("flowctl.cli.pools:pools_group", "Manage pools."),
    "rotate-fernet-key": (
        "flowctl.cli.fernet:rotate_fernet_key",
        "Re-encrypt secrets with the first key of core.fernet_key.",
    ),
    "scheduler": ("flowctl.cli.scheduler:scheduler", "Schedule and run DAGs until stopped."),
    "standalone": ("flowctl.cli.standalone:standalone", "Everything for a local try-out."),
    "tasks": ("flowctl.cli.tasks:tasks_group", "List tasks and render their templates."),
    "users": ("flowctl.cli.users:users_group", "Manage users of the web UI and API."),
    "variables": ("flowctl.cli.variables:variables_group", "Manage variables."),
    "version": ("flowctl.cli.main:version", "Print the version."),
    "webserver": ("flowctl.cli.webserver:webserver", "Serve the web UI and REST API."),
}


class LazyGroup(click.Group):
    """Subcommands listed from COMMANDS and imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, attribute = COMMANDS[cmd_name][0].split(":")
        return getattr(importlib.import_module(module_name), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, help_text) in sorted(COMMANDS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """flowctl: schedule and run workflows written as Python DAG files."""
    from flowctl.cli.runtime import Runtime

    ctx.obj = Runtime()
    ctx.call_on_close(ctx.obj.close)


@click.command()
def version() -> None:
    """Print the version."""
    click.echo(flowctl.__version__)


def main(argv: list[str] | None = None) -> None:
    """Entry point: FlowctlError -> one line on stderr and exit 1; usage errors exit 2."""
    from flowctl.exceptions import FlowctlError

    try:
        code = cli.main(args=argv, prog_name="flowctl", standalone_mode=False)
    except click.exceptions.UsageError as exc:
        exc.show()
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except FlowctlError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        _exit_on_database_error(exc)
        raise
    sys.exit(code if isinstance(code, int) else 0)


def _exit_on_database_error(exc: Exception) -> None:
    """A driver or SQLAlchemy error reaching the top is a DB problem, not a bug: say so in one line."""
    if "sqlalchemy" not in sys.modules:
        return
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(exc, SQLAlchemyError):
        orig = getattr(exc, "orig", None) or exc
        lines = str(orig).strip().splitlines()
        click.echo(f"Error: metadata DB error: {lines[0] if lines else type(orig).__name__}", err=True)
        sys.exit(1)
