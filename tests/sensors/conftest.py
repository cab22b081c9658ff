"""Running one sensor try through the real task runtime (`run_task`, as `tasks run` does, in this
process), and the real things sensors wait on: a static HTTP site and the ratings API on 127.0.0.1, and
a table in this backend's test database."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from flowctl.config import Settings, load_settings
from flowctl.executors.base import RunSnapshot, TaskCommand, TaskKey, TaskOutcome
from tests.fixtures.ratings_api import RatingsApi, serve_ratings

TINY = 0.02  # seconds between pokes: sensors in these tests hardly wait
RUN_ID = "manual__sensing"
FERNET_KEY = Fernet.generate_key().decode()


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
    # A task process reads connections with the installation's Fernet key at hand.
    return load_settings({"FLOWCTL_HOME": str(tmp_path / "home"), "FLOWCTL__CORE__FERNET_KEY": FERNET_KEY})


@pytest.fixture
def no_metadata_db(tmp_path: Path) -> sessionmaker[Session]:
    """For sensors that never read the metadata DB: a session factory on an empty SQLite file."""
    from flowctl.db.engine import make_engine, make_session_factory

    return make_session_factory(make_engine(f"sqlite:///{tmp_path / 'unused.db'}"))


RunSensor = Callable[..., TaskOutcome]


@pytest.fixture
def run_sensor(settings: Settings, no_metadata_db: sessionmaker[Session]) -> RunSensor:
    """`run_sensor(task, logical_date=..., first_poke_at=..., session_factory=...)`: one try of the
    task, in this process, for a manual run whose data interval ends at `interval_end` (default: the
    logical date). Returns the outcome the scheduler would record."""

    def run(
        task: Any,
        *,
        logical_date: datetime = datetime(2024, 1, 1, tzinfo=UTC),
        interval_end: datetime | None = None,
        first_poke_at: datetime | None = None,
        session_factory: sessionmaker[Session] | None = None,
    ) -> TaskOutcome:
        from flowctl.executors.task_runner import run_task

        dag = task.dag
        snapshot = RunSnapshot(
            dag_id=dag.dag_id,
            run_id=RUN_ID,
            run_type="manual",
            logical_date=logical_date,
            data_interval_start=logical_date,
            data_interval_end=interval_end or logical_date,
            conf={},
            start_date=logical_date,
            external_trigger=True,
        )
        key = TaskKey(dag.dag_id, RUN_ID, task.task_id, -1, 1)
        command = TaskCommand(key, fileloc=dag.fileloc, log_path="", run=snapshot, first_poke_at=first_poke_at)
        return run_task(command, dag, settings=settings, session_factory=session_factory or no_metadata_db)

    return run


def later(seconds: float, action: Callable[[], Any]) -> threading.Timer:
    """Do `action` in `seconds`, from another thread (what a sensor waits for happens meanwhile)."""
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


def long_ago() -> datetime:
    """A first poke far enough back that any timeout in these tests has passed."""
    return datetime.now(UTC) - timedelta(hours=1)


# HTTP


@pytest.fixture
def static_site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain HTTP server on 127.0.0.1 serving a folder: (base URL, folder). A missing file is a 404."""
    folder = tmp_path / "site"
    folder.mkdir()

    class QuietHandler(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", folder
    server.shutdown()
    server.server_close()


@pytest.fixture
def ratings_api() -> Iterator[RatingsApi]:
    with serve_ratings() as api:
        yield api


# SQL


@dataclass
class TargetDatabase:
    """A table `sensor_signal` in this backend's test database, and the connection that reaches it."""

    engine: Engine
    conn_env: str  # the value of FLOWCTL_CONN_<ID> for it

    def add_signal(self, value: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("INSERT INTO sensor_signal (value) VALUES (:value)"), {"value": value})


@pytest.fixture
def target_db(engine: Engine, db_url: str) -> Iterator[TargetDatabase]:
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS sensor_signal"))
        conn.execute(text("CREATE TABLE sensor_signal (value INTEGER NOT NULL)"))
    yield TargetDatabase(engine, _connection_for(db_url))
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS sensor_signal"))


def _connection_for(db_url: str) -> str:
    """This backend's test database as a flowctl connection (URI, or JSON for a SQLite file)."""
    url = make_url(db_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        return json.dumps({"conn_type": "sqlite", "host": url.database})
    scheme = "postgres" if backend == "postgresql" else "mysql"
    auth = url.username + (f":{url.password}" if url.password else "")
    return f"{scheme}://{auth}@{url.host}:{url.port}/{url.database}"
