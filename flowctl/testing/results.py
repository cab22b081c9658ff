"""What a test run leaves, as plain values: the run's state and conf, and each task instance's state,
XComs and log (the installation they came from is gone by the time a test reads them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class TaskResult:
    """One task instance after the run: its state, the XComs it pushed and the log of its last try."""

    task_id: str
    map_index: int
    state: str
    try_number: int
    xcoms: dict[str, Any] = field(default_factory=dict)
    log: str = ""


@dataclass(frozen=True, slots=True)
class RunResult:
    """A finished test run; task instances are keyed `task_id`, or `task_id[i]` for mapped ones."""

    dag_id: str
    run_id: str
    state: str
    logical_date: datetime
    conf: dict[str, Any]
    tasks: dict[str, TaskResult]

    @property
    def execution_date(self) -> datetime:  # Airflow's name
        return self.logical_date

    @property
    def task_states(self) -> dict[str, str]:
        return {key: task.state for key, task in self.tasks.items()}

    @property
    def xcoms(self) -> dict[str, dict[str, Any]]:
        return {key: task.xcoms for key, task in self.tasks.items() if task.xcoms}

    @property
    def logs(self) -> dict[str, str]:
        return {key: task.log for key, task in self.tasks.items()}

    def xcom(self, task_id: str, key: str = "return_value", *, map_index: int = -1) -> Any:
        """The XCom `key` a task instance pushed (None if it pushed none)."""
        return self.tasks[label(task_id, map_index)].xcoms.get(key)


def label(task_id: str, map_index: int) -> str:
    """How a task instance is keyed in RunResult.tasks."""
    return task_id if map_index < 0 else f"{task_id}[{map_index}]"
