"""DAG-level user actions: pause and unpause; reading the stored (serialized) DAG."""

from __future__ import annotations

from sqlalchemy.orm import Session

from flowctl.db.models import Dag
from flowctl.db.queries import dags as queries
from flowctl.db.queries.log_events import record_event
from flowctl.exceptions import NotFound
from flowctl.serialization import DagSpec, deserialize_dag
from flowctl.services.actor import Actor


def require_dag(session: Session, dag_id: str) -> Dag:
    dag = queries.get_dag(session, dag_id)
    if dag is None:
        raise NotFound(f"no DAG {dag_id!r} (run `flowctl dags list` to see the DAGs)")
    return dag


def dag_spec(session: Session, dag_id: str) -> DagSpec:
    """The latest stored version of a DAG's structure."""
    require_dag(session, dag_id)
    data = queries.latest_serialized(session, dag_id)
    if data is None:
        raise NotFound(f"DAG {dag_id!r} has no stored version yet")
    return deserialize_dag(data)


def set_paused(session: Session, dag_id: str, paused: bool, *, actor: Actor) -> bool:
    """Pause or unpause; returns whether the state changed."""
    dag = require_dag(session, dag_id)
    changed = dag.is_paused != paused
    dag.is_paused = paused
    record_event(session, "dag.pause" if paused else "dag.unpause", owner=actor.name, at=actor.at, dag_id=dag_id)
    return changed


def delete_dag(session: Session, dag_id: str, *, actor: Actor) -> None:
    """Delete the DAG row (its runs, task instances, XComs and versions go with it) and forget its
    file's hash, so the file, which stays, is parsed again as a new DAG."""
    from flowctl.db.queries.dags import forget_dag_files

    dag = require_dag(session, dag_id)
    fileloc = dag.fileloc
    session.delete(dag)
    session.flush()
    forget_dag_files(session, [fileloc])
    record_event(session, "dag.delete", owner=actor.name, at=actor.at, dag_id=dag_id)
