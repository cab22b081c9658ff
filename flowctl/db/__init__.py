"""Adapters to the metadata DB: engine and sessions, tables, migrations, queries, secrets."""
