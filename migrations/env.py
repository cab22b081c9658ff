"""Alembic environment: runs migrations on the connection flowctl hands over, or, when alembic's own
command line is used (`alembic -c alembic.ini ...`), on the DB named by flowctl's configuration."""

from __future__ import annotations

from alembic import context

from flowctl.db.models import Base

config = context.config


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from flowctl.config import settings_from_environment
    from flowctl.db.engine import make_engine

    engine = make_engine(settings_from_environment().core.sql_alchemy_conn)
    with engine.begin() as connection:
        _run(connection)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("flowctl migrations run online only")
run_migrations_online()
