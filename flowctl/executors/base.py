"""The executor interface: the scheduler submits TaskCommands and reads TaskEvents back.

Executors never write the metadata DB: task processes report their outcome, the executor turns it into
an event, and the scheduler records it (ARCHITECTURE decision 5).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class TaskKey:
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int


@dataclass(frozen=True, slots=True)
class RunSnapshot:
    """What a task's context needs of its run (and of the run's last successful predecessor), sent with
    the command so a task that touches no XCom, variable or connection never opens a DB connection."""

    dag_id: str
    run_id: str
    run_type: str
    logical_date: datetime
    data_interval_start: datetime
    data_interval_end: datetime
    conf: dict[str, Any]
    start_date: datetime | None
    external_trigger: bool
    prev_success_interval_start: datetime | None = None
    prev_success_interval_end: datetime | None = None
    prev_success_start_date: datetime | None = None

    @classmethod
    def of(cls, run: Any, previous_success: Any | None) -> RunSnapshot:
        """From a DagRun row and the run's last successful predecessor (or None)."""
        return cls(
            dag_id=run.dag_id,
            run_id=run.run_id,
            run_type=run.run_type,
            logical_date=run.logical_date,
            data_interval_start=run.data_interval_start or run.logical_date,
            data_interval_end=run.data_interval_end or run.logical_date,
            conf=run.conf or {},
            start_date=run.start_date,
            external_trigger=run.external_trigger,
            prev_success_interval_start=previous_success.data_interval_start if previous_success else None,
            prev_success_interval_end=previous_success.data_interval_end if previous_success else None,
            prev_success_start_date=previous_success.start_date if previous_success else None,
        )


@dataclass(frozen=True, slots=True)
class TaskCommand:
    key: TaskKey
    fileloc: str
    log_path: str
    execution_timeout: float | None = None
    run: RunSnapshot | None = None
    first_poke_at: datetime | None = None  # a rescheduled sensor's first poke
    # When this try (or this poke of a rescheduled sensor's try) was queued: tells its spool apart from
    # an earlier poke's.
    queued_at: datetime | None = None
    # The task instance's max_tries for this try (a clear raises it): its alert mail counts tries as the
    # UI and the scheduler do. None (a try that has no task instance row) means the task's retries.
    max_tries: int | None = None


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    """Call a DAG's on_success_callback / on_failure_callback for a run that just ended (in a task-side
    process: the scheduler never runs user code)."""

    run: RunSnapshot
    fileloc: str
    state: str  # success | failed
    log_path: str


class EventKind(StrEnum):
    STARTED = "started"
    FINISHED = "finished"


@dataclass(frozen=True, slots=True)
class TaskOutcome:
    """What a task process reports when it ends (see flowctl.executors.task_runner)."""

    state: str  # success | failed | skipped | up_for_reschedule
    retryable: bool = True
    error: str | None = None
    xcoms: list[tuple[str, bytes]] = field(default_factory=list)
    rendered_fields: dict[str, Any] | None = None
    follow_branches: list[str] | None = None
    skip_downstream: bool = False
    respect_trigger_rules: bool = False
    reschedule_at: str | None = None
    first_poke_at: str | None = None
    # Runs of other DAGs the task asked for (TriggerDagRunOperator); the scheduler creates them.
    dag_run_requests: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> bytes:
        """What a task process writes to its supervisor (XCom values are JSON text already)."""
        data = dataclasses.asdict(self)
        data["xcoms"] = [(key, value.decode()) for key, value in self.xcoms]
        return json.dumps(data, default=str).encode()

    @classmethod
    def from_json(cls, data: bytes) -> TaskOutcome | None:
        """The outcome a task process wrote, or None if it wrote none (or only part of one)."""
        if not data:
            return None
        try:
            return cls.from_dict(json.loads(data))
        except (ValueError, TypeError, AttributeError):
            return None

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TaskOutcome:
        """From the object to_json wrote (already parsed); TypeError when it is not one."""
        raw = dict(raw)
        raw["xcoms"] = [(key, value.encode()) for key, value in raw.get("xcoms", [])]
        return cls(**raw)

    @property
    def exit_code(self) -> int:
        """What the task process exits with after reporting this outcome: 1 for a failed try, else 0."""
        return 1 if self.state == "failed" else 0


@dataclass(frozen=True, slots=True)
class TaskEvent:
    key: TaskKey
    kind: EventKind
    pid: int | None = None
    hostname: str | None = None
    outcome: TaskOutcome | None = None  # None for a FINISHED event: the process died without reporting
    exit_code: int | None = None
    reason: str | None = None  # why a process without an outcome ended (signal, timeout, terminated)
    at: datetime | None = None  # when it happened (the scheduler records it later)


class Executor(Protocol):
    def start(self) -> None: ...
    def submit(self, command: TaskCommand) -> None: ...
    def events(self) -> list[TaskEvent]: ...  # non-blocking
    def filenos(self) -> list[int]: ...  # readable when events may be waiting (for the scheduler's selector)
    @property
    def spawned(self) -> int: ...  # changes whenever filenos() may have changed
    def terminate(self, key: TaskKey) -> None: ...
    def run_callback(self, request: CallbackRequest) -> None: ...
    def running_keys(self) -> set[TaskKey]: ...
    def shutdown(self, *, grace: timedelta) -> None: ...
    @property
    def running(self) -> int: ...
