"""What a command needs from the installation, built lazily: settings, engine, sessions, cipher."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING

import click

from flowctl.config import Settings, settings_from_environment

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from flowctl.db.secrets import SecretCipher
    from flowctl.parsing.processor import RefreshResult
    from flowctl.services.actor import Actor


class Runtime:
    """One per command invocation; the CLI's only place that opens sessions."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self._schema_checked = False

    @cached_property
    def settings(self) -> Settings:
        settings = settings_from_environment(self.environ)
        for warning in settings.warnings:
            click.echo(f"Warning: {warning}", err=True)
        return settings

    @cached_property
    def engine(self) -> Engine:
        from flowctl.db.engine import make_engine

        return make_engine(self.settings.core.sql_alchemy_conn)

    @cached_property
    def session_factory(self) -> sessionmaker[Session]:
        """For the command's own reads and changes (on SQLite each transaction takes the write lock first)."""
        from flowctl.db.engine import make_session_factory

        return make_session_factory(self.engine, immediate=True)

    @cached_property
    def task_session_factory(self) -> sessionmaker[Session]:
        """For task code run in this process, whose session may stay open while the task runs."""
        from flowctl.db.engine import make_session_factory

        return make_session_factory(self.engine)

    @cached_property
    def cipher(self) -> SecretCipher:
        from flowctl.db.secrets import SecretCipher

        return SecretCipher(self.settings.core.fernet_key)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session on a DB whose schema is at this flowctl's revision; commits when the block ends."""
        from flowctl.db.engine import session_scope
        from flowctl.db.migrate import require_current_schema

        if not self._schema_checked:
            require_current_schema(self.engine)
            self._schema_checked = True
        with session_scope(self.session_factory) as session:
            yield session

    def refresh_dags(self, *, force: bool = False, load_examples: bool | None = None) -> RefreshResult | None:
        """Parse new and changed DAG files now, so what commands show matches the dags folder — unless a
        live DAG processor (a running scheduler's, or `flowctl dag-processor`) keeps the DB current
        already; `force` parses every file regardless. Returns what was parsed (None: nothing was)."""
        if not force and self._dag_processor_alive():
            return None
        return self._refresh(force=force, load_examples=load_examples)

    def refresh_dag(self, dag_id: str, *, current_code: bool = False) -> None:
        """Before a command that shows one DAG: parse its file only if that file changed and no live DAG
        processor does it (`current_code`: even then, for commands that run the file's code now) — or the
        whole folder when the DAG is not known yet (its file was just added), so a broken unrelated file
        never holds such a command up."""
        fileloc = self._fileloc(dag_id)
        if fileloc is None:
            self._refresh()
        elif current_code or not self._dag_processor_alive():
            self._refresh(only=[fileloc])

    def require_known_dag(self, dag_id: str) -> None:
        """Before a command that only writes a row about one DAG (trigger, pause): parse nothing, unless
        the DAG is not known yet (its file was just added). The scheduler parses the file again before it
        runs anything of it."""
        if self._fileloc(dag_id) is None:
            self._refresh()

    def _fileloc(self, dag_id: str) -> str | None:
        from flowctl.db.models import Dag

        with self.session() as session:
            dag = session.get(Dag, dag_id)
            return dag.fileloc if dag is not None else None

    def _dag_processor_alive(self) -> bool:
        from flowctl.db.queries.jobs import DAG_PROCESSOR_JOB, any_alive

        with self.session() as session:
            return any_alive(session, DAG_PROCESSOR_JOB, now=datetime.now(UTC))

    def _refresh(
        self, *, force: bool = False, load_examples: bool | None = None, only: list[str] | None = None
    ) -> RefreshResult:
        from flowctl.db.migrate import require_current_schema
        from flowctl.parsing.processor import refresh

        if not self._schema_checked:
            require_current_schema(self.engine)
            self._schema_checked = True
        return refresh(
            self.settings,
            self.session_factory,
            now=datetime.now(UTC),
            force=force,
            load_examples=load_examples,
            only=only,
            reader=self.task_session_factory,
        )

    def close(self) -> None:
        """Return pooled DB connections (tests run many commands in one process)."""
        if "engine" in self.__dict__:
            self.engine.dispose()

    def actor(self) -> Actor:
        from flowctl.services.actor import Actor

        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry for this uid, e.g. in a container
            user = str(os.getuid())
        return Actor(name=f"cli:{user}", at=datetime.now(UTC))


pass_runtime = click.make_pass_decorator(Runtime, ensure=True)
