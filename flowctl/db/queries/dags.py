"""DAG rows, their serialized versions, DAG files and import errors."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, aliased

from flowctl.db.models import Dag, DagFile, DagImportError, DagRun, DagTag, SerializedDag
from flowctl.state import RunType


def path_hash(path: str) -> str:
    return hashlib.sha256(path.encode()).hexdigest()


def known_files(session: Session) -> dict[str, tuple[str, list[str]]]:
    """fileloc -> (content hash, local modules it imported) of every DAG file parsed before."""
    rows = session.execute(select(DagFile.fileloc, DagFile.content_hash, DagFile.imported_modules))
    return {fileloc: (digest, modules or []) for fileloc, digest, modules in rows}


def dag_files_by_path(session: Session, paths: Iterable[str]) -> dict[str, DagFile]:
    hashes = [path_hash(p) for p in paths]
    rows = session.scalars(select(DagFile).where(DagFile.fileloc_hash.in_(hashes))) if hashes else []
    return {row.fileloc: row for row in rows}


def upsert_dag_file(
    session: Session,
    path: str,
    *,
    content_hash: str,
    parsed_at: datetime,
    duration: float,
    dag_count: int,
    imported_modules: list[str],
    existing: DagFile | None,
) -> None:
    row = existing
    if row is None:
        row = DagFile(fileloc=path, fileloc_hash=path_hash(path))
        session.add(row)
    row.content_hash, row.last_parsed_at, row.parse_duration, row.dag_count = (
        content_hash,
        parsed_at,
        duration,
        dag_count,
    )
    row.imported_modules = imported_modules or None


def forget_dag_files(session: Session, paths: Iterable[str]) -> None:
    hashes = [path_hash(p) for p in paths]
    if hashes:
        session.execute(delete(DagFile).where(DagFile.fileloc_hash.in_(hashes)))
        session.execute(delete(DagImportError).where(DagImportError.fileloc_hash.in_(hashes)))


def clear_import_errors(session: Session, paths: Iterable[str]) -> None:
    hashes = [path_hash(p) for p in paths]
    if hashes:
        session.execute(delete(DagImportError).where(DagImportError.fileloc_hash.in_(hashes)))


def add_import_error(session: Session, path: str, error: str, *, at: datetime) -> None:
    session.add(DagImportError(filename=path, fileloc_hash=path_hash(path), stack_trace=error, timestamp=at))


def list_import_errors(session: Session) -> list[DagImportError]:
    return list(session.scalars(select(DagImportError).order_by(DagImportError.filename)))


def get_dag(session: Session, dag_id: str) -> Dag | None:
    return session.get(Dag, dag_id)


def dags_by_id(session: Session, dag_ids: Iterable[str]) -> dict[str, Dag]:
    ids = list(dag_ids)
    return {dag.dag_id: dag for dag in session.scalars(select(Dag).where(Dag.dag_id.in_(ids)))} if ids else {}


def dag_ids_in_files(session: Session, paths: Iterable[str]) -> dict[str, str]:
    """dag_id -> fileloc of the non-stale DAGs defined in these files."""
    paths = list(paths)
    if not paths:
        return {}
    rows = session.execute(select(Dag.dag_id, Dag.fileloc).where(Dag.fileloc.in_(paths), Dag.is_stale.is_(False)))
    return {dag_id: fileloc for dag_id, fileloc in rows}


def mark_stale(session: Session, dag_ids: Iterable[str]) -> None:
    ids = list(dag_ids)
    if ids:
        session.execute(update(Dag).where(Dag.dag_id.in_(ids)).values(is_stale=True))


def replace_tags(session: Session, tags: dict[str, Iterable[str]]) -> None:
    """Each listed DAG's tags become exactly the given ones."""
    if tags:
        session.execute(delete(DagTag).where(DagTag.dag_id.in_(list(tags))))
        session.add_all(DagTag(dag_id=d, name=name) for d, names in tags.items() for name in sorted(set(names)))


def version_ids(session: Session, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """(dag_id, content_hash) -> id of the serialized versions that already exist."""
    keys = set(keys)
    dag_ids = {dag_id for dag_id, _ in keys}
    if not dag_ids:
        return {}
    rows = session.execute(
        select(SerializedDag.dag_id, SerializedDag.content_hash, SerializedDag.id).where(
            SerializedDag.dag_id.in_(dag_ids), SerializedDag.content_hash.in_({h for _, h in keys})
        )
    )
    return {(dag_id, digest): id_ for dag_id, digest, id_ in rows if (dag_id, digest) in keys}


def add_version(
    session: Session,
    dag_id: str,
    *,
    content_hash: str,
    data: dict[str, Any],
    source: str | None,
    at: datetime,
) -> SerializedDag:
    """A new serialized version (its id is known after the next flush)."""
    row = SerializedDag(
        dag_id=dag_id,
        content_hash=content_hash,
        data=data,
        source_code=source,
        fileloc=data["fileloc"],
        created_at=at,
    )
    session.add(row)
    return row


def latest_serialized(session: Session, dag_id: str) -> dict[str, Any] | None:
    return session.scalar(
        select(SerializedDag.data).join(Dag, Dag.latest_version_id == SerializedDag.id).where(Dag.dag_id == dag_id)
    )


def last_automated_run_intervals(session: Session, dag_ids: Iterable[str]) -> dict[str, tuple[datetime, datetime]]:
    """For each DAG that has one, the data interval of its latest scheduled or backfill run."""
    dag_ids = list(dag_ids)
    if not dag_ids:
        return {}
    automated = (DagRun.dag_id.in_(dag_ids), DagRun.run_type.in_([RunType.SCHEDULED, RunType.BACKFILL]))
    latest = (
        select(DagRun.dag_id, func.max(DagRun.logical_date).label("latest"))
        .where(*automated)
        .group_by(DagRun.dag_id)
        .subquery()
    )
    rows = session.execute(
        select(DagRun.dag_id, DagRun.data_interval_start, DagRun.data_interval_end).join(
            latest, (DagRun.dag_id == latest.c.dag_id) & (DagRun.logical_date == latest.c.latest)
        )
    )
    return {dag_id: (start, end) for dag_id, start, end in rows if start is not None and end is not None}


def last_automated_run_interval(session: Session, dag_id: str) -> tuple[datetime, datetime] | None:
    """Data interval of the latest scheduled or backfill run, the anchor for the next one."""
    row = session.execute(
        select(DagRun.data_interval_start, DagRun.data_interval_end)
        .where(DagRun.dag_id == dag_id, DagRun.run_type.in_([RunType.SCHEDULED, RunType.BACKFILL]))
        .order_by(DagRun.logical_date.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row and row[0] is not None and row[1] is not None else None


def list_dags(session: Session, *, include_stale: bool = False) -> list[Dag]:
    query = select(Dag).order_by(Dag.dag_id)
    if not include_stale:
        query = query.where(Dag.is_stale.is_(False))
    return list(session.scalars(query))


def tags_by_dag(session: Session) -> dict[str, list[str]]:
    tags: dict[str, list[str]] = {}
    for dag_id, name in session.execute(select(DagTag.dag_id, DagTag.name).order_by(DagTag.name)):
        tags.setdefault(dag_id, []).append(name)
    return tags


def count_dags(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Dag)) or 0


def version_data(session: Session, version_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """version id -> serialized DAG data, for the versions that exist."""
    ids = list(set(version_ids))
    if not ids:
        return {}
    rows = session.execute(select(SerializedDag.id, SerializedDag.data).where(SerializedDag.id.in_(ids)))
    return {version_id: data for version_id, data in rows}


def version_keys(session: Session, version_ids: Iterable[int]) -> dict[int, tuple[str, int]]:
    """version id -> (content hash, number), for the versions that exist. The number counts the DAG's
    stored versions up to this one (1 for its oldest): ids are shared by every DAG, so they do not."""
    ids = list(set(version_ids))
    if not ids:
        return {}
    older = aliased(SerializedDag)
    rows = session.execute(
        select(SerializedDag.id, SerializedDag.content_hash, func.count(older.id))
        .join(older, (older.dag_id == SerializedDag.dag_id) & (older.id <= SerializedDag.id))
        .where(SerializedDag.id.in_(ids))
        .group_by(SerializedDag.id, SerializedDag.content_hash)
    )
    return {version_id: (digest, number) for version_id, digest, number in rows}


def version_source(session: Session, version_id: int) -> tuple[str, str | None] | None:
    """(fileloc, source code) of the DAG file as it was when this version was stored."""
    row = session.execute(
        select(SerializedDag.fileloc, SerializedDag.source_code).where(SerializedDag.id == version_id)
    ).first()
    return (row[0], row[1]) if row else None
