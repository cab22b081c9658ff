"""Migrations on every backend: the full cycle works and the migrated schema equals the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from flowctl.db import migrate
from flowctl.db.models import Base


def _schema_diff(engine: Engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def test_schema_revision_constant_is_the_migrations_head(migrated_engine: Engine) -> None:
    assert migrate.head_revision(migrated_engine) == migrate.SCHEMA_REVISION


def test_upgrade_downgrade_upgrade_cycle(migrated_engine: Engine) -> None:
    migrate.upgrade(migrated_engine)
    assert migrate.current_revision(migrated_engine) == migrate.SCHEMA_REVISION

    migrate.downgrade(migrated_engine, "base")
    tables = set(inspect(migrated_engine).get_table_names()) - {migrate.VERSION_TABLE}
    assert tables.isdisjoint(Base.metadata.tables)
    assert migrate.current_revision(migrated_engine) is None

    migrate.upgrade(migrated_engine)
    assert migrate.current_revision(migrated_engine) == migrate.SCHEMA_REVISION
    assert set(Base.metadata.tables) <= set(inspect(migrated_engine).get_table_names())


def test_migrated_schema_matches_the_models(migrated_engine: Engine) -> None:
    migrate.upgrade(migrated_engine)

    assert _schema_diff(migrated_engine) == []


def test_schema_problem_names_what_to_run(migrated_engine: Engine) -> None:
    migrate.upgrade(migrated_engine)
    assert migrate.schema_problem(migrated_engine) is None

    migrate.downgrade(migrated_engine, "base")
    assert "run `flowctl db init`" in (migrate.schema_problem(migrated_engine) or "")

    migrate.upgrade(migrated_engine)
    assert migrate.schema_problem(migrated_engine) is None
