"""The metadata DB tables: columns, keys and indexes only. Queries live in flowctl.db.queries.

Uniqueness rules are in the schema so a repeated step is harmless. Every datetime column is
UTCDateTime. The indexes serve the hot queries named next to them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from flowctl.db.types import ID_LEN, JSONText, LongBlob, LongText, UTCDateTime, id_string

# Named constraints make migrations reproducible on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class Dag(Base):
    """One row per DAG id ever parsed; the scheduler's run-creation query reads it."""

    __tablename__ = "dag"

    dag_id: Mapped[str] = mapped_column(id_string(), primary_key=True)
    fileloc: Mapped[str] = mapped_column(Text)
    is_paused: Mapped[bool] = mapped_column(Boolean, default=True)
    is_stale: Mapped[bool] = mapped_column(Boolean, default=False)
    owners: Mapped[str] = mapped_column(String(2000), default="")
    description: Mapped[str | None] = mapped_column(Text)
    schedule: Mapped[str | None] = mapped_column(String(1000))
    timezone: Mapped[str] = mapped_column(String(100), default="UTC")
    max_active_runs: Mapped[int] = mapped_column(Integer)
    max_active_tasks: Mapped[int] = mapped_column(Integer)
    # The latest serialized version; not a foreign key, to keep dag <-> serialized_dag acyclic.
    latest_version_id: Mapped[int | None] = mapped_column(Integer)
    last_parsed_at: Mapped[datetime | None]
    next_dagrun: Mapped[datetime | None]
    next_dagrun_data_interval_start: Mapped[datetime | None]
    next_dagrun_data_interval_end: Mapped[datetime | None]
    next_dagrun_create_after: Mapped[datetime | None]

    # scheduler: active DAGs whose next run is due
    __table_args__ = (Index(None, "is_paused", "is_stale", "next_dagrun_create_after"),)


class DagTag(Base):
    __tablename__ = "dag_tag"

    dag_id: Mapped[str] = mapped_column(id_string(), ForeignKey("dag.dag_id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)


class DagFile(Base):
    """One row per DAG file seen, so unchanged files are not re-imported."""

    __tablename__ = "dag_file"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fileloc: Mapped[str] = mapped_column(Text)
    # sha256 of fileloc: paths can exceed the length MySQL can index.
    fileloc_hash: Mapped[str] = mapped_column(String(64), unique=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    last_parsed_at: Mapped[datetime]
    parse_duration: Mapped[float] = mapped_column(Float)
    dag_count: Mapped[int] = mapped_column(Integer, default=0)
    # Modules from the dags folders the file imported when last parsed: their content is part of
    # content_hash, so editing one parses the file again.
    imported_modules: Mapped[Any] = mapped_column(JSONText, nullable=True)


class SerializedDag(Base):
    """An immutable version of a DAG's structure, keyed by content hash; runs point at the one they used."""

    __tablename__ = "serialized_dag"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dag_id: Mapped[str] = mapped_column(id_string(), ForeignKey("dag.dag_id", ondelete="CASCADE"))
    content_hash: Mapped[str] = mapped_column(String(64))
    data: Mapped[Any] = mapped_column(JSONText)
    source_code: Mapped[str | None] = mapped_column(LongText)
    fileloc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("dag_id", "content_hash"),)


class DagRun(Base):
    __tablename__ = "dag_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dag_id: Mapped[str] = mapped_column(id_string(), ForeignKey("dag.dag_id", ondelete="CASCADE"))
    run_id: Mapped[str] = mapped_column(id_string())
    run_type: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    logical_date: Mapped[datetime]
    data_interval_start: Mapped[datetime | None]
    data_interval_end: Mapped[datetime | None]
    queued_at: Mapped[datetime | None]
    start_date: Mapped[datetime | None]
    end_date: Mapped[datetime | None]
    conf: Mapped[Any] = mapped_column(JSONText, nullable=True)
    external_trigger: Mapped[bool] = mapped_column(Boolean, default=False)
    dag_version_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("serialized_dag.id", ondelete="SET NULL"))
    creating_job_id: Mapped[int | None] = mapped_column(Integer)
    clear_number: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("dag_id", "run_id"),
        # one run per logical date, as in Airflow 2: a repeated scheduling step cannot double a run
        UniqueConstraint("dag_id", "logical_date"),
        # scheduler: queued/running runs of every DAG
        Index(None, "state", "dag_id"),
    )


class TaskInstance(Base):
    """The current state of one task in one run; each try's history is in task_instance_try."""

    __tablename__ = "task_instance"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dag_id: Mapped[str] = mapped_column(id_string())
    run_id: Mapped[str] = mapped_column(id_string())
    task_id: Mapped[str] = mapped_column(id_string())
    map_index: Mapped[int] = mapped_column(Integer, default=-1)
    state: Mapped[str] = mapped_column(String(20), default="none")
    try_number: Mapped[int] = mapped_column(Integer, default=0)
    max_tries: Mapped[int] = mapped_column(Integer, default=0)
    operator: Mapped[str | None] = mapped_column(String(1000))
    pool: Mapped[str] = mapped_column(id_string(256), default="default_pool")
    pool_slots: Mapped[int] = mapped_column(Integer, default=1)
    queue: Mapped[str] = mapped_column(String(256), default="default")
    priority_weight: Mapped[int] = mapped_column(Integer, default=1)
    hostname: Mapped[str | None] = mapped_column(String(1000))
    pid: Mapped[int | None] = mapped_column(Integer)
    queued_by_job_id: Mapped[int | None] = mapped_column(Integer)
    queued_at: Mapped[datetime | None]
    start_date: Mapped[datetime | None]
    end_date: Mapped[datetime | None]
    duration: Mapped[float | None] = mapped_column(Float)
    # When an up_for_retry / up_for_reschedule instance may be queued again.
    next_try_at: Mapped[datetime | None]
    # A sensor in reschedule mode: its timeout counts from here, across reschedules.
    first_poke_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("dag_id", "run_id", "task_id", "map_index"),
        ForeignKeyConstraint(["dag_id", "run_id"], ["dag_run.dag_id", "dag_run.run_id"], ondelete="CASCADE"),
        # dispatch: running/queued counts per DAG (max_active_tasks)
        Index(None, "dag_id", "state"),
        # dispatch: occupied slots per pool
        Index(None, "state", "pool"),
        # recovery: what a dead scheduler job left queued/running
        Index(None, "queued_by_job_id"),
    )


class TaskInstanceTry(Base):
    """One row per try of a task instance: kept across clears, read by the Gantt view and the API."""

    __tablename__ = "task_instance_try"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_instance_id: Mapped[int] = mapped_column(Integer, ForeignKey("task_instance.id", ondelete="CASCADE"))
    try_number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20))
    hostname: Mapped[str | None] = mapped_column(String(1000))
    pid: Mapped[int | None] = mapped_column(Integer)
    queued_at: Mapped[datetime | None]
    start_date: Mapped[datetime | None]
    end_date: Mapped[datetime | None]
    duration: Mapped[float | None] = mapped_column(Float)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(LongText)
    rendered_fields: Mapped[Any] = mapped_column(JSONText, nullable=True)

    __table_args__ = (UniqueConstraint("task_instance_id", "try_number"),)


class XCom(Base):
    __tablename__ = "xcom"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_instance_id: Mapped[int] = mapped_column(Integer, ForeignKey("task_instance.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(id_string(512))
    value: Mapped[bytes] = mapped_column(LongBlob)
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("task_instance_id", "key"),)


class Connection(Base):
    """password and extra are Fernet-encrypted at rest (flowctl.db.secrets)."""

    __tablename__ = "connection"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conn_id: Mapped[str] = mapped_column(id_string(), unique=True)
    conn_type: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(500))
    schema: Mapped[str | None] = mapped_column(String(500))
    login: Mapped[str | None] = mapped_column(Text)
    password: Mapped[str | None] = mapped_column(Text)
    port: Mapped[int | None] = mapped_column(Integer)
    extra: Mapped[str | None] = mapped_column(LongText)


class Variable(Base):
    """val is Fernet-encrypted at rest."""

    __tablename__ = "variable"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(id_string(), unique=True)
    val: Mapped[str | None] = mapped_column(LongText)
    description: Mapped[str | None] = mapped_column(Text)


class Pool(Base):
    __tablename__ = "pool"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pool: Mapped[str] = mapped_column(id_string(256), unique=True)
    slots: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)


class User(Base):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(id_string(256), unique=True)
    # stored lower-case: addresses are compared without regard to case on every backend
    email: Mapped[str] = mapped_column(String(256), unique=True)
    first_name: Mapped[str] = mapped_column(String(256), default="")
    last_name: Mapped[str] = mapped_column(String(256), default="")
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))
    # Changes with the password, so sessions signed before the change stop working.
    session_token: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]
    failed_login_count: Mapped[int] = mapped_column(Integer, default=0)


class DagImportError(Base):
    """A DAG file that failed to import; replaced on every parse of that file, removed when it parses."""

    __tablename__ = "import_error"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    filename: Mapped[str] = mapped_column(Text)
    fileloc_hash: Mapped[str] = mapped_column(String(64), index=True)
    stack_trace: Mapped[str] = mapped_column(LongText)
    timestamp: Mapped[datetime]


class Job(Base):
    """A scheduler or DAG-processor process and its heartbeat."""

    __tablename__ = "job"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_type: Mapped[str] = mapped_column(String(30))
    state: Mapped[str] = mapped_column(String(20))
    hostname: Mapped[str] = mapped_column(String(1000))
    pid: Mapped[int] = mapped_column(Integer)
    start_date: Mapped[datetime]
    end_date: Mapped[datetime | None]
    latest_heartbeat: Mapped[datetime]

    # health check / recovery: the freshest heartbeat per job type
    __table_args__ = (Index(None, "job_type", "state", "latest_heartbeat"),)


class LogEvent(Base):
    """Audit trail of user actions (trigger, clear, mark, pause, connection edits...)."""

    __tablename__ = "log_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dttm: Mapped[datetime]
    event: Mapped[str] = mapped_column(String(60))
    owner: Mapped[str | None] = mapped_column(String(256))
    dag_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    run_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    task_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    map_index: Mapped[int | None] = mapped_column(Integer)
    extra: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index(None, "dag_id", "dttm"),)
