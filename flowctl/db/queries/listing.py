"""Paged, filtered and ordered lists for the REST API: each returns (one page of rows, total before paging).

Orderings are named (the API's `order_by`, `-` first for descending); every list breaks ties on a unique
key so that pages never overlap or skip rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from flowctl.db.models import (
    Connection,
    Dag,
    DagImportError,
    DagRun,
    DagTag,
    TaskInstance,
    TaskInstanceTry,
    Variable,
    XCom,
)
from flowctl.exceptions import InvalidInput


@dataclass(frozen=True, slots=True)
class Page:
    limit: int
    offset: int = 0
    order_by: str | None = None  # a sort key of the list; `-key` for descending


@dataclass(frozen=True, slots=True)
class Between:
    """An inclusive range; a missing end is open."""

    low: datetime | float | None = None
    high: datetime | float | None = None


DAG_ORDER = {
    "dag_id": Dag.dag_id,
    "fileloc": Dag.fileloc,
    "is_paused": Dag.is_paused,
    "last_parsed_time": Dag.last_parsed_at,
    "next_dagrun": Dag.next_dagrun,
}
RUN_ORDER = {
    "id": DagRun.id,
    "dag_id": DagRun.dag_id,
    "dag_run_id": DagRun.run_id,
    "run_id": DagRun.run_id,
    "state": DagRun.state,
    "run_type": DagRun.run_type,
    "execution_date": DagRun.logical_date,
    "logical_date": DagRun.logical_date,
    "start_date": DagRun.start_date,
    "end_date": DagRun.end_date,
    "updated_at": DagRun.updated_at,
    "external_trigger": DagRun.external_trigger,
}
IMPORT_ERROR_ORDER = {
    "import_error_id": DagImportError.id,
    "id": DagImportError.id,
    "timestamp": DagImportError.timestamp,
    "filename": DagImportError.filename,
}
CONNECTION_ORDER = {
    "connection_id": Connection.conn_id,
    "id": Connection.id,
    "conn_type": Connection.conn_type,
    "description": Connection.description,
    "host": Connection.host,
    "port": Connection.port,
}
VARIABLE_ORDER = {"key": Variable.key, "id": Variable.id, "description": Variable.description}


def page_dags(
    session: Session,
    page: Page,
    *,
    tags: Sequence[str] = (),
    paused: bool | None = None,
    only_active: bool = True,
    dag_id_pattern: str | None = None,
) -> tuple[list[Dag], int]:
    """DAGs, by default without the stale ones; `tags` keeps those with any of them, `dag_id_pattern` is a
    case-insensitive substring of the id."""
    query = select(Dag)
    if only_active:
        query = query.where(Dag.is_stale.is_(False))
    if paused is not None:
        query = query.where(Dag.is_paused.is_(paused))
    if tags:
        query = query.where(Dag.dag_id.in_(select(DagTag.dag_id).where(DagTag.name.in_(list(tags)))))
    if dag_id_pattern:
        query = query.where(func.lower(Dag.dag_id).contains(dag_id_pattern.lower(), autoescape=True))
    return _fetch(session, query, page, _order(page, DAG_ORDER, "dag_id", Dag.dag_id))


def tags_of(session: Session, dag_ids: Iterable[str]) -> dict[str, list[str]]:
    """dag_id -> its tags, sorted, for these DAGs."""
    ids = list(dag_ids)
    tags: dict[str, list[str]] = {dag_id: [] for dag_id in ids}
    if ids:
        rows = session.execute(select(DagTag.dag_id, DagTag.name).where(DagTag.dag_id.in_(ids)).order_by(DagTag.name))
        for dag_id, name in rows:
            tags[dag_id].append(name)
    return tags


def files_with_import_errors(session: Session, filelocs: Iterable[str]) -> set[str]:
    from flowctl.db.queries.dags import path_hash

    hashes = {path_hash(fileloc): fileloc for fileloc in filelocs}
    if not hashes:
        return set()
    found = session.scalars(select(DagImportError.fileloc_hash).where(DagImportError.fileloc_hash.in_(list(hashes))))
    return {hashes[digest] for digest in found}


def page_runs(
    session: Session,
    page: Page,
    *,
    dag_id: str | None,
    states: Sequence[str] = (),
    dates: Mapping[str, Between] | None = None,
) -> tuple[list[DagRun], int]:
    """Runs of one DAG (or of all with `dag_id` None); `dates` maps logical_date, start_date, end_date and
    updated_at to the range they must fall in."""
    query = select(DagRun)
    if dag_id is not None:
        query = query.where(DagRun.dag_id == dag_id)
    if states:
        query = query.where(DagRun.state.in_(list(states)))
    columns = {
        "logical_date": DagRun.logical_date,
        "start_date": DagRun.start_date,
        "end_date": DagRun.end_date,
        "updated_at": DagRun.updated_at,
    }
    query = _within(query, columns, dates or {})
    return _fetch(session, query, page, _order(page, RUN_ORDER, "id", DagRun.id))


def page_task_instances(
    session: Session,
    page: Page,
    *,
    dag_id: str | None,
    run_id: str | None,
    states: Sequence[str] = (),
    pools: Sequence[str] = (),
    queues: Sequence[str] = (),
    ranges: Mapping[str, Between] | None = None,
) -> tuple[list[tuple[TaskInstance, datetime]], int]:
    """(task instance, its run's logical date) rows, in run and task order; `ranges` maps logical_date,
    start_date, end_date, updated_at and duration to the range they must fall in."""
    query = select(TaskInstance, DagRun.logical_date).join(
        DagRun, (DagRun.dag_id == TaskInstance.dag_id) & (DagRun.run_id == TaskInstance.run_id)
    )
    if dag_id is not None:
        query = query.where(TaskInstance.dag_id == dag_id)
    if run_id is not None:
        query = query.where(TaskInstance.run_id == run_id)
    for column, values in ((TaskInstance.state, states), (TaskInstance.pool, pools), (TaskInstance.queue, queues)):
        if values:
            query = query.where(column.in_(list(values)))
    columns = {
        "logical_date": DagRun.logical_date,
        "start_date": TaskInstance.start_date,
        "end_date": TaskInstance.end_date,
        "updated_at": TaskInstance.updated_at,
        "duration": TaskInstance.duration,
    }
    query = _within(query, columns, ranges or {})
    order = [
        DagRun.logical_date,
        TaskInstance.dag_id,
        TaskInstance.run_id,
        TaskInstance.task_id,
        TaskInstance.map_index,
    ]
    rows, total = _fetch_rows(session, query, page, order)
    return [(row[0], row[1]) for row in rows], total


def try_rendered_fields(session: Session, ti_tries: Iterable[tuple[int, int]]) -> dict[tuple[int, int], Any]:
    """(task instance id, try number) -> that try's rendered template fields, in one query."""
    wanted = set(ti_tries)
    if not wanted:
        return {}
    rows = session.execute(
        select(TaskInstanceTry.task_instance_id, TaskInstanceTry.try_number, TaskInstanceTry.rendered_fields).where(
            TaskInstanceTry.task_instance_id.in_({ti_id for ti_id, _ in wanted}),
            TaskInstanceTry.try_number.in_({number for _, number in wanted}),
        )
    )
    return {(ti_id, number): fields for ti_id, number, fields in rows if (ti_id, number) in wanted}


def page_import_errors(session: Session, page: Page) -> tuple[list[DagImportError], int]:
    return _fetch(session, select(DagImportError), page, _order(page, IMPORT_ERROR_ORDER, "id", DagImportError.id))


def page_connections(session: Session, page: Page) -> tuple[list[Connection], int]:
    """Connection rows as stored (password and extra stay encrypted; lists do not show them)."""
    return _fetch(session, select(Connection), page, _order(page, CONNECTION_ORDER, "connection_id", Connection.id))


def page_variables(session: Session, page: Page) -> tuple[list[tuple[str, str | None]], int]:
    """(key, description) of a page of variables: values stay encrypted and unread."""
    query = select(Variable.key, Variable.description)
    rows, total = _fetch_rows(session, query, page, _order(page, VARIABLE_ORDER, "key", Variable.id))
    return [(key, description) for key, description in rows], total


def page_xcoms(
    session: Session,
    page: Page,
    *,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int | None = None,
    key: str | None = None,
) -> tuple[list[tuple[XCom, int]], int]:
    """(XCom without its value loaded, map index) of a task's instances in a run, by map index and key."""
    from sqlalchemy.orm import defer

    query = (
        select(XCom, TaskInstance.map_index)
        .join(TaskInstance, TaskInstance.id == XCom.task_instance_id)
        .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id, TaskInstance.task_id == task_id)
        .options(defer(XCom.value))
    )
    if map_index is not None:
        query = query.where(TaskInstance.map_index == map_index)
    if key is not None:
        query = query.where(XCom.key == key)
    rows, total = _fetch_rows(session, query, page, [TaskInstance.map_index, XCom.key])
    return [(row[0], row[1]) for row in rows], total


def scheduled_pool_slots(session: Session) -> dict[str, int]:
    """pool -> slots held by scheduled task instances (ready, waiting for a free slot)."""
    from flowctl.state import TaskState

    rows = session.execute(
        select(TaskInstance.pool, func.sum(TaskInstance.pool_slots))
        .where(TaskInstance.state == TaskState.SCHEDULED)
        .group_by(TaskInstance.pool)
    )
    return {pool: int(slots or 0) for pool, slots in rows}


def _within(query: Select[Any], columns: Mapping[str, Any], ranges: Mapping[str, Between]) -> Select[Any]:
    for name, between in ranges.items():
        column = columns[name]
        if between.low is not None:
            query = query.where(column >= between.low)
        if between.high is not None:
            query = query.where(column <= between.high)
    return query


def _order(
    page: Page, keys: Mapping[str, Any], default: str, unique: ColumnElement[Any] | Any
) -> list[ColumnElement[Any]]:
    name = page.order_by or default
    column = keys.get(name.removeprefix("-"))
    if column is None:
        raise InvalidInput(
            f"cannot order by {name!r}: expected one of {', '.join(sorted(keys))} (prefix - for descending)"
        )
    return [column.desc() if name.startswith("-") else column.asc(), unique]


def _fetch(session: Session, query: Select[Any], page: Page, order: list[Any]) -> tuple[list[Any], int]:
    rows, total = _fetch_rows(session, query, page, order)
    return [row[0] for row in rows], total


def _fetch_rows(session: Session, query: Select[Any], page: Page, order: list[Any]) -> tuple[list[Any], int]:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = session.execute(query.order_by(*order).limit(page.limit).offset(page.offset))
    return list(rows), total
