"""Task logs as the web serves them: a try's file only from inside the logs folder, its ids checked before
any path is built (flowctl.logs), read in bounded chunks from a byte offset for the live tail."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from flowctl.exceptions import InvalidInput
from flowctl.logs import read_log, resolve_inside, task_log_path
from flowctl.state import TaskState

# A try whose task instance is in one of these states (and still on that try) may write more log.
LIVE_STATES = frozenset({TaskState.QUEUED, TaskState.RUNNING, TaskState.RESTARTING})
PAGE_TAIL_BYTES = 512 * 1024  # the page shows at most the end of a log this long
CHUNK_BYTES = 256 * 1024  # one answer of the live tail


@dataclass(frozen=True, slots=True)
class LogChunk:
    """Text of a log from byte `start`; `offset` is where the next read begins."""

    text: str
    start: int
    offset: int
    size: int
    exists: bool = True
    reset: bool = False  # the file is shorter than the offset asked for (rewritten): read from 0

    @property
    def more(self) -> bool:
        return self.offset < self.size


def log_file(base: Path, *, dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int) -> Path:
    """The resolved log path of a try; InvalidInput for a bad id or a path (or symlink) leading out of `base`."""
    path = task_log_path(
        base, dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index, try_number=try_number
    )
    return resolve_inside(base, path)


def read_chunk(path: Path, *, offset: int, limit: int = CHUNK_BYTES) -> LogChunk:
    """At most `limit` bytes of text from `offset`; a missing file is an empty log that does not exist yet."""
    size = _size(path)
    if size is None:
        return LogChunk("", start=0, offset=0, size=0, exists=False, reset=offset > 0)
    reset = offset > size
    start = 0 if reset else offset
    text, next_offset = _read(path, offset=start, limit=limit)
    return LogChunk(text, start=start, offset=next_offset, size=size, reset=reset)


def read_tail(path: Path, *, limit: int = PAGE_TAIL_BYTES) -> LogChunk:
    """The last `limit` bytes of a log (from a line start when it is cut), to show on a page."""
    size = _size(path)
    if size is None:
        return LogChunk("", start=0, offset=0, size=0, exists=False)
    start = 0
    if size > limit:
        start = size - limit
        try:
            with open(path, "rb") as file:
                file.seek(start)
                newline = file.read(64 * 1024).find(b"\n")
        except OSError as exc:
            raise InvalidInput(f"cannot read the log file: {exc.strerror}") from None
        start += newline + 1
    text, next_offset = _read(path, offset=start, limit=size - start)
    return LogChunk(text, start=start, offset=next_offset, size=size)


def _read(path: Path, *, offset: int, limit: int) -> tuple[str, int]:
    try:
        return read_log(path, offset=offset, limit=limit)
    except OSError as exc:
        raise InvalidInput(f"cannot read the log file: {exc.strerror}") from None


def _size(path: Path) -> int | None:
    """The size of a regular file; None when there is none; anything else (a folder, a FIFO) is refused."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InvalidInput(f"cannot read the log file: {exc.strerror}") from None
    if not stat.S_ISREG(status.st_mode):
        raise InvalidInput("the log path is not a regular file")
    return status.st_size
