"""Jinja templating for task fields: the environment of a DAG, the template context, and rendering.

Pure core: the context is built from plain inputs (`RunInfo`, callables for variables and connections)
that callers read from the metadata DB; this module imports no DB code and never reads the clock.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import jinja2
import jinja2.nativetypes
import pendulum

from flowctl.exceptions import InvalidInput, NotFound, TemplateRenderError
from flowctl.taskflow import XComArg

if TYPE_CHECKING:
    from flowctl.baseoperator import BaseOperator
    from flowctl.connection import Connection
    from flowctl.dag_definition import DAG

_JINJA_MARKERS = ("{{", "{%", "{#")


# Date formats, shared by the context keys and the filters of the same names (`{{ some_date | ds }}`).
DATE_FILTERS: dict[str, Callable[[datetime], str]] = {
    "ds": lambda value: value.strftime("%Y-%m-%d"),
    "ds_nodash": lambda value: value.strftime("%Y%m%d"),
    "ts": lambda value: value.isoformat(),
    "ts_nodash": lambda value: value.strftime("%Y%m%dT%H%M%S"),
    "ts_nodash_with_tz": lambda value: value.isoformat().replace("-", "").replace(":", ""),
}


def make_environment(dag: DAG, *, native: bool | None = None) -> jinja2.Environment:
    """The Jinja environment for `dag`'s templates: strict undefined, files from the DAG's folder and
    `template_searchpath`, its macros and filters; native Python results if the DAG asks for them."""
    searchpath = list(dag.template_searchpath)
    if not dag.fileloc.startswith("<"):  # "<unknown>", "<string>": no folder to search
        searchpath.insert(0, os.path.dirname(os.path.abspath(dag.fileloc)))
    native = dag.render_template_as_native_obj if native is None else native
    environment_class = jinja2.nativetypes.NativeEnvironment if native else jinja2.Environment
    env = environment_class(
        loader=jinja2.FileSystemLoader(searchpath),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # templates make shell commands and SQL, not HTML
        keep_trailing_newline=True,  # a script file renders byte for byte
        extensions=["jinja2.ext.do"],
    )
    env.filters.update(DATE_FILTERS)
    env.filters.update(dag.user_defined_filters)
    env.globals.update(dag.user_defined_macros)
    return env


# context inputs


@dataclass(frozen=True, slots=True)
class RunInfo:
    """The DAG run a task instance belongs to, as templates see it (`dag_run`); dates are aware."""

    run_id: str
    run_type: str
    logical_date: datetime
    data_interval_start: datetime
    data_interval_end: datetime
    conf: Mapping[str, Any] = field(default_factory=dict)
    start_date: datetime | None = None
    external_trigger: bool = False
    dag_id: str | None = None  # filled from the DAG by build_context


@dataclass(frozen=True, slots=True)
class PreviousSuccess:
    """The latest earlier successful run of the same DAG, for the `prev_*_success` keys."""

    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None
    start_date: datetime | None = None


class _VariableValues:
    """`var.value` or `var.json`: attribute or item access reads a variable; missing ones raise."""

    def __init__(self, get_variable: Callable[[str], str | None], *, deserialize: bool) -> None:
        self._get_variable = get_variable
        self._deserialize = deserialize

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):  # keep copy/pickle protocol probes away from the variable store
            raise AttributeError(key)
        return self[key]

    def __getitem__(self, key: str) -> Any:
        value = self._get_variable(key)
        if value is None:
            raise NotFound(f"variable {key!r} does not exist")
        return self._decode(key, value)

    def get(self, key: str, default: Any = None) -> Any:
        value = self._get_variable(key)
        return default if value is None else self._decode(key, value)

    def _decode(self, key: str, value: str) -> Any:
        if not self._deserialize:
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"variable {key!r} is not valid JSON: {exc.msg}") from None


class VariableAccessor:
    """`var` in templates: `{{ var.value.key }}`, `{{ var.json.key }}`, `var.value.get(key, default)`."""

    def __init__(self, get_variable: Callable[[str], str | None]) -> None:
        self.value = _VariableValues(get_variable, deserialize=False)
        self.json = _VariableValues(get_variable, deserialize=True)


class ConnectionAccessor:
    """`conn` in templates: `{{ conn.my_conn.host }}`, `conn['my-conn']`, `conn.get(conn_id)`.
    `get_connection` raises NotFound for an unknown id."""

    def __init__(self, get_connection: Callable[[str], Connection]) -> None:
        self._get_connection = get_connection

    def __getattr__(self, conn_id: str) -> Connection:
        if conn_id.startswith("_"):
            raise AttributeError(conn_id)
        return self._get_connection(conn_id)

    def __getitem__(self, conn_id: str) -> Connection:
        return self._get_connection(conn_id)

    def get(self, conn_id: str, default: Any = None) -> Any:
        try:
            return self._get_connection(conn_id)
        except NotFound:
            return default


# macros


def ds_add(ds: str, days: int) -> str:
    """A YYYY-MM-DD date moved by `days` days: `ds_add("2024-01-01", -1) == "2023-12-31"`."""
    return (date.fromisoformat(ds) + timedelta(days=days)).isoformat()


def ds_format(ds: str, input_format: str, output_format: str) -> str:
    """A date string re-written: `ds_format("2024-01-05", "%Y-%m-%d", "%d/%m/%Y") == "05/01/2024"`."""
    return datetime.strptime(ds, input_format).strftime(output_format)


class _Macros(SimpleNamespace):
    """`macros`: a name it does not hold is looked up among the installed plugins' macros
    (`macros.<plugin>.<function>`), so plugins are only loaded by a template that uses one."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        from flowctl.plugins import macros_of  # lazy: reading entry points is I/O, and rarely needed

        found = macros_of(name)
        if found is None:
            raise AttributeError(f"macros has no {name!r} (neither a built-in macro nor an installed plugin)")
        return found


def make_macros(user_defined_macros: Mapping[str, Any]) -> SimpleNamespace:
    """The `macros` namespace: the standard helpers and modules, then the DAG's own macros; plugins'
    macros under their plugin's name."""
    return _Macros(
        ds_add=ds_add,
        ds_format=ds_format,
        datetime=datetime,
        timedelta=timedelta,
        time=time,
        uuid=uuid,
        random=random,
        json=json,
        **user_defined_macros,
    )


# the context


def build_context(
    *,
    dag: DAG,
    task: BaseOperator,
    run: RunInfo,
    ti: Any,
    params: dict[str, Any],
    variables: VariableAccessor,
    connections: ConnectionAccessor,
    prev_success: PreviousSuccess | None,
    test_mode: bool = False,
) -> dict[str, Any]:
    """The template context of one task instance (also what `execute(context)` receives).
    Dates are pendulum DateTimes in UTC; `ds`, `ts` and friends format the logical date in UTC."""
    dag_run = replace(
        run,
        logical_date=_utc(run.logical_date),
        data_interval_start=_utc(run.data_interval_start),
        data_interval_end=_utc(run.data_interval_end),
        start_date=_utc_or_none(run.start_date),
        dag_id=dag.dag_id,
    )
    logical_date = dag_run.logical_date
    previous = prev_success or PreviousSuccess()
    context: dict[str, Any] = {name: format_date(logical_date) for name, format_date in DATE_FILTERS.items()}
    context.update(
        logical_date=logical_date,
        execution_date=logical_date,
        data_interval_start=dag_run.data_interval_start,
        data_interval_end=dag_run.data_interval_end,
        prev_data_interval_start_success=_utc_or_none(previous.data_interval_start),
        prev_data_interval_end_success=_utc_or_none(previous.data_interval_end),
        prev_start_date_success=_utc_or_none(previous.start_date),
        dag=dag,
        task=task,
        ti=ti,
        task_instance=ti,
        task_instance_key_str=f"{dag.dag_id}__{task.task_id}__{context['ds_nodash']}",
        dag_run=dag_run,
        run_id=dag_run.run_id,
        params=params,
        conf=dag_run.conf,
        var=variables,
        conn=connections,
        macros=make_macros(dag.user_defined_macros),
        test_mode=test_mode,
        inlets=[],
        outlets=[],
        triggering_dataset_events={},
    )
    return context


def _utc(value: datetime) -> pendulum.DateTime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"template context dates must be timezone-aware, got naive {value!r}")
    return pendulum.instance(value).in_timezone("UTC")


def _utc_or_none(value: datetime | None) -> pendulum.DateTime | None:
    return None if value is None else _utc(value)


# rendering


def render_template_fields(task: BaseOperator, context: Mapping[str, Any], env: jinja2.Environment) -> dict[str, Any]:
    """Render every attribute in `task.template_fields`, set it on the task, and return them by name.
    A failure raises TemplateRenderError naming the task, the field and the Jinja error."""
    rendered: dict[str, Any] = {}
    for name in task.template_fields:
        if not hasattr(task, name):
            raise TemplateRenderError(f"task {task.task_id!r}: template field {name!r} is not an attribute")
        try:
            value = render_template(getattr(task, name), context, env, template_ext=task.template_ext)
        except TemplateRenderError as exc:
            raise TemplateRenderError(f"task {task.task_id!r} field {name!r}: {exc}") from exc.__cause__
        setattr(task, name, value)
        rendered[name] = value
    return rendered


def render_template(
    value: Any, context: Mapping[str, Any], env: jinja2.Environment, *, template_ext: Sequence[str] = ()
) -> Any:
    """One value rendered: a string as a template (or, ending with one of `template_ext`, the template
    file it names); lists, tuples, sets and dict values recursively; an XComArg pulled from XCom;
    anything else as is. A string with no Jinja markup is returned unchanged (so native rendering
    does not turn "5" into 5)."""
    if isinstance(value, XComArg):
        return value.resolve(context)
    if isinstance(value, str):
        return _render_string(value, context, env, tuple(template_ext))
    if isinstance(value, dict):
        return {key: render_template(item, context, env, template_ext=template_ext) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [render_template(item, context, env, template_ext=template_ext) for item in value]
        if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple keeps its type
            return type(value)(*items)
        return items if isinstance(value, list) else type(value)(items)
    return value


def _render_string(value: str, context: Mapping[str, Any], env: jinja2.Environment, ext: tuple[str, ...]) -> Any:
    is_file = bool(ext) and value.endswith(ext)
    if not is_file and not any(marker in value for marker in _JINJA_MARKERS):
        return value
    try:
        template = env.get_template(value) if is_file else env.from_string(value)
        result = template.render(context)
        if isinstance(result, jinja2.Undefined):  # native rendering hands back a lone undefined...
            str(result)  # ...which StrictUndefined refuses only when used: fail here, not in execute
        return result
    except jinja2.TemplateNotFound as exc:
        searched = ", ".join(getattr(env.loader, "searchpath", [])) or "no folders"
        message = f"template file {exc.name!r} not found (searched: {searched})"
        raise TemplateRenderError(message) from exc
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateRenderError(f"syntax error on line {exc.lineno}: {exc.message}") from exc
    except Exception as exc:  # a failing macro, filter or variable is a render failure too
        raise TemplateRenderError(str(exc) or type(exc).__name__) from exc
