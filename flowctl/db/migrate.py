"""Schema management through alembic: upgrade, downgrade, reset, and the revision check every command
that needs the schema makes before it touches a table."""

from __future__ import annotations

from importlib.resources import files
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from flowctl.exceptions import DatabaseError

if TYPE_CHECKING:
    from alembic.config import Config

# The head of migrations/versions; a test keeps the two equal. Kept as a constant so the per-command
# schema check reads one row instead of loading alembic and every migration script.
SCHEMA_REVISION = "0003"
VERSION_TABLE = "alembic_version"


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(files("flowctl.migrations")))
    config.attributes["engine"] = engine
    return config


def _run(engine: Engine, command_name: str, revision: str) -> None:
    from alembic import command
    from alembic.util.exc import CommandError

    config = alembic_config(engine)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            getattr(command, command_name)(config, revision)
    except CommandError as exc:
        raise DatabaseError(f"db {command_name}: {exc}") from None


def upgrade(engine: Engine, to_revision: str = "head") -> None:
    _run(engine, "upgrade", to_revision)


def downgrade(engine: Engine, to_revision: str) -> None:
    _run(engine, "downgrade", to_revision)


def head_revision(engine: Engine) -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert head is not None, "migrations/versions has no revision"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision stamped in the DB, or None when it has no flowctl schema."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def reset(engine: Engine) -> None:
    """Drop every flowctl table (whatever revision the DB is at) and build the schema again."""
    from flowctl.db.models import Base

    with engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.execute(text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))
    upgrade(engine)


def schema_problem(engine: Engine) -> str | None:
    """Why commands cannot use this DB yet (unreachable, no schema, other revision), or None if they can."""
    try:
        revision = current_revision(engine)
    except SQLAlchemyError as exc:
        return f"cannot reach the metadata DB at {engine.url.render_as_string(hide_password=True)}: " + (
            _first_line(exc)
        )
    if revision is None:
        return "the metadata DB has no flowctl schema: run `flowctl db init`"
    if revision != SCHEMA_REVISION:
        return (
            f"the metadata DB is at revision {revision}, this flowctl needs {SCHEMA_REVISION}: run `flowctl db upgrade`"
        )
    return None


def require_current_schema(engine: Engine) -> None:
    problem = schema_problem(engine)
    if problem:
        raise DatabaseError(problem)


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    message = str(orig).strip().splitlines()
    return message[0] if message else type(orig).__name__
