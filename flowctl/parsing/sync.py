"""Writing parse results to the metadata DB: DAG rows, new serialized versions, import errors, stale DAGs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from flowctl.db.models import Dag
from flowctl.db.queries import dags as queries
from flowctl.parsing.importer import FileParseResult
from flowctl.schedule import DataInterval, next_dagrun_info
from flowctl.serialization import content_hash, deserialize_dag


@dataclass(slots=True)
class SyncSummary:
    parsed_files: int = 0
    dags: int = 0
    new_versions: int = 0
    import_errors: int = 0
    stale_dags: list[str] = field(default_factory=list)


def store_results(session: Session, results: Iterable[FileParseResult], *, now: datetime) -> SyncSummary:
    """Record each file's outcome. A file that fails keeps its DAGs' last good version (still scheduled);
    DAGs a file no longer defines become stale."""
    summary = SyncSummary()
    for result in results:
        summary.parsed_files += 1
        error = result.error or _duplicate_id_error(session, result)
        queries.replace_import_error(session, result.path, error, at=now)
        queries.upsert_dag_file(
            session,
            result.path,
            content_hash=result.content_hash,
            parsed_at=now,
            duration=result.duration,
            dag_count=0 if error else len(result.dags),
        )
        if error:
            summary.import_errors += 1
            continue
        defined = {data["dag_id"] for data in result.dags}
        gone = set(queries.dag_ids_in_files(session, [result.path])) - defined
        queries.mark_stale(session, gone)
        summary.stale_dags += sorted(gone)
        for data in result.dags:
            summary.new_versions += _store_dag(session, data, result.source_code, now=now)
            summary.dags += 1
    return summary


def forget_files(session: Session, paths: Iterable[str]) -> list[str]:
    """Files that no longer exist: their DAGs become stale (history kept), their errors go."""
    paths = list(paths)
    stale = sorted(queries.dag_ids_in_files(session, paths))
    queries.mark_stale(session, stale)
    queries.forget_dag_files(session, paths)
    return stale


def _duplicate_id_error(session: Session, result: FileParseResult) -> str | None:
    """A DAG id another live file already defines is an import error of this file."""
    existing = queries.dags_by_id(session, [data["dag_id"] for data in result.dags])
    for dag_id, dag in existing.items():
        if not dag.is_stale and dag.fileloc != result.path:
            return f"DuplicateDagIdError: DAG {dag_id!r} is already defined in {dag.fileloc}"
    return None


def _store_dag(session: Session, data: dict, source: str | None, *, now: datetime) -> int:
    """Upsert the DAG row and add a version if the structure changed; returns 1 for a new version."""
    spec = deserialize_dag(data)
    dag = queries.get_dag(session, spec.dag_id)
    if dag is None:
        dag = Dag(dag_id=spec.dag_id, is_paused=spec.is_paused_upon_creation)
        session.add(dag)
    dag.fileloc = spec.fileloc
    dag.is_stale = False
    dag.owners = ", ".join(spec.owners)
    dag.description = spec.description
    dag.schedule = spec.schedule
    dag.timezone = spec.timezone
    dag.max_active_runs = spec.max_active_runs
    dag.max_active_tasks = spec.max_active_tasks
    dag.last_parsed_at = now
    queries.set_tags(session, spec.dag_id, spec.tags)
    digest = content_hash(data)
    version = queries.version_id(session, spec.dag_id, digest)
    created = version is None
    if version is None:
        session.flush()  # the dag row must exist before its version refers to it
        version = queries.add_version(
            session, spec.dag_id, content_hash=digest, data=data, source=source, at=now
        )
    dag.latest_version_id = version
    last = queries.last_automated_run_interval(session, spec.dag_id)
    upcoming = next_dagrun_info(
        spec.timetable,
        last=_interval(last),
        start_date=spec.start_date,
        end_date=spec.end_date,
        catchup=spec.catchup,
        now=now,
    )
    dag.next_dagrun = upcoming.start if upcoming else None
    dag.next_dagrun_data_interval_start = upcoming.start if upcoming else None
    dag.next_dagrun_data_interval_end = upcoming.end if upcoming else None
    dag.next_dagrun_create_after = upcoming.end if upcoming else None
    return int(created)


def _interval(bounds: tuple[datetime, datetime] | None) -> DataInterval | None:
    return DataInterval(*bounds) if bounds else None
