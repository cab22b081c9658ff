"""The DAG processor: find DAG files, parse those whose content changed, store what they define.

`refresh` is one pass (used by `dags reserialize`, by commands that list DAGs, and by the scheduler);
`FolderWatch` tells cheaply, from file names, sizes and mtimes, whether a pass is needed at all.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from flowctl.config import Settings
from flowctl.dag_definition import DAG, DagDefaults
from flowctl.db.engine import session_scope
from flowctl.db.queries import dags as queries
from flowctl.exceptions import DagDefinitionError, FlowctlError
from flowctl.parsing.importer import file_version, load_dag
from flowctl.parsing.processes import FileToParse, ParseLimits, parse_in_children
from flowctl.parsing.sync import SyncSummary, forget_files, store_results

# A file is a DAG file candidate only if it mentions DAGs at all (as Airflow's safe mode does),
# so helper modules and libraries in the folder are not executed.
_MARKERS = (b"dag", b"DAG", b"Dag")


def defaults_from(settings: Settings) -> DagDefaults:
    return DagDefaults(
        catchup=settings.scheduler.catchup_by_default,
        max_active_runs=settings.core.max_active_runs_per_dag,
        max_active_tasks=settings.core.max_active_tasks_per_dag,
        timezone="UTC" if settings.core.default_timezone.lower() == "utc" else settings.core.default_timezone,
        is_paused_upon_creation=settings.core.dags_are_paused_at_creation,
    )


def limits_from(settings: Settings) -> ParseLimits:
    return ParseLimits(
        timeout=settings.core.dagbag_import_timeout,
        processes=settings.scheduler.parsing_processes,
        memory_limit_mb=settings.scheduler.parsing_memory_limit_mb,
    )


def example_dags_folder() -> Path:
    return Path(str(files("flowctl.example_dags")))


def dag_folders(settings: Settings, *, load_examples: bool | None = None) -> list[Path]:
    folders = [settings.core.dags_folder]
    if settings.core.load_examples if load_examples is None else load_examples:
        folders.append(example_dags_folder())
    return folders


def list_dag_files(folders: Iterable[Path]) -> list[Path]:
    """Python files under the folders, skipping hidden entries and __pycache__, sorted."""
    found: list[Path] = []
    visited: set[tuple[int, int]] = set()  # (device, inode): a symlink loop is walked once
    for folder in folders:
        if not folder.is_dir():
            continue
        for root, dirs, names in os.walk(folder, followlinks=True):
            stat = os.stat(root)
            if (stat.st_dev, stat.st_ino) in visited:
                dirs[:] = []
                continue
            visited.add((stat.st_dev, stat.st_ino))
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__pycache__")))
            found += [Path(root, n) for n in sorted(names) if n.endswith(".py") and not n.startswith(".")]
    return found


def put_on_import_path(folders: Iterable[Path]) -> None:
    """DAG files may import modules that sit next to them, as in Airflow: the folders go on sys.path."""
    for folder in folders:
        if str(folder) not in sys.path:
            sys.path.append(str(folder))


def import_dag(settings: Settings, fileloc: str, dag_id: str) -> DAG:
    """Import one DAG from its file in this process, as the processor sees it (dags folders on sys.path,
    configured defaults). Whatever the file raises becomes a one-line DagDefinitionError."""
    put_on_import_path(dag_folders(settings))
    try:
        return load_dag(fileloc, dag_id, defaults_from(settings))
    except FlowctlError:
        raise
    except Exception as exc:
        raise DagDefinitionError(f"cannot import {fileloc}: {type(exc).__name__}: {exc}") from None


@dataclass(frozen=True, slots=True)
class RefreshResult:
    summary: SyncSummary
    files_seen: int
    files_parsed: int
    forgotten_stale: list[str]


def refresh(
    settings: Settings,
    factory: sessionmaker[Session],
    *,
    now: datetime,
    force: bool = False,
    load_examples: bool | None = None,
    prune_unscanned: bool = False,
    only: list[str] | None = None,
    reader: sessionmaker[Session] | None = None,
) -> RefreshResult:
    """Parse new and changed DAG files (all of them with `force`) and store the results.

    Files that disappeared from the scanned folders are forgotten (their DAGs go stale). Files known from
    folders not scanned this time (the examples of a `standalone` run, an old dags_folder) are forgotten
    only with `prune_unscanned` — the scheduler's pass, which decides what is scheduled. With `only`,
    just those files are looked at. `reader`: sessions for the first look (on SQLite, ones that do not take
    the write lock), when `factory` makes writers."""
    folders = dag_folders(settings, load_examples=load_examples)
    put_on_import_path(folders)
    paths = list_dag_files(folders)
    with (reader or factory)() as session:
        known = queries.known_files(session)
    if only is not None:  # one DAG's file: the rest of the folder is neither parsed nor forgotten
        paths = [p for p in paths if str(p) in only]
        known = {p: version for p, version in known.items() if p in only}
    to_parse: list[FileToParse] = []
    for path in paths:
        try:
            content = path.read_bytes()
        except OSError:
            continue  # vanished while listing; the next pass forgets it
        if not any(marker in content for marker in _MARKERS):
            continue
        digest, modules = known.get(str(path), ("", []))
        if force or digest != file_version(content, modules):
            to_parse.append(FileToParse(str(path), content))
    results = (
        parse_in_children(to_parse, defaults_from(settings), limits_from(settings), folders=folders) if to_parse else []
    )
    present = {str(p) for p in paths}
    gone = [p for p in known if p not in present and (prune_unscanned or _inside(p, folders))]
    if not results and not gone:  # nothing changed: no write transaction (on SQLite it waits for the lock)
        return RefreshResult(SyncSummary(), files_seen=len(paths), files_parsed=0, forgotten_stale=[])
    with session_scope(factory) as session:
        # Forget deleted files first, so a DAG that moved to another file is not taken for a duplicate.
        stale = forget_files(session, gone)
        summary = store_results(session, results, now=now)
    return RefreshResult(summary, files_seen=len(paths), files_parsed=len(to_parse), forgotten_stale=stale)


def _inside(path: str, folders: list[Path]) -> bool:
    return any(Path(path).is_relative_to(folder) for folder in folders)


class FolderWatch:
    """Notices added, removed and modified files by stat alone (no reads), for a cheap 1 s poll."""

    def __init__(self, folders: list[Path]) -> None:
        self.folders = folders
        self._snapshot: dict[str, tuple[int, int]] = {}

    def changed(self) -> bool:
        snapshot = {}
        for path in list_dag_files(self.folders):
            try:
                stat = path.stat()
            except OSError:
                continue
            snapshot[str(path)] = (stat.st_mtime_ns, stat.st_size)
        changed = snapshot != self._snapshot
        self._snapshot = snapshot
        return changed
