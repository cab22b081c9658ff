"""What the run and task instance pages show, read from the metadata DB: the DAG version a run used, XComs
(every known secret masked) and rendered fields as text for the templates to escape (why a task instance
waits is flowctl.services.waiting). The views pass the session and the time."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from flowctl.db.models import Dag, DagRun, TaskInstance
from flowctl.db.queries import run_details
from flowctl.db.queries import task_instances as ti_queries
from flowctl.db.queries.dags import get_dag
from flowctl.db.queries.runs import get_run
from flowctl.exceptions import FlowctlError, InvalidInput, NotFound
from flowctl.logs import SecretMasker, check_path_id
from flowctl.serialization import DagSpec
from flowctl.xcom_codec import decode_xcom

XCOM_SHOWN_BYTES = 64 * 1024  # a larger value is shown cut, from its first bytes
XCOM_KEYS_SHOWN = 200
MAX_DB_INT = 2**31 - 1


@dataclass(frozen=True, slots=True)
class RunVersion:
    """The stored DAG version a run was made with (its structure, or why it cannot be read)."""

    id: int
    number: int | None  # among the DAG's versions (see dag_versions.version_number)
    content_hash: str
    spec: DagSpec | None
    error: str | None
    is_latest: bool


@dataclass(frozen=True, slots=True)
class XComEntry:
    key: str
    text: str  # pretty JSON, or the start of a value too large to show whole
    size: int
    truncated: bool
    created_at: datetime


def load_run(session: Session, dag_id: str, run_id: str) -> tuple[Dag, DagRun]:
    """A DAG and one of its runs; their ids are checked as log path parts first (400), unknown ones are 404."""
    check_path_id("dag_id", dag_id)
    check_path_id("run_id", run_id)
    dag = get_dag(session, dag_id)
    if dag is None:
        raise NotFound(f"no DAG {dag_id!r}")
    run = get_run(session, dag_id, run_id)
    if run is None:
        raise NotFound(f"DAG {dag_id!r} has no run {run_id!r}")
    return dag, run


def require_ti(session: Session, run: DagRun, task_id: str, map_index: int) -> TaskInstance:
    check_path_id("task_id", task_id)
    ti = ti_queries.get(session, run.dag_id, run.run_id, task_id, map_index)
    if ti is None:
        where = "" if map_index < 0 else f" with map index {map_index}"
        raise NotFound(f"run {run.run_id!r} has no task instance {task_id!r}{where}")
    return ti


def run_version(session: Session, run: DagRun, dag: Dag) -> RunVersion | None:
    """The run's version through the app's version cache (deserialized once per content); None if gone."""
    from flowctl.web.dag_versions import load_versions, version_number

    version_id = run.dag_version_id
    if version_id is None:
        return None
    is_latest = version_id == dag.latest_version_id
    try:
        version = load_versions(session, [version_id]).get(version_id)
    except FlowctlError as exc:  # stored data this flowctl cannot read: the page still shows the rest
        return RunVersion(version_id, version_number(session, version_id), "", None, str(exc), is_latest)
    if version is None:
        return None
    return RunVersion(version.id, version.number, version.content_hash, version.spec, None, is_latest)


def parse_int(name: str, raw: str | None, *, minimum: int, maximum: int = MAX_DB_INT) -> int | None:
    """A query or form integer (None when absent); InvalidInput (400) for anything but plain ASCII digits
    within [minimum, maximum] (by default what an INTEGER column holds on every backend)."""
    if raw is None or raw == "":
        return None
    text = raw.strip()
    digits = text[1:] if text.startswith("-") else text
    if not digits.isascii() or not digits.isdigit() or len(digits) > 20:
        raise InvalidInput(f"{name} must be an integer, got {raw[:40]!r}")
    value = int(text)
    if not minimum <= value <= maximum:
        raise InvalidInput(f"{name} must be between {minimum} and {maximum}, got {value}")
    return value


def ti_duration(ti: Any, now: datetime) -> float | None:
    """The stored duration, else end - start, else (still running) now - start."""
    if ti.duration is not None:
        return ti.duration
    if ti.start_date is None:
        return None
    return max(((ti.end_date or now) - ti.start_date).total_seconds(), 0.0)


def host_and_pid(ti: Any) -> str:
    return f"{ti.hostname or '-'}{f' / {ti.pid}' if ti.pid else ''}"


def xcom_entries(session: Session, ti_id: int, *, masker: Callable[[], SecretMasker]) -> list[XComEntry]:
    """A task instance's XComs with every known secret masked in their values (stored in clear for the
    tasks downstream); `masker` is only called when there is a value to show."""
    entries = []
    for key, size, head, created_at in run_details.xcoms(
        session, ti_id, limit=XCOM_KEYS_SHOWN, max_bytes=XCOM_SHOWN_BYTES
    ):
        data = bytes(head or b"")
        size = int(size or 0)
        if size > len(data):
            text, truncated = masker().mask_cut(data.decode("utf-8", errors="replace")), True
        else:
            text, truncated = _decoded_xcom(data, masker()), False
        entries.append(XComEntry(key, text, size, truncated, created_at))
    return entries


def _decoded_xcom(data: bytes, masker: SecretMasker) -> str:
    try:
        value = decode_xcom(data)
    except (ValueError, TypeError, KeyError, UnicodeDecodeError):
        return masker.mask(data.decode("utf-8", errors="replace"))
    # and the text once more: an object shown by its repr() may hold a secret mask_value cannot reach
    return masker.mask(pretty_json(masker.mask_value(value)))


def pretty_json(value: Any) -> str:
    """JSON for people: indented, with datetimes, sets and other objects as text."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=_plain, sort_keys=False)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    return repr(value)


def rendered_entries(fields: Any) -> list[tuple[str, str]]:
    """(field, text) of a try's rendered template fields: strings as they are, the rest as JSON."""
    if not isinstance(fields, dict):
        return []
    return [(str(name), value if isinstance(value, str) else pretty_json(value)) for name, value in fields.items()]
