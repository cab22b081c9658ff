"""Importing one DAG file: collect the DAGs it creates, apply configured defaults, validate, serialize.

This is the only code that executes DAG files' top level. The processor calls `parse_file` in a child
process (with a timeout and a memory limit); `load_dags` imports in this process, for commands like
`tasks render` and for the task runtime.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import time
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowctl.dag_definition import DAG, DagDefaults, _Contexts
from flowctl.exceptions import DagDefinitionError, FlowctlError


@dataclass(slots=True)
class FileParseResult:
    """What one file gave: serialized DAGs, or the error that stops all of them."""

    path: str
    content_hash: str
    duration: float = 0.0
    dags: list[dict[str, Any]] = field(default_factory=list)
    source_code: str | None = None
    error: str | None = None
    imported_modules: list[str] = field(default_factory=list)  # from the dags folders (see local_imports)


DAG_MODULE_PREFIX = "flowctl_dag_"


def module_name_for(path: str) -> str:
    return DAG_MODULE_PREFIX + hashlib.sha1(path.encode()).hexdigest()[:16]


def import_dags(path: str) -> list[DAG]:
    """Execute the file as a fresh module and return every DAG created while it ran."""
    name = module_name_for(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise DagDefinitionError(f"{path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses, pickling and relative lookups expect it there
    _Contexts.created, _Contexts.dags, _Contexts.groups = [], [], []
    try:
        spec.loader.exec_module(module)
        created = list(_Contexts.created)
    finally:
        _Contexts.created = None
    for dag in created:
        dag.fileloc = path
    return created


def load_dags(path: str, defaults: DagDefaults) -> dict[str, DAG]:
    """The file's DAGs by id, defaults applied and validated (in this process)."""
    dags: dict[str, DAG] = {}
    for dag in import_dags(path):
        if dag.dag_id in dags:
            raise DagDefinitionError(f"{path} defines DAG {dag.dag_id!r} twice")
        dag.apply_defaults(defaults)
        dag.validate()
        dags[dag.dag_id] = dag
    return dags


def load_dag(path: str, dag_id: str, defaults: DagDefaults) -> DAG:
    dags = load_dags(path, defaults)
    if dag_id not in dags:
        raise DagDefinitionError(f"{path} no longer defines DAG {dag_id!r}")
    return dags[dag_id]


def parse_file(path: str, content: bytes, defaults: DagDefaults, folders: list[Path]) -> FileParseResult:
    """Import, validate and serialize one file; any failure becomes the result's error text. The local
    modules it imports (fresh: any loaded before are forgotten) are part of its version."""
    from flowctl.serialization import serialize_dag

    result = FileParseResult(path=path, content_hash=hashlib.sha256(content).hexdigest())
    started = time.perf_counter()
    forget_local_modules(folders)
    with local_imports(folders) as imported:
        try:
            result.source_code = content.decode("utf-8", errors="replace")
            result.dags = [serialize_dag(dag) for dag in load_dags(path, defaults).values()]
        except FlowctlError as exc:  # a definition problem: the message says it all
            result.error = f"{type(exc).__name__}: {exc}"
        except BaseException:  # a DAG file may raise anything, even SystemExit
            result.error = user_traceback(path)
    result.imported_modules = sorted(set(imported) - {path})
    result.content_hash = file_version(content, result.imported_modules)
    result.duration = time.perf_counter() - started
    return result


def forget_local_modules(folders: Iterable[Path]) -> None:
    """Drop modules loaded from the dags folders (helpers next to DAG files) from sys.modules, so the
    next import reads their current source."""
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None)
        if isinstance(origin, str) and not name.startswith(DAG_MODULE_PREFIX) and _inside_any(origin, folders):
            del sys.modules[name]


@contextlib.contextmanager
def local_imports(folders: Iterable[Path]) -> Iterator[list[str]]:
    """Record, while the block runs, the files of the modules imported from the dags folders — those that
    fail to import too (fixing one must parse the DAG file again)."""
    recorder = _ImportRecorder(list(folders))
    sys.meta_path.insert(0, recorder)
    try:
        yield recorder.files
    finally:
        sys.meta_path.remove(recorder)


class _ImportRecorder(importlib.abc.MetaPathFinder):
    """Asks the normal path finder where a module is and notes it when that is in the dags folders;
    finds nothing itself, so the import goes on as usual."""

    def __init__(self, folders: list[Path]) -> None:
        self.folders = folders
        self.files: list[str] = []

    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        origin = spec.origin if spec is not None else None
        if origin and _inside_any(origin, self.folders) and origin not in self.files:
            self.files.append(origin)


def file_version(content: bytes, modules: Iterable[str]) -> str:
    """The hash a DAG file is known by: its content and that of the local modules it imports (just its
    content's sha256 when it imports none)."""
    digest = hashlib.sha256(content)
    for module in sorted(modules):
        digest.update(b"\0" + module.encode() + b"\0")
        try:
            digest.update(Path(module).read_bytes())
        except OSError:
            digest.update(b"\0missing")
    return digest.hexdigest()


def _inside_any(path: str, folders: Iterable[Path]) -> bool:
    return any(path.startswith(f"{folder}{os.sep}") for folder in folders)


def user_traceback(path: str) -> str:
    """The traceback from the DAG file down, without flowctl's importing frames above it."""
    exc_type, exc, tb = sys.exc_info()
    frames = traceback.extract_tb(tb)
    first_user_frame = next((i for i, frame in enumerate(frames) if frame.filename == path), len(frames))
    user_frames = frames[first_user_frame:]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(user_frames)] if user_frames else []
    lines += traceback.format_exception_only(exc_type, exc)
    return "".join(lines).rstrip()


def file_content(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None
