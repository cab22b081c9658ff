"""Alembic migrations of the metadata DB, shipped inside the wheel as flowctl.migrations."""
