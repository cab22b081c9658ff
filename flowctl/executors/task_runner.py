"""The task process: run one task instance try and report its outcome.

Runs in a child forked per try (or in-process for `tasks run` / `dags test`). It only reads the
metadata DB (run, XComs, variables, connections); the outcome — state, XComs, rendered fields, branch
decisions — goes back to the caller, and the scheduler writes it.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet
from sqlalchemy.orm import Session, sessionmaker

from flowctl.config import Settings
from flowctl.dag_definition import DAG
from flowctl.db.queries import runs as run_queries
from flowctl.db.queries import xcoms as xcom_queries
from flowctl.db.secrets import SecretCipher, is_sensitive_name
from flowctl.exceptions import FailTask, FlowctlError, NotFound, RescheduleTask, SkipTask
from flowctl.executors.base import RunSnapshot, TaskCommand, TaskOutcome
from flowctl.executors.runtime_ti import RuntimeTaskInstance, one_or_many
from flowctl.taskflow import RETURN_VALUE, MappedOperator
from flowctl.xcom_codec import decode_xcom

if TYPE_CHECKING:
    from flowctl.notify import EmailKind

log = logging.getLogger("flowctl.task")


def run_task(
    command: TaskCommand,
    dag: DAG,
    *,
    settings: Settings,
    session_factory: sessionmaker[Session],
    masker: Any = None,
    on_started: Callable[[], None] | None = None,
    on_outcome: Callable[[TaskOutcome], None] | None = None,
    test_mode: bool = False,
) -> TaskOutcome:
    """Run one try: build the context, render templates, execute, collect XComs. Never raises.
    `on_outcome` gets the outcome as soon as it is known, before callbacks and mail (the task process
    makes it durable there). `test_mode` (`tasks test`) sets the context's `test_mode` and sends no
    e-mail and calls no success/failure/retry callback: a trial run must not alert anyone."""
    from flowctl.notify import run_callbacks

    key = command.key
    session = _SessionOnDemand(session_factory)
    try:
        try:
            run = command.run or snapshot_run(session(), key.dag_id, key.run_id)
            task = _concrete_task(dag, command, session, run)
            ti = RuntimeTaskInstance(command, run=run, session=session, settings=settings)
            ti.sensor_first_poke_at = command.first_poke_at
            context = _build_context(
                dag, task, run, ti, session=session, settings=settings, masker=masker, test_mode=test_mode
            )
        except Exception as exc:  # the task could not even start: a definition or DB problem
            log.error("task %s could not start: %s", key.task_id, exc, exc_info=not isinstance(exc, FlowctlError))
            outcome = TaskOutcome(state="failed", retryable=not isinstance(exc, FlowctlError), error=str(exc))
            if on_outcome:
                on_outcome(outcome)
            return outcome
        if on_started:
            on_started()
        log.info("Running %s (try %s) of run %s", key.task_id, key.try_number, key.run_id)
        run_callbacks(task.on_execute_callback, context, logger=log)
        outcome = _execute(task, context, ti, masker=masker)
        if on_outcome:
            on_outcome(outcome)
        if outcome.state == "success":  # said once the outcome is safe: a try that says so is never rerun
            log.info("Task %s succeeded", key.task_id)
        if test_mode:
            log.info("Test mode: no e-mail sent and no success, failure or retry callback called")
        else:
            _notify(task, context, outcome, command=command, settings=settings)
        return outcome
    finally:
        session.close()


class _SessionOnDemand:
    """The try's DB session, opened on first use: a task that reads no XCom, variable or connection
    (its command carries the run) never sets one up."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory
        self._session: Session | None = None

    def __call__(self) -> Session:
        if self._session is None:
            self._session = self._factory()
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()


def _notify(
    task: Any, context: dict[str, Any], outcome: TaskOutcome, *, command: TaskCommand, settings: Settings
) -> None:
    """Callbacks and e-mail for this try's outcome; neither can change it."""
    from flowctl.notify import notify_safely, run_callbacks

    if outcome.state not in ("success", "failed"):
        return
    # The scheduler's own rule (scheduler/events.py): retried while try_number <= the row's max_tries.
    max_tries = task.retries if command.max_tries is None else command.max_tries
    will_retry = outcome.state == "failed" and outcome.retryable and command.key.try_number <= max_tries
    kind = "success" if outcome.state == "success" else "retry" if will_retry else "failure"
    context["exception"] = outcome.error
    callback = {"success": task.on_success_callback, "retry": task.on_retry_callback}.get(
        kind, task.on_failure_callback
    )
    run_callbacks(callback, context, logger=log)
    wanted = {
        "success": task.email_on_success,
        "retry": task.email_on_retry,
        "failure": task.email_on_failure,
    }
    if not (task.email and wanted[kind]):
        return
    state = "up_for_retry" if will_retry else outcome.state
    notify_safely(
        lambda: _send_alert(
            task, context, outcome, command=command, settings=settings, kind=kind, state=state, tries=max_tries + 1
        ),
        logger=log,
    )


def _send_alert(
    task: Any,
    context: dict[str, Any],
    outcome: TaskOutcome,
    *,
    command: TaskCommand,
    settings: Settings,
    kind: EmailKind,
    state: str,
    tries: int,
) -> None:
    """Mail one try's outcome (`state` as the task instance will be; `tries` allowed, as the UI shows).
    [smtp] and the link's base_url are read again from the config file and the environment: a changed
    mail server needs no restart of the scheduler this process was forked from."""
    import os

    from flowctl.config import reload_options
    from flowctl.notify import log_url, send_email, task_email

    settings = reload_options(settings, os.environ)
    key = command.key
    link = log_url(
        settings.webserver.base_url,
        dag_id=key.dag_id,
        run_id=key.run_id,
        task_id=key.task_id,
        map_index=key.map_index,
        try_number=key.try_number,
    )
    subject, html, text = task_email(
        kind,
        dag_id=key.dag_id,
        task_id=key.task_id,
        run_id=key.run_id,
        try_number=key.try_number,
        tries_allowed=tries,
        state=state,
        exception=outcome.error,
        log_url=link,
        logical_date=context["logical_date"],
    )
    send_email(settings.smtp, to=list(task.email), subject=subject, html=html, text=text)


def _execute(task: Any, context: dict[str, Any], ti: RuntimeTaskInstance, *, masker: Any) -> TaskOutcome:
    from flowctl.templating import make_environment, render_template_fields

    rendered: dict[str, Any] | None = None
    try:
        if task.template_fields:  # making a Jinja environment is not free: only when there is something to render
            rendered = render_template_fields(task, context, make_environment(context["dag"]))
        result = task.execute(context)
        if task.do_xcom_push and result is not None:
            if task.multiple_outputs and isinstance(result, dict):
                for name, value in result.items():
                    ti.xcom_push(str(name), value)
            ti.xcom_push(RETURN_VALUE, result)
        state, retryable, error = "success", True, None
    except SkipTask as exc:
        state, retryable, error = "skipped", True, str(exc)
        log.info("Task %s skipped: %s", task.task_id, exc)
    except RescheduleTask as exc:
        return TaskOutcome(
            state="up_for_reschedule",
            reschedule_at=exc.reschedule_at.isoformat(),  # type: ignore[attr-defined]
            first_poke_at=ti.sensor_first_poke_at.isoformat() if ti.sensor_first_poke_at else None,
            dag_run_requests=ti.dag_run_requests,
            rendered_fields=_shown(rendered, masker),
        )
    except BaseException as exc:  # a task may raise anything; it must end as a failure
        state, retryable = "failed", not isinstance(exc, FailTask)
        error = f"{type(exc).__name__}: {exc}"
        log.error("Task %s failed:\n%s", task.task_id, traceback.format_exc().rstrip())
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            error = f"{type(exc).__name__} raised in the task"
    if error and masker is not None:
        error = masker.mask(error)  # the UI shows it: the secrets the try used stay masked as in its log
    return TaskOutcome(
        state=state,
        retryable=retryable,
        error=error,
        xcoms=list(ti.pushed.items()) if state == "success" else [],
        rendered_fields=_shown(rendered, masker),
        follow_branches=ti.decisions.follow_branches,
        skip_downstream=ti.decisions.skip_downstream,
        respect_trigger_rules=ti.decisions.respect_trigger_rules,
        dag_run_requests=ti.dag_run_requests if state == "success" else [],
    )


def _shown(rendered: dict[str, Any] | None, masker: Any) -> dict[str, Any] | None:
    """Rendered fields as the UI may show them: JSON-able, secrets masked."""
    if rendered is None:
        return None
    from flowctl.serialization import _jsonable

    value = _jsonable(rendered)
    return masker.mask_value(value) if masker is not None else value


def _concrete_task(dag: DAG, command: TaskCommand, session: Callable[[], Session], run: Any) -> Any:
    task = dag.get_task(command.key.task_id)
    if not isinstance(task, MappedOperator):
        return copy.copy(task)  # templates render onto the copy: an in-process retry renders afresh
    values = {}
    for name, source in task.expand_input.items():
        items = _expand_source(source, session(), run)
        values[name] = items[command.key.map_index]
    return task.unmap(values)


def _expand_source(source: Any, session: Session, run: Any) -> list[Any]:
    from flowctl.taskflow import XComArg

    if isinstance(source, XComArg):
        rows = xcom_queries.pull(
            session,
            dag_id=run.dag_id,
            run_id=run.run_id,
            task_ids=[source.operator.task_id],
            key=source.key,
            map_indexes=None,
            include_prior_dates=False,
            logical_date=run.logical_date,
        )
        value = one_or_many([(map_index, decode_xcom(data)) for _, map_index, data in rows])
    else:
        value = source
    return list(value.items()) if isinstance(value, dict) else list(value or [])


def snapshot_run(session: Session, dag_id: str, run_id: str) -> RunSnapshot:
    """A run as task processes see it (what the scheduler sends with each command)."""
    run = run_queries.get_run(session, dag_id, run_id)
    if run is None:
        raise NotFound(f"run {run_id!r} of DAG {dag_id!r} does not exist")
    return RunSnapshot.of(run, run_queries.previous_successful_run(session, dag_id, run.logical_date))


def _build_context(
    dag: DAG,
    task: Any,
    run: Any,
    ti: RuntimeTaskInstance,
    *,
    session: Callable[[], Session],
    settings: Settings,
    masker: Any,
    test_mode: bool = False,
) -> dict[str, Any]:
    from flowctl.hooks.base import BaseHook
    from flowctl.params import resolve_params
    from flowctl.services import connections, variables
    from flowctl.templating import (
        ConnectionAccessor,
        PreviousSuccess,
        RunInfo,
        VariableAccessor,
        build_context,
    )
    from flowctl.variable import Variable, from_environment

    @functools.cache
    def cipher() -> SecretCipher:  # only when a variable or connection is read
        return SecretCipher(settings.core.fernet_key)

    def get_variable(key: str) -> str | None:
        value = from_environment(key)
        if value is None:
            try:
                value = variables.get_variable(session(), cipher(), key)
            except NotFound:
                return None
        if masker is not None and is_sensitive_name(key):
            masker.add(value)
        return value

    def get_connection(conn_id: str) -> Any:
        import os

        conn = connections.get_connection(session(), cipher(), conn_id, environ=os.environ)
        if masker is not None:
            masker.add(conn.password)
            for key, value in conn.extra_dejson.items():
                if is_sensitive_name(key) and isinstance(value, str):
                    masker.add(value)  # an API token in the extra is as secret as a password
        return conn

    Variable.install_source(get_variable)
    BaseHook.install_connection_source(get_connection)  # hooks read connections as templates do: masked
    info = RunInfo(
        run_id=run.run_id,
        run_type=run.run_type,
        logical_date=run.logical_date,
        data_interval_start=run.data_interval_start,
        data_interval_end=run.data_interval_end,
        conf=run.conf,
        start_date=run.start_date,
        external_trigger=run.external_trigger,
    )
    context = build_context(
        dag=dag,
        task=task,
        run=info,
        ti=ti,
        params=resolve_params(task.params, info.conf),
        variables=VariableAccessor(get_variable),
        connections=ConnectionAccessor(get_connection),
        prev_success=PreviousSuccess(
            data_interval_start=run.prev_success_interval_start,
            data_interval_end=run.prev_success_interval_end,
            start_date=run.prev_success_start_date,
        )
        if run.prev_success_interval_start
        else None,
        test_mode=test_mode,
    )
    context["is_latest_run"] = True
    return context


def warm_queries(session: Session) -> None:
    """Run each query a task try makes once (finding nothing), so their compiled SQL is cached."""
    from flowctl.services import connections, variables

    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    run_queries.get_run(session, "", "")
    run_queries.previous_successful_run(session, "", epoch)
    xcom_queries.pull(
        session,
        dag_id="",
        run_id="",
        task_ids=[""],
        key="",
        map_indexes=None,
        include_prior_dates=False,
        logical_date=epoch,
    )
    cipher = SecretCipher(Fernet.generate_key().decode())
    with contextlib.suppress(NotFound):
        variables.get_variable(session, cipher, "")
    with contextlib.suppress(NotFound):
        connections.get_connection(session, cipher, "", environ={})
