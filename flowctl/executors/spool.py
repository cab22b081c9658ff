"""A try's spool file, beside its log: what the task process must not lose if its supervisors crash.

The task process writes two lines (ARCHITECTURE decision 13):
1. before any user code runs: its process group's identity and the dispatch it belongs to;
2. when the try ends, before it reports: its outcome, flushed to disk (fsync) before it exits.
The scheduler deletes the spool once it has committed the outcome. Whoever recovers a try whose
supervisor died (the executor for a dead worker, a scheduler for a dead scheduler) kills the group of
line 1 and records the outcome of line 2 if there is one, so a finished try keeps its real outcome and
no try is retried while a process of it still runs.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flowctl.executors.base import EventKind, TaskEvent, TaskKey, TaskOutcome
from flowctl.executors.process_tree import ProcessGroupIdentity, kill_group

SPOOL_SUFFIX = ".spool"


@dataclass(frozen=True, slots=True)
class SpooledTry:
    """What a spool file held: the group (always), the outcome (once the try ended)."""

    identity: ProcessGroupIdentity
    queued_at: datetime | None  # the dispatch this process ran: a rescheduled sensor reuses its try number
    started_at: datetime
    outcome: TaskOutcome | None = None
    finished_at: datetime | None = None

    def started_event(self, key: TaskKey) -> TaskEvent:
        return TaskEvent(
            key=key,
            kind=EventKind.STARTED,
            pid=self.identity.pgid,
            hostname=self.identity.hostname,
            at=self.started_at,
        )

    def finished_event(self, key: TaskKey) -> TaskEvent:
        """The try's end as its supervisor would have reported it (only once it has an outcome)."""
        assert self.outcome is not None
        return TaskEvent(
            key=key,
            kind=EventKind.FINISHED,
            pid=self.identity.pgid,
            hostname=self.identity.hostname,
            outcome=self.outcome,
            exit_code=self.outcome.exit_code,
            at=self.finished_at,
        )


def spool_path(log_path: str | Path) -> Path:
    """`.../attempt=N.log` -> `.../attempt=N.spool`."""
    return Path(log_path).with_suffix(SPOOL_SUFFIX)


class SpoolWriter:
    """The task process's side: line 1 when the try starts, line 2 when it has an outcome, and on disk
    before the process exits (`close`). The outcome is synced after the supervisor has it — a success is
    reported at once — rather than before, which would put a disk flush (1 to 4 ms on a busy machine) on
    every hand-off; a failure is only reported once the process has exited, synced."""

    def __init__(self, path: Path, group: bytes, *, queued_at: datetime | None, at: datetime):
        """`group`: group_record() of this process, made before its try arrived."""
        times = json.dumps({"queued_at": _iso(queued_at), "started_at": at.isoformat()}).encode()
        # Replaces any earlier content (an earlier poke of the same sensor try). Not synced: it only has to
        # outlive this process's supervisors, and a machine crash ends the group anyway.
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        _write_all(self.fd, b'{"group": ' + group + b", " + times[1:] + b"\n")

    def outcome(self, outcome: bytes, *, at: datetime) -> None:
        """Line 2, the outcome as TaskOutcome.to_json wrote it. A crash half way leaves a line that does not
        parse, read as no outcome: the try counts as unfinished."""
        _write_all(self.fd, b'{"finished_at": "' + at.isoformat().encode() + b'", "outcome": ' + outcome + b"}\n")

    def close(self) -> None:
        try:
            os.fsync(self.fd)
        finally:
            os.close(self.fd)


def group_record(identity: ProcessGroupIdentity) -> bytes:
    """The group part of line 1, as a spare task process prepares it while it waits for its try."""
    return json.dumps(identity.to_dict()).encode()


def read_spool(path: Path) -> SpooledTry | None:
    """The spool's content, or None when there is none (the try never got as far as running)."""
    try:
        lines = path.read_bytes().split(b"\n")
    except OSError:
        return None
    try:
        start = json.loads(lines[0])
        spooled = SpooledTry(
            identity=ProcessGroupIdentity.from_dict(start["group"]),
            queued_at=_parse(start.get("queued_at")),
            started_at=_parse(start["started_at"]),  # type: ignore[arg-type]
        )
    except (ValueError, KeyError, TypeError):
        return None
    try:
        end = json.loads(lines[1])
        outcome = TaskOutcome.from_dict(end["outcome"])
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        return spooled
    return SpooledTry(spooled.identity, spooled.queued_at, spooled.started_at, outcome, _parse(end["finished_at"]))


def remove_spool(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True, slots=True)
class ReclaimedTry:
    """A try whose supervisor died, after reclaim_try: `spooled` is None when it never started running
    user code; `gone` is False when some process of it could not be killed (do not retry it yet)."""

    spooled: SpooledTry | None
    gone: bool


def reclaim_try(log_path: str | Path, *, queued_at: datetime | None, timeout: float = 10.0) -> ReclaimedTry:
    """Kill whatever still runs of a try whose supervisor died, then read what its spool says (an outcome
    written while it was being killed counts). A spool of another dispatch (an earlier poke of the same
    sensor try) is ignored."""
    path = spool_path(log_path)
    spooled = _this_dispatch(read_spool(path), queued_at)
    if spooled is None:
        return ReclaimedTry(None, gone=True)
    if not kill_group(spooled.identity, timeout=timeout):
        return ReclaimedTry(spooled, gone=False)
    return ReclaimedTry(_this_dispatch(read_spool(path), queued_at) or spooled, gone=True)


def _this_dispatch(spooled: SpooledTry | None, queued_at: datetime | None) -> SpooledTry | None:
    if spooled is None or queued_at is None or spooled.queued_at is None:
        return spooled
    return spooled if spooled.queued_at == queued_at else None
