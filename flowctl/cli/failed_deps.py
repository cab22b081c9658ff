"""`flowctl tasks failed-deps DAG_ID TASK_ID RUN_ID` (registered on the `tasks` group): why a task
instance would not run now, as Airflow's command of that name tells. The reasons are the web UI's
"Why isn't it running?" box, word for word: the same function (planning's explanation of the run, then
the pool, concurrency and scheduler checks) answers both."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import click

from flowctl.cli.runtime import Runtime, pass_runtime


@click.command("failed-deps")
@click.argument("dag_id")
@click.argument("task_id")
@click.argument("run_id")
@click.option("--map-index", type=int, default=-1, show_default=True)
@pass_runtime
def failed_deps(runtime: Runtime, dag_id: str, task_id: str, run_id: str, map_index: int) -> None:
    """Why a task instance would not run now (the UI's "Why isn't it running?" reasons)."""
    from flowctl.services.dags import require_dag
    from flowctl.services.runs import require_run
    from flowctl.services.waiting import waiting_reasons  # one explanation, whether asked in the UI or here
    from flowctl.state import FINISHED_TASK_STATES, TaskState

    with runtime.session() as session:
        dag = require_dag(session, dag_id)
        run = require_run(session, dag_id, run_id)
        spec = _run_spec(session, run)
        ti = _task_instance(session, run, spec, task_id, map_index)
        reasons = waiting_reasons(session, run, dag, spec, ti, now=datetime.now(UTC))
    name = task_id if map_index < 0 else f"{task_id}[{map_index}]"
    click.echo(f"Task instance {name} of run {run_id}: {ti.state}")
    if ti.state == TaskState.RUNNING:
        click.echo("It is running now.")
    elif ti.state in FINISHED_TASK_STATES:
        clear = f"flowctl tasks clear {dag_id} -t '^{re.escape(task_id)}$' --run-id {run_id}"
        click.echo(f"It has finished; it runs again only once cleared ({clear}).")
    else:
        click.echo("Why isn't it running?")
        for reason in reasons:
            click.echo(f"- {reason}")


def _run_spec(session: Any, run: Any) -> Any:
    """The DAG version the run uses (None when it cannot be read: the reasons then say so)."""
    from flowctl.db.queries.dags import version_data
    from flowctl.exceptions import FlowctlError
    from flowctl.serialization import deserialize_dag

    if run.dag_version_id is None:
        return None
    data = version_data(session, [run.dag_version_id]).get(run.dag_version_id)
    try:
        return deserialize_dag(data) if data is not None else None
    except FlowctlError:
        return None


def _task_instance(session: Any, run: Any, spec: Any, task_id: str, map_index: int) -> Any:
    """The stored task instance; for a run not started yet (its task instances do not exist), one that
    is not stored, in state none, so the reasons say what holds the run back."""
    from flowctl.db.models import TaskInstance
    from flowctl.db.queries.task_instances import get
    from flowctl.exceptions import NotFound
    from flowctl.state import RunState

    ti = get(session, run.dag_id, run.run_id, task_id, map_index)
    if ti is not None:
        return ti
    task = spec.tasks.get(task_id) if spec is not None else None
    if run.state != RunState.QUEUED or task is None:
        raise NotFound(f"run {run.run_id!r} of DAG {run.dag_id!r} has no task instance {task_id!r}")
    return TaskInstance(
        dag_id=run.dag_id,
        run_id=run.run_id,
        task_id=task_id,
        map_index=map_index,
        state="none",
        try_number=0,
        pool=task.pool,
        pool_slots=task.pool_slots,
    )
