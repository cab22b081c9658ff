"""Running one operator try through the real task runtime (`run_task`, in this process, as `tasks run`
does), with a secret masker like a task process's, against the hooks' test targets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session, sessionmaker

from flowctl.config import Settings, load_settings
from flowctl.executors.base import RunSnapshot, TaskCommand, TaskKey, TaskOutcome
from flowctl.logs import SecretMasker
from flowctl.xcom_codec import decode_xcom
from tests.hooks.conftest import api, target  # noqa: F401  (fixtures shared with the hook tests)

RUN_ID = "manual__operators"
LOGICAL_DATE = datetime(2024, 3, 5, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _forget_installed_sources() -> Iterator[None]:
    """A try run here installs where variables and connections come from; undo it after each test."""
    yield
    from flowctl.hooks.base import BaseHook
    from flowctl.variable import Variable

    BaseHook.install_connection_source(None)
    Variable.install_source(None)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        {"FLOWCTL_HOME": str(tmp_path / "home"), "FLOWCTL__CORE__FERNET_KEY": Fernet.generate_key().decode()}
    )


@pytest.fixture
def unused_metadata_db(tmp_path: Path) -> sessionmaker[Session]:
    """Connections come from FLOWCTL_CONN_* here: the try never queries its metadata DB."""
    from flowctl.db.engine import make_engine, make_session_factory

    return make_session_factory(make_engine(f"sqlite:///{tmp_path / 'unused.db'}"))


class Try:
    """What one try reported, plus what it masked."""

    def __init__(self, outcome: TaskOutcome, masker: SecretMasker) -> None:
        self.outcome = outcome
        self.masker = masker

    @property
    def state(self) -> str:
        return self.outcome.state

    @property
    def xcoms(self) -> dict[str, Any]:
        return {key: decode_xcom(value) for key, value in self.outcome.xcoms}

    @property
    def return_value(self) -> Any:
        return self.xcoms.get("return_value")


RunTry = Callable[[Any], Try]


@pytest.fixture
def run_try(settings: Settings, unused_metadata_db: sessionmaker[Session]) -> RunTry:
    """`run_try(task)`: one try of `task` for a manual run on LOGICAL_DATE."""

    def run(task: Any) -> Try:
        from flowctl.executors.task_runner import run_task

        dag = task.dag
        snapshot = RunSnapshot(
            dag_id=dag.dag_id,
            run_id=RUN_ID,
            run_type="manual",
            logical_date=LOGICAL_DATE,
            data_interval_start=LOGICAL_DATE,
            data_interval_end=LOGICAL_DATE,
            conf={},
            start_date=LOGICAL_DATE,
            external_trigger=True,
        )
        command = TaskCommand(
            TaskKey(dag.dag_id, RUN_ID, task.task_id, -1, 1), fileloc=dag.fileloc, log_path="", run=snapshot
        )
        masker = SecretMasker()
        outcome = run_task(command, dag, settings=settings, session_factory=unused_metadata_db, masker=masker)
        return Try(outcome, masker)

    return run
