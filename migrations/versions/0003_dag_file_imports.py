"""dag_file.imported_modules: the modules from the dags folders a DAG file imported when last parsed, so
that a change to one of them parses the file again

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dag_file") as batch:
        # A JSON list of paths, as JSON text (LONGTEXT on MySQL, like every JSON column).
        long_text = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
        batch.add_column(sa.Column("imported_modules", long_text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dag_file") as batch:
        batch.drop_column("imported_modules")
