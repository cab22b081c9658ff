"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Types spelled out here rather than imported from flowctl.db.types: a migration must keep creating
# the same schema even after the models move on.


def _id_string(length: int) -> sa.types.TypeEngine:
    """Case-sensitive ids: binary collation on MySQL/MariaDB."""
    return sa.String(length).with_variant(mysql.VARCHAR(length, collation="utf8mb4_bin"), "mysql", "mariadb")


def _utc_datetime() -> sa.types.TypeEngine:
    """timestamptz on PostgreSQL, naive UTC elsewhere (with microseconds on MySQL/MariaDB)."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _long_text() -> sa.types.TypeEngine:
    return sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def _long_blob() -> sa.types.TypeEngine:
    return sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "connection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conn_id", _id_string(250), nullable=False),
        sa.Column("conn_type", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("host", sa.String(length=500), nullable=True),
        sa.Column("schema", sa.String(length=500), nullable=True),
        sa.Column("login", sa.Text(), nullable=True),
        sa.Column("password", sa.Text(), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("extra", _long_text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connection")),
        sa.UniqueConstraint("conn_id", name=op.f("uq_connection_conn_id")),
    )
    op.create_table(
        "dag",
        sa.Column("dag_id", _id_string(250), nullable=False),
        sa.Column("fileloc", sa.Text(), nullable=False),
        sa.Column("is_paused", sa.Boolean(), nullable=False),
        sa.Column("is_stale", sa.Boolean(), nullable=False),
        sa.Column("owners", sa.String(length=2000), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("schedule", sa.String(length=1000), nullable=True),
        sa.Column("timezone", sa.String(length=100), nullable=False),
        sa.Column("max_active_runs", sa.Integer(), nullable=False),
        sa.Column("max_active_tasks", sa.Integer(), nullable=False),
        sa.Column("latest_version_id", sa.Integer(), nullable=True),
        sa.Column("last_parsed_at", _utc_datetime(), nullable=True),
        sa.Column("next_dagrun", _utc_datetime(), nullable=True),
        sa.Column("next_dagrun_data_interval_start", _utc_datetime(), nullable=True),
        sa.Column("next_dagrun_data_interval_end", _utc_datetime(), nullable=True),
        sa.Column("next_dagrun_create_after", _utc_datetime(), nullable=True),
        sa.PrimaryKeyConstraint("dag_id", name=op.f("pk_dag")),
    )
    op.create_index(
        op.f("ix_dag_is_paused_is_stale_next_dagrun_create_after"),
        "dag",
        ["is_paused", "is_stale", "next_dagrun_create_after"],
        unique=False,
    )

    op.create_table(
        "dag_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fileloc", sa.Text(), nullable=False),
        sa.Column("fileloc_hash", sa.String(length=64), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("last_parsed_at", _utc_datetime(), nullable=False),
        sa.Column("parse_duration", sa.Float(), nullable=False),
        sa.Column("dag_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dag_file")),
        sa.UniqueConstraint("fileloc_hash", name=op.f("uq_dag_file_fileloc_hash")),
    )
    op.create_table(
        "import_error",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("fileloc_hash", sa.String(length=64), nullable=False),
        sa.Column("stack_trace", _long_text(), nullable=False),
        sa.Column("timestamp", _utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_error")),
    )
    op.create_index(op.f("ix_import_error_fileloc_hash"), "import_error", ["fileloc_hash"], unique=False)

    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_type", sa.String(length=30), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("hostname", sa.String(length=1000), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("start_date", _utc_datetime(), nullable=False),
        sa.Column("end_date", _utc_datetime(), nullable=True),
        sa.Column("latest_heartbeat", _utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
    )
    op.create_index(
        op.f("ix_job_job_type_state_latest_heartbeat"),
        "job",
        ["job_type", "state", "latest_heartbeat"],
        unique=False,
    )

    op.create_table(
        "log_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dttm", _utc_datetime(), nullable=False),
        sa.Column("event", sa.String(length=60), nullable=False),
        sa.Column("owner", sa.String(length=256), nullable=True),
        sa.Column("dag_id", sa.String(length=250), nullable=True),
        sa.Column("run_id", sa.String(length=250), nullable=True),
        sa.Column("task_id", sa.String(length=250), nullable=True),
        sa.Column("map_index", sa.Integer(), nullable=True),
        sa.Column("extra", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_event")),
    )
    op.create_index(op.f("ix_log_event_dag_id_dttm"), "log_event", ["dag_id", "dttm"], unique=False)

    op.create_table(
        "pool",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pool", _id_string(256), nullable=False),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pool")),
        sa.UniqueConstraint("pool", name=op.f("uq_pool_pool")),
    )
    op.create_table(
        "user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", _id_string(256), nullable=False),
        sa.Column("email", sa.String(length=256), nullable=False),
        sa.Column("first_name", sa.String(length=256), nullable=False),
        sa.Column("last_name", sa.String(length=256), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("session_token", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.Column("last_login_at", _utc_datetime(), nullable=True),
        sa.Column("failed_login_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user")),
        sa.UniqueConstraint("email", name=op.f("uq_user_email")),
        sa.UniqueConstraint("username", name=op.f("uq_user_username")),
    )
    op.create_table(
        "variable",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", _id_string(250), nullable=False),
        sa.Column("val", _long_text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_variable")),
        sa.UniqueConstraint("key", name=op.f("uq_variable_key")),
    )
    op.create_table(
        "dag_tag",
        sa.Column("dag_id", _id_string(250), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["dag_id"], ["dag.dag_id"], name=op.f("fk_dag_tag_dag_id_dag"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("dag_id", "name", name=op.f("pk_dag_tag")),
    )
    op.create_table(
        "serialized_dag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dag_id", _id_string(250), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("data", _long_text(), nullable=False),
        sa.Column("source_code", _long_text(), nullable=True),
        sa.Column("fileloc", sa.Text(), nullable=False),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dag_id"], ["dag.dag_id"], name=op.f("fk_serialized_dag_dag_id_dag"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_serialized_dag")),
        sa.UniqueConstraint("dag_id", "content_hash", name=op.f("uq_serialized_dag_dag_id_content_hash")),
    )
    op.create_table(
        "dag_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dag_id", _id_string(250), nullable=False),
        sa.Column("run_id", _id_string(250), nullable=False),
        sa.Column("run_type", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("logical_date", _utc_datetime(), nullable=False),
        sa.Column("data_interval_start", _utc_datetime(), nullable=True),
        sa.Column("data_interval_end", _utc_datetime(), nullable=True),
        sa.Column("queued_at", _utc_datetime(), nullable=True),
        sa.Column("start_date", _utc_datetime(), nullable=True),
        sa.Column("end_date", _utc_datetime(), nullable=True),
        sa.Column("conf", _long_text(), nullable=True),
        sa.Column("external_trigger", sa.Boolean(), nullable=False),
        sa.Column("dag_version_id", sa.Integer(), nullable=True),
        sa.Column("creating_job_id", sa.Integer(), nullable=True),
        sa.Column("clear_number", sa.Integer(), nullable=False),
        sa.Column("updated_at", _utc_datetime(), nullable=True),
        sa.ForeignKeyConstraint(["dag_id"], ["dag.dag_id"], name=op.f("fk_dag_run_dag_id_dag"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["dag_version_id"],
            ["serialized_dag.id"],
            name=op.f("fk_dag_run_dag_version_id_serialized_dag"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dag_run")),
        sa.UniqueConstraint("dag_id", "logical_date", name=op.f("uq_dag_run_dag_id_logical_date")),
        sa.UniqueConstraint("dag_id", "run_id", name=op.f("uq_dag_run_dag_id_run_id")),
    )
    op.create_index(op.f("ix_dag_run_state_dag_id"), "dag_run", ["state", "dag_id"], unique=False)

    op.create_table(
        "task_instance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dag_id", _id_string(250), nullable=False),
        sa.Column("run_id", _id_string(250), nullable=False),
        sa.Column("task_id", _id_string(250), nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("max_tries", sa.Integer(), nullable=False),
        sa.Column("operator", sa.String(length=1000), nullable=True),
        sa.Column("pool", _id_string(256), nullable=False),
        sa.Column("pool_slots", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=256), nullable=False),
        sa.Column("priority_weight", sa.Integer(), nullable=False),
        sa.Column("hostname", sa.String(length=1000), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("queued_by_job_id", sa.Integer(), nullable=True),
        sa.Column("queued_at", _utc_datetime(), nullable=True),
        sa.Column("start_date", _utc_datetime(), nullable=True),
        sa.Column("end_date", _utc_datetime(), nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("next_try_at", _utc_datetime(), nullable=True),
        sa.Column("updated_at", _utc_datetime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dag_id", "run_id"],
            ["dag_run.dag_id", "dag_run.run_id"],
            name=op.f("fk_task_instance_dag_id_dag_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_instance")),
        sa.UniqueConstraint(
            "dag_id",
            "run_id",
            "task_id",
            "map_index",
            name=op.f("uq_task_instance_dag_id_run_id_task_id_map_index"),
        ),
    )
    op.create_index(op.f("ix_task_instance_dag_id_state"), "task_instance", ["dag_id", "state"], unique=False)
    op.create_index(op.f("ix_task_instance_queued_by_job_id"), "task_instance", ["queued_by_job_id"], unique=False)
    op.create_index(op.f("ix_task_instance_state_pool"), "task_instance", ["state", "pool"], unique=False)

    op.create_table(
        "task_instance_try",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_instance_id", sa.Integer(), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("hostname", sa.String(length=1000), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("queued_at", _utc_datetime(), nullable=True),
        sa.Column("start_date", _utc_datetime(), nullable=True),
        sa.Column("end_date", _utc_datetime(), nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("error", _long_text(), nullable=True),
        sa.Column("rendered_fields", _long_text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["task_instance_id"],
            ["task_instance.id"],
            name=op.f("fk_task_instance_try_task_instance_id_task_instance"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_instance_try")),
        sa.UniqueConstraint(
            "task_instance_id", "try_number", name=op.f("uq_task_instance_try_task_instance_id_try_number")
        ),
    )
    op.create_table(
        "xcom",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_instance_id", sa.Integer(), nullable=False),
        sa.Column("key", _id_string(512), nullable=False),
        sa.Column("value", _long_blob(), nullable=False),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_instance_id"],
            ["task_instance.id"],
            name=op.f("fk_xcom_task_instance_id_task_instance"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_xcom")),
        sa.UniqueConstraint("task_instance_id", "key", name=op.f("uq_xcom_task_instance_id_key")),
    )


def downgrade() -> None:
    op.drop_table("xcom")
    op.drop_table("task_instance_try")
    op.drop_index(op.f("ix_task_instance_state_pool"), table_name="task_instance")
    op.drop_index(op.f("ix_task_instance_queued_by_job_id"), table_name="task_instance")
    op.drop_index(op.f("ix_task_instance_dag_id_state"), table_name="task_instance")

    op.drop_table("task_instance")
    op.drop_index(op.f("ix_dag_run_state_dag_id"), table_name="dag_run")

    op.drop_table("dag_run")
    op.drop_table("serialized_dag")
    op.drop_table("dag_tag")
    op.drop_table("variable")
    op.drop_table("user")
    op.drop_table("pool")
    op.drop_index(op.f("ix_log_event_dag_id_dttm"), table_name="log_event")

    op.drop_table("log_event")
    op.drop_index(op.f("ix_job_job_type_state_latest_heartbeat"), table_name="job")

    op.drop_table("job")
    op.drop_index(op.f("ix_import_error_fileloc_hash"), table_name="import_error")

    op.drop_table("import_error")
    op.drop_table("dag_file")
    op.drop_index(op.f("ix_dag_is_paused_is_stale_next_dagrun_create_after"), table_name="dag")

    op.drop_table("dag")
    op.drop_table("connection")
