"""DAG versions as the pages read them: a run's serialized DAG, deserialized once per content (a version
never changes), with each task's task groups and room for drawings made from it (the graph's layout is
computed once per version, not per request).

Cached per app by content hash, not by version id: ids of a deleted DAG's versions may come back.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from flowctl.serialization import DagSpec, deserialize_dag

EXTENSION = "flowctl_dag_versions"
MAX_CACHED_TASKS = 20_000  # tasks over all cached versions: bounds the webserver's memory


@dataclass(frozen=True)
class DagVersion:
    id: int
    number: int  # among its DAG's stored versions, 1 for the first: what the pages call it
    content_hash: str
    spec: DagSpec
    groups: dict[str, tuple[str, ...]]  # task_id -> its task groups, outermost first
    drawings: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_data(cls, version_id: int, number: int, content_hash: str, data: dict[str, Any]) -> DagVersion:
        spec = deserialize_dag(data)
        groups: dict[str, tuple[str, ...]] = {}
        _collect_groups(spec.task_group, (), groups)
        return cls(version_id, number, content_hash, spec, groups)

    def drawing(self, name: str, make: Any) -> Any:
        """The drawing `name` of this version, made by `make()` the first time it is asked for."""
        if name not in self.drawings:
            self.drawings[name] = make()
        return self.drawings[name]


def _collect_groups(group: dict[str, Any], path: tuple[str, ...], into: dict[str, tuple[str, ...]]) -> None:
    inner = (*path, group["group_id"]) if group.get("group_id") else path
    for child in group.get("children", ()):
        if isinstance(child, dict):
            _collect_groups(child, inner, into)
        elif inner:
            into[child] = inner


class VersionCache:
    """Versions by content hash, least recently used dropped first past MAX_CACHED_TASKS tasks."""

    def __init__(self, max_tasks: int = MAX_CACHED_TASKS) -> None:
        self.max_tasks = max_tasks
        self._versions: OrderedDict[str, DagVersion] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, content_hash: str) -> DagVersion | None:
        with self._lock:
            version = self._versions.get(content_hash)
            if version is not None:
                self._versions.move_to_end(content_hash)
            return version

    def put(self, version: DagVersion) -> None:
        with self._lock:
            self._versions[version.content_hash] = version
            self._versions.move_to_end(version.content_hash)
            while len(self._versions) > 1 and self._tasks() > self.max_tasks:
                self._versions.popitem(last=False)

    def _tasks(self) -> int:
        return sum(len(version.spec.tasks) for version in self._versions.values())


def _cache() -> VersionCache:
    return current_app.extensions.setdefault(EXTENSION, VersionCache())


def load_versions(session: Session, version_ids: Iterable[int | None]) -> dict[int, DagVersion]:
    """The versions with these ids that exist: one query, plus one for those not cached yet."""
    from flowctl.db.queries.dags import version_data, version_keys

    cache = _cache()
    keys = version_keys(session, {i for i in version_ids if i is not None})
    found, missing = {}, []
    for version_id, (digest, number) in keys.items():
        cached = cache.get(digest)
        if cached is None:
            missing.append(version_id)
        elif (cached.id, cached.number) == (version_id, number):
            found[version_id] = cached
        else:  # the same content under another id (a DAG deleted and parsed again) draws the same
            found[version_id] = DagVersion(version_id, number, digest, *_parts(cached))
    for version_id, data in version_data(session, missing).items():
        found[version_id] = DagVersion.from_data(version_id, keys[version_id][1], keys[version_id][0], data)
        cache.put(found[version_id])
    return found


def version_number(session: Session, version_id: int | None) -> int | None:
    """What the pages call a version: 1 for a DAG's first stored version, 2 for the next, ..."""
    from flowctl.db.queries.dags import version_keys

    key = version_keys(session, [version_id]).get(version_id) if version_id is not None else None
    return key[1] if key else None


def _parts(version: DagVersion) -> tuple[DagSpec, dict[str, tuple[str, ...]], dict[str, Any]]:
    return version.spec, version.groups, version.drawings
