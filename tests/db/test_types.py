"""Column types behave the same on every backend: UTC datetimes, JSON, long values, case-sensitive ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pendulum
import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from flowctl.db.engine import session_scope
from flowctl.db.models import Dag, DagRun, SerializedDag, TaskInstance, XCom


def _add_dag(session: Session, dag_id: str = "example") -> Dag:
    dag = Dag(dag_id=dag_id, fileloc="/dags/example.py", max_active_runs=16, max_active_tasks=16)
    session.add(dag)
    return dag


def _add_run(session: Session, *, logical_date: datetime | None = None, **fields: object) -> DagRun:
    """A dag `example` with one manual run `r1` (and the DAG row when it is missing)."""
    if session.get(Dag, "example") is None:
        _add_dag(session)
        session.flush()
    run = DagRun(
        dag_id="example",
        run_id="r1",
        run_type="manual",
        state="queued",
        logical_date=logical_date or datetime.now(UTC),
        **fields,
    )
    session.add(run)
    session.flush()
    return run


def test_datetimes_come_back_utc_aware_with_microseconds(session_factory: sessionmaker[Session]) -> None:
    seoul = pendulum.datetime(2024, 3, 10, 2, 0, 0, tz="Asia/Seoul").add(microseconds=123456)
    with session_scope(session_factory) as session:
        _add_run(session, logical_date=seoul)

    with session_scope(session_factory) as session:
        logical_date = session.scalar(select(DagRun.logical_date))

    assert logical_date == datetime(2024, 3, 9, 17, 0, 0, 123456, tzinfo=UTC)
    assert logical_date.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(StatementError, match="naive datetime"), session_scope(session_factory) as session:
        _add_run(session, logical_date=datetime(2024, 1, 1))


def test_datetimes_compare_across_offsets_in_queries(session_factory: sessionmaker[Session]) -> None:
    plus_nine = timezone(timedelta(hours=9))
    with session_scope(session_factory) as session:
        _add_run(session, logical_date=datetime(2024, 1, 1, 9, 0, tzinfo=plus_nine))

    with session_scope(session_factory) as session:
        found = session.scalar(
            select(DagRun.run_id).where(DagRun.logical_date == datetime(2024, 1, 1, 0, 0, tzinfo=UTC))
        )

    assert found == "r1"


def test_json_and_large_values_round_trip(session_factory: sessionmaker[Session]) -> None:
    big = {"tasks": [{"task_id": f"t{i}", "doc": "x" * 100} for i in range(2000)], "unicode": "한국어 ✓"}
    blob = b"\x00\xff" * 100_000
    with session_scope(session_factory) as session:
        _add_dag(session)
        session.flush()
        session.add(
            SerializedDag(dag_id="example", content_hash="h", data=big, fileloc="/x", created_at=datetime.now(UTC))
        )
        _add_run(session, conf={"a": [1, 2]})
        ti = TaskInstance(dag_id="example", run_id="r1", task_id="t")
        session.add(ti)
        session.flush()
        session.add(XCom(task_instance_id=ti.id, key="return_value", value=blob, created_at=datetime.now(UTC)))

    with session_scope(session_factory) as session:
        assert session.scalar(select(SerializedDag.data)) == big
        assert session.scalar(select(DagRun.conf)) == {"a": [1, 2]}
        assert session.scalar(select(XCom.value)) == blob
        assert session.scalar(select(TaskInstance.state)) == "none"
        assert session.scalar(select(TaskInstance.map_index)) == -1


def test_ids_are_case_sensitive(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        _add_dag(session, "Report")
        _add_dag(session, "report")

    with session_scope(session_factory) as session:
        assert sorted(session.scalars(select(Dag.dag_id))) == ["Report", "report"]


def test_task_instance_key_is_unique(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        _add_run(session)
        session.add(TaskInstance(dag_id="example", run_id="r1", task_id="t"))

    with pytest.raises(IntegrityError), session_scope(session_factory) as session:
        session.add(TaskInstance(dag_id="example", run_id="r1", task_id="t"))


def test_deleting_a_dag_cascades_to_runs_and_task_instances(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        _add_run(session)
        session.add(TaskInstance(dag_id="example", run_id="r1", task_id="t"))

    with session_scope(session_factory) as session:
        session.execute(Dag.__table__.delete())

    with session_scope(session_factory) as session:
        assert session.scalar(select(DagRun.id)) is None
        assert session.scalar(select(TaskInstance.id)) is None


def test_session_scope_rolls_back_on_error(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(RuntimeError), session_scope(session_factory) as session:
        _add_dag(session)
        session.flush()
        raise RuntimeError("boom")

    with session_scope(session_factory) as session:
        assert session.scalar(select(Dag.dag_id)) is None
