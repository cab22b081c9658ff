"""Parse DAG files in child processes, a few at a time, each with a timeout and a memory limit.

A file that hangs, allocates without end, exits the interpreter or crashes it only costs its own child:
the parent sees a timeout, a MemoryError or an early exit and turns it into that file's import error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import signal
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from flowctl.dag_definition import DagDefaults
from flowctl.parsing.importer import FileParseResult, parse_file


@dataclass(frozen=True, slots=True)
class ParseLimits:
    timeout: float
    processes: int
    memory_limit_mb: int  # 0: no limit


@dataclass(frozen=True, slots=True)
class FileToParse:
    path: str
    content: bytes


@dataclass(slots=True)
class _Running:
    process: Any
    connection: Connection
    file: FileToParse
    started: float


def _child_main(
    file: FileToParse, defaults: DagDefaults, folders: list[Path], memory_limit_mb: int, connection: Connection
) -> None:
    """In the child: silence stdout/stderr, cap memory, parse, send the result, exit at once."""
    os.setpgrp()  # so a timeout kills whatever the file started, too
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    if memory_limit_mb:
        import resource

        limit = memory_limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        result = parse_file(file.path, file.content, defaults, folders)
        connection.send({f.name: getattr(result, f.name) for f in dataclasses.fields(result)})
    finally:
        # Skip interpreter teardown: it would run atexit hooks and close DB connections inherited
        # from the parent, whose sockets the parent still uses.
        os._exit(0)


def warm_up(defaults: DagDefaults) -> None:
    """Do once in the parent what every child would otherwise repeat after the fork: import the
    operator modules and fill the lazy caches (argument lists, time zones, cron and JSON-schema code)."""
    import datetime as dt

    from flowctl.dag_definition import DAG
    from flowctl.operators import BashOperator, BranchPythonOperator, EmptyOperator, PythonOperator
    from flowctl.params import Param
    from flowctl.sensors import PythonSensor
    from flowctl.serialization import serialize_dag
    from flowctl.taskflow import task

    with DAG(
        "warm_up",
        schedule="0 0 * * *",
        start_date=dt.datetime(2024, 1, 1),
        params={"p": Param(1, type="integer")},
    ) as dag:
        EmptyOperator(task_id="a") >> BashOperator(task_id="b", bash_command="true")
        PythonOperator(task_id="c", python_callable=print) >> BranchPythonOperator(task_id="d", python_callable=print)
        PythonSensor(task_id="e", python_callable=print)
        task(print)()
    dag.apply_defaults(defaults)
    dag.validate()
    serialize_dag(dag)


def parse_in_children(
    files: list[FileToParse], defaults: DagDefaults, limits: ParseLimits, *, folders: list[Path]
) -> list[FileParseResult]:
    """Parse every file in its own child process, `limits.processes` at once; results in input order.
    `folders`: the dags folders, whose modules a file imports are part of its version."""
    context = multiprocessing.get_context("fork")
    warm_up(defaults)
    queue = deque(files)
    running: dict[Connection, _Running] = {}
    results: dict[str, FileParseResult] = {}
    while queue or running:
        while queue and len(running) < limits.processes:
            file = queue.popleft()
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(
                target=_child_main, args=(file, defaults, folders, limits.memory_limit_mb, sender), daemon=True
            )
            process.start()
            sender.close()
            running[receiver] = _Running(process, receiver, file, time.monotonic())
        deadline = min(r.started for r in running.values()) + limits.timeout
        for connection in wait(list(running), timeout=max(deadline - time.monotonic(), 0)):
            item = running.pop(connection)  # type: ignore[arg-type]
            results[item.file.path] = _collect(item)
        now = time.monotonic()
        for connection, item in list(running.items()):
            if now - item.started >= limits.timeout:
                del running[connection]
                _kill(item)
                results[item.file.path] = _failed(
                    item.file, f"DAG file import timed out after {limits.timeout:g}s (dagbag_import_timeout)"
                )
    return [results[file.path] for file in files]


def _collect(item: _Running) -> FileParseResult:
    try:
        data = item.connection.recv()
    except (EOFError, OSError):
        data = None
    finally:
        item.connection.close()
    # Whatever the file started (a forked child, a subprocess) goes with its parse. The child is not
    # reaped yet, so its group's number cannot have been given to anyone else.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(item.process.pid, signal.SIGKILL)
    item.process.join(5)
    if data is None:
        return _failed(item.file, _death_message(item.process.exitcode))
    return FileParseResult(**data)


def _death_message(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return f"the process importing the DAG file was killed by {name}{hint}"
    return f"the process importing the DAG file exited with code {exitcode} before finishing (os._exit?)"


def _kill(item: _Running) -> None:
    try:
        os.killpg(item.process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        item.process.kill()
    item.process.join(5)
    item.connection.close()


def _failed(file: FileToParse, message: str) -> FileParseResult:
    import hashlib

    return FileParseResult(path=file.path, content_hash=hashlib.sha256(file.content).hexdigest(), error=message)
