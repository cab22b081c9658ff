"""`flowctl db init|upgrade|migrate|downgrade|reset|check` (`migrate` is Airflow 2.7+'s name for `upgrade`)."""

from __future__ import annotations

import click

from flowctl.cli.runtime import Runtime, pass_runtime


@click.group("db")
def db_group() -> None:
    """Create, migrate, reset and check the metadata DB."""


def _where(runtime: Runtime) -> str:
    return runtime.engine.url.render_as_string(hide_password=True)


def _reach(runtime: Runtime) -> None:
    """Fail with one line naming the DB when it cannot be reached."""
    from flowctl.db.migrate import schema_problem
    from flowctl.exceptions import DatabaseError

    problem = schema_problem(runtime.engine)
    if problem and problem.startswith("cannot reach"):
        raise DatabaseError(problem)


def _ensure_default_pool(runtime: Runtime) -> None:
    from flowctl.db.queries.pools import ensure_default_pool

    with runtime.session() as session:
        ensure_default_pool(session)


@db_group.command("init")
@pass_runtime
def init(runtime: Runtime) -> None:
    """Create or upgrade the schema to the latest revision and add the default pool (idempotent)."""
    from flowctl.db import migrate

    _reach(runtime)
    migrate.upgrade(runtime.engine)
    _ensure_default_pool(runtime)
    click.echo(f"Metadata DB ready at {_where(runtime)} (revision {migrate.SCHEMA_REVISION}).")


@db_group.command("upgrade")
@click.option("--to-revision", "-r", default="head", show_default=True, help="Revision to upgrade to.")
@pass_runtime
def upgrade(runtime: Runtime, to_revision: str) -> None:
    """Apply migrations up to a revision."""
    from flowctl.db import migrate

    _reach(runtime)
    migrate.upgrade(runtime.engine, to_revision)
    click.echo(f"Metadata DB at revision {migrate.current_revision(runtime.engine)}.")


db_group.add_command(upgrade, "migrate")


@db_group.command("downgrade")
@click.option("--to-revision", "-r", required=True, help="Revision to go back to (`base`: empty DB).")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_runtime
def downgrade(runtime: Runtime, to_revision: str, yes: bool) -> None:
    """Revert migrations down to a revision. Data in dropped tables is lost."""
    from flowctl.db import migrate

    _reach(runtime)
    if not yes:
        click.confirm(f"Downgrade {_where(runtime)} to {to_revision}? Data may be lost", abort=True)
    migrate.downgrade(runtime.engine, to_revision)
    click.echo(f"Metadata DB at revision {migrate.current_revision(runtime.engine) or 'base'}.")


@db_group.command("reset")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_runtime
def reset(runtime: Runtime, yes: bool) -> None:
    """Drop every flowctl table and create the schema again. All history is lost."""
    from flowctl.db import migrate

    _reach(runtime)
    if not yes:
        click.confirm(f"Drop every flowctl table in {_where(runtime)}?", abort=True)
    migrate.reset(runtime.engine)
    _ensure_default_pool(runtime)
    click.echo(f"Metadata DB reset at {_where(runtime)} (revision {migrate.SCHEMA_REVISION}).")


@db_group.command("check")
@pass_runtime
def check(runtime: Runtime) -> None:
    """Exit 0 if the DB is reachable and at the latest revision, else 1 with the reason."""
    from flowctl.db import migrate
    from flowctl.exceptions import DatabaseError

    problem = migrate.schema_problem(runtime.engine)
    if problem:
        raise DatabaseError(problem)
    click.echo(f"Metadata DB at {_where(runtime)} is reachable and at revision {migrate.SCHEMA_REVISION}.")
