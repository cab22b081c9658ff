"""Shared fixtures: metadata DB backends, a FLOWCTL_HOME per test, and an in-process CLI runner.

Backends come from FLOWCTL_TEST_DATABASES, a comma-separated list of `sqlite`, `postgresql`, `mysql`
or full SQLAlchemy URLs of databases that already exist (what .ci/run passes).
- Unset: sqlite, plus PostgreSQL and MySQL/MariaDB on 127.0.0.1 if they answer; a server that does
  not answer skips its tests with one line saying so.
- Set: every backend named must be reachable, or its tests fail.
For a backend given by name, a database `flowctl_test_<pid>` is created for the run and dropped after.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from flowctl.db import migrate
from flowctl.db.engine import make_engine, make_session_factory
from flowctl.db.models import Base

SERVER_URLS = {
    "postgresql": "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres",
    "mysql": "mysql+pymysql://root@127.0.0.1:3306/mysql",
}
ENV_VAR = "FLOWCTL_TEST_DATABASES"


@dataclass(frozen=True)
class Backend:
    name: str  # sqlite | postgresql | mysql
    url: str | None  # None: make a database on first use
    required: bool


def _configured_backends() -> list[Backend]:
    raw = os.environ.get(ENV_VAR, "").strip()
    required = bool(raw)
    entries = [e.strip() for e in (raw or "sqlite,postgresql,mysql").split(",") if e.strip()]
    backends = []
    for entry in entries:
        if "://" in entry:
            name = make_url(entry).get_backend_name().replace("mariadb", "mysql")
            backends.append(Backend(name, entry, required))
        elif entry in ("sqlite", "postgresql", "mysql"):
            backends.append(Backend(entry, None, required))
        else:
            raise pytest.UsageError(f"{ENV_VAR}: unknown backend {entry!r}")
    return backends


BACKENDS = _configured_backends()


class _Databases:
    """Creates each server backend's test database once per run and drops it at the end."""

    def __init__(self, tmp_root: Path) -> None:
        self.tmp_root = tmp_root
        self.urls: dict[str, str] = {}
        self.created: list[tuple[str, str]] = []
        self.failures: dict[str, str] = {}

    def url_for(self, backend: Backend) -> str:
        if backend.name in self.failures:
            self._unavailable(backend, self.failures[backend.name])
        if backend.name not in self.urls:
            try:
                self.urls[backend.name] = backend.url or self._create(backend.name)
                _probe(self.urls[backend.name])
            except Exception as exc:
                reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
                self.failures[backend.name] = reason
                self._unavailable(backend, reason)
        return self.urls[backend.name]

    @staticmethod
    def _unavailable(backend: Backend, reason: str) -> None:
        message = f"{backend.name} backend unreachable ({reason})"
        if backend.required:
            pytest.fail(f"{message}; it is listed in {ENV_VAR}", pytrace=False)
        pytest.skip(f"{message}; set {ENV_VAR} to choose backends")

    def _create(self, name: str) -> str:
        if name == "sqlite":
            return f"sqlite:///{self.tmp_root / 'flowctl-test.db'}"
        db_name = f"flowctl_test_{os.getpid()}"
        server = create_engine(SERVER_URLS[name], isolation_level="AUTOCOMMIT")
        with server.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {db_name}"))
            charset = " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" if name == "mysql" else ""
            conn.execute(text(f"CREATE DATABASE {db_name}{charset}"))
        server.dispose()
        self.created.append((name, db_name))
        return make_url(SERVER_URLS[name]).set(database=db_name).render_as_string(hide_password=False)

    def drop_created(self) -> None:
        for name, db_name in self.created:
            server = create_engine(SERVER_URLS[name], isolation_level="AUTOCOMMIT")
            with server.connect() as conn:
                if name == "postgresql":
                    conn.execute(text(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"))
                else:
                    conn.execute(text(f"DROP DATABASE IF EXISTS {db_name}"))
            server.dispose()


def _probe(url: str) -> None:
    engine = make_engine(url, connect_args={"connect_timeout": 3}) if "sqlite" not in url else make_engine(url)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    engine.dispose()


@pytest.fixture(scope="session")
def _databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Databases]:
    databases = _Databases(tmp_path_factory.mktemp("db"))
    yield databases
    databases.drop_created()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked sqlite_only check what no metadata DB changes (escaping, roles, CSRF crawls): they run
    once, on SQLite, to keep the suite short."""
    skip = pytest.mark.skip(reason="backend-independent: runs on SQLite only")
    for item in items:
        backend = getattr(getattr(item, "callspec", None), "params", {}).get("db_url")
        if item.get_closest_marker("sqlite_only") and backend is not None and backend.name != "sqlite":
            item.add_marker(skip)


@pytest.fixture(scope="session", params=BACKENDS, ids=[b.name for b in BACKENDS])
def db_url(request: pytest.FixtureRequest, _databases: _Databases) -> str:
    """The URL of one backend's test database (tests using it run once per backend)."""
    return _databases.url_for(request.param)


@pytest.fixture(scope="session")
def migrated_engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    migrate.reset(engine)
    yield engine
    engine.dispose()


def _empty_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def engine(migrated_engine: Engine) -> Engine:
    """An engine on a schema at head whose tables are empty at the start of the test."""
    if migrate.current_revision(migrated_engine) != migrate.SCHEMA_REVISION:
        migrate.reset(migrated_engine)  # a previous test migrated it elsewhere
    _empty_tables(migrated_engine)
    return migrated_engine


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty FLOWCTL_HOME."""
    path = tmp_path / "flowctl-home"
    path.mkdir()
    return path


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


def one_line_error(result: CliResult) -> str:
    """Assert the command failed as users are promised (exit 1, one `Error:` line, no traceback)."""
    assert result.exit_code == 1, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


class Cli:
    """Runs `flowctl ...` in-process, with an environment holding only this test's FLOWCTL settings."""

    def __init__(self, home: Path, db_url: str | None) -> None:
        self.env: dict[str, str | None] = {
            name: None for name in os.environ if name.startswith(("FLOWCTL_", "FLOWCTL__"))
        }
        self.env["FLOWCTL_HOME"] = str(home)
        if db_url:
            self.env["FLOWCTL__CORE__SQL_ALCHEMY_CONN"] = db_url

    def __call__(self, *args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> CliResult:
        from flowctl.cli.main import main

        runner = CliRunner()
        with runner.isolation(input=stdin, env={**self.env, **(env or {})}) as streams:
            try:
                main(list(args))
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            out, err = streams[0].getvalue(), streams[1].getvalue()
        return CliResult(code, out.decode(), err.decode())


@pytest.fixture
def cli(home: Path, db_url: str) -> Cli:
    """`flowctl` on this backend's test database, with an uninitialised schema state left as found."""
    return Cli(home, db_url)


@pytest.fixture
def cli_db(cli: Cli, engine: Engine) -> Cli:
    """`flowctl` on a migrated, empty metadata DB with the default pool."""
    assert cli("db", "init").exit_code == 0
    return cli


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]
