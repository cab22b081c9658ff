"""A throwaway installation for one test run: a temporary FLOWCTL_HOME with its own SQLite metadata DB,
holding one DAG stored as the DAG processor stores it, with the variables and connections the test gives.
Everything is deleted when the block ends, and the variable and connection sources that task runs
install are put back as they were."""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flowctl.dag_definition import DAG, localize
from flowctl.exceptions import InvalidInput
from flowctl.testing.results import RunResult, TaskResult, label


@dataclass
class Installation:
    """A throwaway FLOWCTL_HOME with its metadata DB, holding one stored DAG."""

    dag: DAG
    settings: Any
    engine: Any
    factory: Any

    def create_run(
        self, logical_date: datetime | str | None, conf: Mapping[str, Any] | None, mark_success_pattern: str | None
    ) -> str:
        """A manual run, started (its task instances made) as the scheduler starts one."""
        from flowctl.db.engine import session_scope
        from flowctl.db.queries.task_instances import for_run
        from flowctl.parsing.render import parse_logical_date
        from flowctl.scheduler.runs import DagVersions, start_run
        from flowctl.services.actor import Actor
        from flowctl.services.runs import trigger_dag
        from flowctl.state import TaskState

        now = datetime.now(UTC)
        when = (
            parse_logical_date(logical_date, self.dag.timezone or "UTC")
            if isinstance(logical_date, str)
            else logical_date
        )
        if when is not None and when.tzinfo is None:
            when = localize(when, self.dag.timezone or "UTC")  # a naive date is in the DAG's zone, as in files
        pattern = re.compile(mark_success_pattern) if mark_success_pattern else None
        with session_scope(self.factory) as session:
            run = trigger_dag(
                session, self.dag.dag_id, actor=Actor("flowctl.testing", now), logical_date=when, conf=dict(conf or {})
            )
            start_run(session, run, DagVersions(), now=now)
            session.flush()
            for ti in for_run(session, run.dag_id, run.run_id):
                if pattern is not None and pattern.fullmatch(ti.task_id):
                    ti.state, ti.start_date, ti.end_date = TaskState.SUCCESS, now, now
            return run.run_id

    def result(self, run_id: str) -> RunResult:
        from sqlalchemy import select

        from flowctl.db.engine import session_scope
        from flowctl.db.models import XCom
        from flowctl.db.queries.runs import get_run
        from flowctl.db.queries.task_instances import for_run
        from flowctl.logs import read_log, task_log_path
        from flowctl.xcom_codec import decode_xcom

        with session_scope(self.factory) as session:
            run = get_run(session, self.dag.dag_id, run_id)
            assert run is not None
            tasks = {}
            for ti in for_run(session, run.dag_id, run_id):
                if ti.state == "removed":
                    continue
                rows = session.execute(select(XCom.key, XCom.value).where(XCom.task_instance_id == ti.id))
                log = ""
                if ti.try_number >= 1:
                    path = task_log_path(
                        self.settings.logging.base_log_folder,
                        dag_id=run.dag_id,
                        run_id=run_id,
                        task_id=ti.task_id,
                        map_index=ti.map_index,
                        try_number=ti.try_number,
                    )
                    log = read_log(path)[0]
                tasks[label(ti.task_id, ti.map_index)] = TaskResult(
                    ti.task_id, ti.map_index, ti.state, ti.try_number, {k: decode_xcom(v) for k, v in rows}, log
                )
            return RunResult(run.dag_id, run_id, run.state, run.logical_date, dict(run.conf or {}), tasks)


@contextlib.contextmanager
def throwaway_installation(
    dag: DAG | str | Path,
    dag_id: str | None,
    variables: Mapping[str, Any] | None,
    connections: Mapping[str, Any] | None,
    config: Mapping[str, str] | None,
) -> Iterator[Installation]:
    from flowctl.config import settings_from_environment
    from flowctl.db import migrate
    from flowctl.db.engine import make_engine, make_session_factory, session_scope
    from flowctl.hooks.base import BaseHook
    from flowctl.parsing.processor import defaults_from
    from flowctl.variable import Variable

    sources = (Variable._source, BaseHook._connection_source)  # tasks install theirs: put the caller's back
    with tempfile.TemporaryDirectory(prefix="flowctl-test-") as home:
        folder = Path(dag.fileloc if isinstance(dag, DAG) else dag).resolve().parent
        environ = {
            "FLOWCTL_HOME": home,
            "FLOWCTL__CORE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/flowctl.db",
            "FLOWCTL__CORE__DAGS_FOLDER": str(folder),
            **(config or {}),
        }
        settings = settings_from_environment(environ)
        loaded = dag if isinstance(dag, DAG) else _import(Path(dag), dag_id, settings)
        loaded.apply_defaults(defaults_from(settings))
        loaded.validate()
        engine = make_engine(settings.core.sql_alchemy_conn)
        try:
            migrate.upgrade(engine)
            factory = make_session_factory(engine, immediate=True)
            with session_scope(factory) as session:
                _store(session, loaded, settings, variables or {}, connections or {})
            yield Installation(loaded, settings, engine, factory)
        finally:
            engine.dispose()
            Variable.install_source(sources[0])
            BaseHook.install_connection_source(sources[1])


def _import(path: Path, dag_id: str | None, settings: Any) -> DAG:
    from flowctl.parsing.importer import load_dags
    from flowctl.parsing.processor import defaults_from, put_on_import_path

    if not path.is_file():
        raise InvalidInput(f"no DAG file at {path}")
    put_on_import_path([path.resolve().parent])
    dags = load_dags(str(path.resolve()), defaults_from(settings))
    if dag_id is not None:
        if dag_id not in dags:
            raise InvalidInput(f"{path} defines no DAG {dag_id!r} (it defines {', '.join(sorted(dags)) or 'none'})")
        return dags[dag_id]
    if len(dags) != 1:
        raise InvalidInput(f"{path} defines {len(dags)} DAGs ({', '.join(sorted(dags))}): say which with dag_id")
    return next(iter(dags.values()))


def _store(session: Any, dag: DAG, settings: Any, variables: Mapping[str, Any], connections: Mapping[str, Any]) -> None:
    """The DAG as the DAG processor stores it, the default pool, and the variables and connections."""
    from flowctl.connection import Connection
    from flowctl.db.queries.pools import ensure_default_pool
    from flowctl.db.secrets import SecretCipher
    from flowctl.parsing.importer import FileParseResult
    from flowctl.parsing.sync import store_results
    from flowctl.serialization import serialize_dag
    from flowctl.services import connections as connection_service
    from flowctl.services import variables as variable_service
    from flowctl.services.actor import Actor

    now = datetime.now(UTC)
    ensure_default_pool(session)
    stored = store_results(
        session, [FileParseResult(path=dag.fileloc, content_hash="", dags=[serialize_dag(dag)])], now=now
    )
    assert stored.dags == 1, f"DAG {dag.dag_id!r} could not be stored"
    actor, cipher = Actor("flowctl.testing", now), SecretCipher(settings.core.fernet_key)
    if variables:
        variable_service.import_variables(session, cipher, dict(variables), actor=actor)
    for conn_id, value in connections.items():
        if isinstance(value, Connection):
            conn = value
        elif isinstance(value, str):
            conn = Connection.from_uri(conn_id, value)
        else:
            conn = Connection.from_json(conn_id, json.dumps(value))
        connection_service.add_connection(session, cipher, conn, actor=actor)
