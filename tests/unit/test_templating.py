from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import jinja2
import pendulum
import pytest

from flowctl.connection import Connection
from flowctl.dag_definition import DAG
from flowctl.exceptions import NotFound, TemplateRenderError
from flowctl.operators.bash import BashOperator
from flowctl.operators.python import PythonOperator
from flowctl.params import resolve_params
from flowctl.taskflow import task
from flowctl.templating import (
    ConnectionAccessor,
    PreviousSuccess,
    RunInfo,
    VariableAccessor,
    build_context,
    ds_add,
    ds_format,
    make_environment,
    render_template,
    render_template_fields,
)

SEOUL_4AM = pendulum.datetime(2024, 1, 1, 4, tz="Asia/Seoul")  # = 2023-12-31T19:00Z
VARIABLES = {"greeting": "hello", "settings": json.dumps({"rows": 3, "tables": ["a", "b"]}), "bad": "{"}
CONNECTIONS = {"warehouse": Connection(conn_id="warehouse", conn_type="postgres", host="db.local", port=5432)}


class FakeTaskInstance:
    """Answers xcom_pull from a dict keyed by (task_id, key)."""

    def __init__(self, xcoms: dict[tuple[str, str], Any] | None = None) -> None:
        self.xcoms = xcoms or {}
        self.try_number = 1

    def xcom_pull(self, task_ids: str | None = None, key: str = "return_value", **_: Any) -> Any:
        return self.xcoms.get((task_ids or "", key))


def get_connection(conn_id: str) -> Connection:
    try:
        return CONNECTIONS[conn_id]
    except KeyError:
        raise NotFound(f"connection {conn_id!r} does not exist") from None


def make_context(dag: DAG, task_id: str, *, ti: Any = None, **run_fields: Any) -> dict[str, Any]:
    run = RunInfo(
        **{
            "run_id": "scheduled__2024-01-01T04:00:00+09:00",
            "run_type": "scheduled",
            "logical_date": SEOUL_4AM,
            "data_interval_start": SEOUL_4AM,
            "data_interval_end": SEOUL_4AM.add(days=1),
            "conf": {"target": "prod"},
            "start_date": SEOUL_4AM.add(days=1, minutes=1),
            **run_fields,
        }
    )
    operator = dag.get_task(task_id)
    return build_context(
        dag=dag,
        task=operator,
        run=run,
        ti=ti if ti is not None else FakeTaskInstance(),
        params=resolve_params(operator.params, run.conf),  # a task's params include its DAG's
        variables=VariableAccessor(VARIABLES.get),
        connections=ConnectionAccessor(get_connection),
        prev_success=PreviousSuccess(
            data_interval_start=SEOUL_4AM.subtract(days=1),
            data_interval_end=SEOUL_4AM,
            start_date=SEOUL_4AM.add(minutes=2),
        ),
    )


def render(dag: DAG, task_id: str, **run_fields: Any) -> dict[str, Any]:
    context = make_context(dag, task_id, **run_fields)
    return render_template_fields(dag.get_task(task_id), context, make_environment(dag))


@pytest.fixture
def report_dag() -> Iterator[DAG]:
    with DAG("report", schedule="0 4 * * *", start_date=SEOUL_4AM, params={"limit": 10}) as dag:
        BashOperator(task_id="load", bash_command="echo")
    yield dag


# the context


def test_context_formats_the_logical_date_in_utc(report_dag: DAG) -> None:
    context = make_context(report_dag, "load")

    assert context["ds"] == "2023-12-31"
    assert context["ds_nodash"] == "20231231"
    assert context["ts"] == "2023-12-31T19:00:00+00:00"
    assert context["ts_nodash"] == "20231231T190000"
    assert context["ts_nodash_with_tz"] == "20231231T190000+0000"
    assert context["task_instance_key_str"] == "report__load__20231231"


def test_context_dates_are_pendulum_in_utc(report_dag: DAG) -> None:
    context = make_context(report_dag, "load")

    expected = {
        "logical_date": pendulum.datetime(2023, 12, 31, 19),
        "execution_date": pendulum.datetime(2023, 12, 31, 19),
        "data_interval_start": pendulum.datetime(2023, 12, 31, 19),
        "data_interval_end": pendulum.datetime(2024, 1, 1, 19),
        "prev_data_interval_start_success": pendulum.datetime(2023, 12, 30, 19),
        "prev_data_interval_end_success": pendulum.datetime(2023, 12, 31, 19),
        "prev_start_date_success": pendulum.datetime(2023, 12, 31, 19, 2),
    }
    for key, value in expected.items():
        assert isinstance(context[key], pendulum.DateTime), key
        assert context[key] == value, key
        assert context[key].timezone_name == "UTC", key


def test_context_has_the_run_task_and_accessors(report_dag: DAG) -> None:
    ti = FakeTaskInstance()

    context = make_context(report_dag, "load", ti=ti)

    assert context["dag"] is report_dag
    assert context["task"] is report_dag.get_task("load")
    assert context["ti"] is ti and context["task_instance"] is ti
    assert context["run_id"] == "scheduled__2024-01-01T04:00:00+09:00"
    assert context["params"] == {"limit": 10, "target": "prod"}
    assert context["conf"] == {"target": "prod"}
    assert context["test_mode"] is False
    assert context["inlets"] == [] and context["outlets"] == []
    assert context["triggering_dataset_events"] == {}
    dag_run = context["dag_run"]
    assert (dag_run.dag_id, dag_run.run_type, dag_run.external_trigger) == ("report", "scheduled", False)
    assert dag_run.conf is context["conf"]
    assert dag_run.logical_date == context["logical_date"]
    assert dag_run.start_date == pendulum.datetime(2024, 1, 1, 19, 1)
    assert {"var", "conn", "macros"} <= set(context)


def test_context_without_previous_success_has_none(report_dag: DAG) -> None:
    context = build_context(
        dag=report_dag,
        task=report_dag.get_task("load"),
        run=RunInfo("manual__1", "manual", SEOUL_4AM, SEOUL_4AM, SEOUL_4AM, external_trigger=True),
        ti=FakeTaskInstance(),
        params={},
        variables=VariableAccessor(VARIABLES.get),
        connections=ConnectionAccessor(get_connection),
        prev_success=None,
        test_mode=True,
    )

    assert context["prev_data_interval_start_success"] is None
    assert context["prev_data_interval_end_success"] is None
    assert context["prev_start_date_success"] is None
    assert context["dag_run"].start_date is None
    assert context["test_mode"] is True


def test_naive_run_dates_are_refused(report_dag: DAG) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_context(report_dag, "load", logical_date=SEOUL_4AM.naive())


# rendering the context


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ ds }} {{ ts_nodash }}", "2023-12-31 20231231T190000"),
        ("{{ logical_date.year }}-{{ data_interval_end.day }}", "2023-1"),
        (
            "{{ dag.dag_id }}.{{ task.task_id }} {{ run_id }}",
            "report.load scheduled__2024-01-01T04:00:00+09:00",
        ),
        ("{{ params.limit }} {{ conf.target }} {{ dag_run.conf['target'] }}", "10 prod prod"),
        ("{{ var.value.greeting }} {{ var.value['greeting'] }}", "hello hello"),
        ("{{ var.json.settings.rows }} {{ var.json.settings['tables'][1] }}", "3 b"),
        ("{{ var.value.get('missing', 'fallback') }} {{ var.json.get('missing', 7) }}", "fallback 7"),
        ("{{ conn.warehouse.host }}:{{ conn['warehouse'].port }}", "db.local:5432"),
        ("{{ conn.get('missing', 'none') }}", "none"),
        (
            "{{ macros.ds_add(ds, 2) }} {{ macros.ds_format(ds, '%Y-%m-%d', '%d/%m/%Y') }}",
            "2024-01-02 31/12/2023",
        ),
        ("{{ (macros.datetime(2024, 1, 1) + macros.timedelta(days=1)).day }}", "2"),
        ("{{ macros.uuid.UUID(int=0) }}", "00000000-0000-0000-0000-000000000000"),
        ("{{ logical_date | ds_nodash }} {{ data_interval_end | ts }}", "20231231 2024-01-01T19:00:00+00:00"),
    ],
)
def test_template_sees_the_context(report_dag: DAG, template: str, expected: str) -> None:
    context = make_context(report_dag, "load")

    assert render_template(template, context, make_environment(report_dag)) == expected


def test_macros_modules_are_available(report_dag: DAG) -> None:
    macros = make_context(report_dag, "load")["macros"]

    assert {"time", "random", "uuid"} <= set(vars(macros))
    assert callable(macros.time.time) and callable(macros.random.random)


def test_ds_add_and_ds_format() -> None:
    assert ds_add("2024-01-01", -1) == "2023-12-31"
    assert ds_add("2024-02-28", 1) == "2024-02-29"
    assert ds_add("2024-01-01", 0) == "2024-01-01"
    assert ds_format("2024-01-05", "%Y-%m-%d", "%d/%m/%Y") == "05/01/2024"
    assert ds_format("20240105", "%Y%m%d", "%Y-%m-%d") == "2024-01-05"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ var.value.missing }}", "variable 'missing' does not exist"),
        ("{{ var.json.bad }}", "variable 'bad' is not valid JSON"),
        ("{{ conn.missing.host }}", "connection 'missing' does not exist"),
    ],
)
def test_missing_variable_or_connection_fails_naming_it(report_dag: DAG, template: str, message: str) -> None:
    context = make_context(report_dag, "load")

    with pytest.raises(TemplateRenderError, match=message):
        render_template(template, context, make_environment(report_dag))


# failures


def test_undefined_name_fails_naming_task_field_and_name() -> None:
    with DAG("strict", start_date=SEOUL_4AM) as dag:
        load = BashOperator(task_id="load", bash_command="echo {{ nope }}")

    with pytest.raises(TemplateRenderError) as raised:
        render(dag, "load")

    assert str(raised.value) == "task 'load' field 'bash_command': 'nope' is undefined"
    assert isinstance(raised.value.__cause__, jinja2.UndefinedError)
    assert load.bash_command == "echo {{ nope }}"


def test_undefined_attribute_fails() -> None:
    with DAG("strict", start_date=SEOUL_4AM) as dag:
        BashOperator(task_id="load", bash_command="echo {{ params.nope }}")

    with pytest.raises(TemplateRenderError, match=r"^task 'load' field 'bash_command': .*'nope'"):
        render(dag, "load")


def test_syntax_error_names_task_field_and_line() -> None:
    with DAG("syntax", start_date=SEOUL_4AM) as dag:
        BashOperator(task_id="load", bash_command="echo\n{{ ds }")

    with pytest.raises(TemplateRenderError, match=r"^task 'load' field 'bash_command': syntax error on line 2"):
        render(dag, "load")


def test_error_inside_a_macro_is_a_render_error() -> None:
    def explode() -> str:
        raise RuntimeError("macro broke")

    with DAG("macro", start_date=SEOUL_4AM, user_defined_macros={"explode": explode}) as dag:
        BashOperator(task_id="load", bash_command="{{ explode() }}")

    with pytest.raises(TemplateRenderError, match=r"^task 'load' field 'bash_command': macro broke$"):
        render(dag, "load")


# template files


def test_bash_command_from_a_script_file_in_template_searchpath(tmp_path: Any) -> None:
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "load.sh").write_text("#!/bin/bash\necho {{ ds }} {{ params.limit }}\n")
    with DAG("files", start_date=SEOUL_4AM, template_searchpath=str(tmp_path), params={"limit": 5}) as dag:
        load = BashOperator(task_id="load", bash_command="scripts/load.sh")

    rendered = render(dag, "load")

    assert rendered["bash_command"] == "#!/bin/bash\necho 2023-12-31 5\n"
    assert load.bash_command == rendered["bash_command"]


def test_template_file_from_the_dag_folder() -> None:
    with DAG("files", start_date=SEOUL_4AM) as dag:
        PythonOperator(task_id="read", python_callable=print, templates_dict={"source": "{{ ds_nodash }}"})

    env = make_environment(dag)

    assert env.loader is not None
    assert env.loader.searchpath[0].endswith("tests/unit")  # type: ignore[attr-defined]


def test_missing_template_file_fails_naming_the_file(tmp_path: Any) -> None:
    with DAG("files", start_date=SEOUL_4AM, template_searchpath=[str(tmp_path)]) as dag:
        BashOperator(task_id="load", bash_command="missing.sh")

    with pytest.raises(TemplateRenderError) as raised:
        render(dag, "load")

    message = str(raised.value)
    assert message.startswith("task 'load' field 'bash_command': template file 'missing.sh' not found")
    assert str(tmp_path) in message


def test_extension_followed_by_a_space_is_an_inline_command() -> None:
    with DAG("files", start_date=SEOUL_4AM) as dag:
        BashOperator(task_id="load", bash_command="bash run.sh ")

    assert render(dag, "load")["bash_command"] == "bash run.sh "


# user macros, filters, native rendering


def test_user_defined_macros_and_filters() -> None:
    with DAG(
        "custom",
        start_date=SEOUL_4AM,
        user_defined_macros={"project": "acme", "shout": lambda s: s.upper() + "!"},
        user_defined_filters={"dashed": lambda s: s.replace("_", "-")},
    ) as dag:
        BashOperator(
            task_id="load",
            bash_command="{{ project }} {{ shout('hi') }} {{ 'a_b' | dashed }} {{ macros.project }}",
        )

    assert render(dag, "load")["bash_command"] == "acme HI! a-b acme"


def test_native_rendering_keeps_python_types() -> None:
    with DAG("native", start_date=SEOUL_4AM, render_template_as_native_obj=True) as dag:
        PythonOperator(
            task_id="compute",
            python_callable=print,
            op_kwargs={"numbers": "{{ [1, 2] }}", "size": "{{ params.size }}", "label": "5"},
            params={"size": 3},
        )

    rendered = render(dag, "compute")

    assert rendered["op_kwargs"] == {"numbers": [1, 2], "size": 3, "label": "5"}


def test_native_rendering_still_fails_on_an_undefined_name() -> None:
    with DAG("native", start_date=SEOUL_4AM, render_template_as_native_obj=True) as dag:
        PythonOperator(task_id="compute", python_callable=print, op_kwargs={"size": "{{ params.nope }}"})

    with pytest.raises(TemplateRenderError, match=r"^task 'compute' field 'op_kwargs': .*'nope'"):
        render(dag, "compute")


def test_native_can_be_forced_for_one_environment(report_dag: DAG) -> None:
    context = make_context(report_dag, "load")

    assert render_template("{{ [1, 2] }}", context, make_environment(report_dag)) == "[1, 2]"
    assert render_template("{{ [1, 2] }}", context, make_environment(report_dag, native=True)) == [1, 2]


def test_autoescape_is_off(report_dag: DAG) -> None:
    context = make_context(report_dag, "load")

    assert render_template("{{ '<a & b>' }}", context, make_environment(report_dag)) == "<a & b>"


# structures and XCom


def test_python_operator_op_args_and_op_kwargs_are_rendered() -> None:
    with DAG("report", start_date=SEOUL_4AM) as dag:
        get_data = PythonOperator(
            task_id="get_report_data",
            python_callable=print,
            op_args=["{{ ds }}", 7],
            op_kwargs={"target_day": "{{ ds }}", "window": timedelta(hours=1), "none": None},
        )

    rendered = render(dag, "get_report_data")

    assert rendered == {
        "templates_dict": None,
        "op_args": ["2023-12-31", 7],
        "op_kwargs": {"target_day": "2023-12-31", "window": timedelta(hours=1), "none": None},
    }
    assert get_data.op_kwargs["target_day"] == "2023-12-31"


def test_nested_structures_render_values_not_keys(report_dag: DAG) -> None:
    context = make_context(report_dag, "load")
    value = {
        "{{ ds }}": ["{{ ds_nodash }}", ("{{ run_id }}", 1), {"deep": "{{ conf.target }}"}],
        "set": {"{{ params.limit }}"},
    }

    rendered = render_template(value, context, make_environment(report_dag))

    assert rendered == {
        "{{ ds }}": ["20231231", ("scheduled__2024-01-01T04:00:00+09:00", 1), {"deep": "prod"}],
        "set": {"10"},
    }


def test_xcom_args_are_pulled_not_rendered() -> None:
    with DAG("flow", start_date=SEOUL_4AM) as dag:

        @task
        def extract() -> dict[str, Any]:
            return {}

        @task
        def load(rows: Any, options: dict[str, Any]) -> None:
            pass

        data = extract()
        load(data, options={"count": data["count"], "tags": [data, "{{ ds }}"]})
    ti = FakeTaskInstance({("extract", "return_value"): "{{ not a template }}", ("extract", "count"): 3})
    context = make_context(dag, "load", ti=ti)

    rendered = render_template_fields(dag.get_task("load"), context, make_environment(dag))

    assert rendered["op_args"] == ["{{ not a template }}"]
    assert rendered["op_kwargs"] == {"options": {"count": 3, "tags": ["{{ not a template }}", "2023-12-31"]}}


def test_xcom_pull_inside_a_template(report_dag: DAG) -> None:
    ti = FakeTaskInstance({("get_report_data", "rows"): 42})
    context = make_context(report_dag, "load", ti=ti)

    rendered = render_template(
        "echo {{ ti.xcom_pull(task_ids='get_report_data', key='rows') }}",
        context,
        make_environment(report_dag),
    )

    assert rendered == "echo 42"


def test_dag_function_params_render_in_taskflow_arguments() -> None:
    from flowctl.taskflow import dag as dag_decorator

    @dag_decorator(start_date=SEOUL_4AM)
    def greet(name: str = "world") -> None:
        @task
        def say(text: str) -> str:
            return text

        say(name)

    built = greet()

    assert render(built, "say")["op_args"] == ["world"]


def test_field_that_is_not_an_attribute_fails_clearly(report_dag: DAG) -> None:
    load = report_dag.get_task("load")
    load.template_fields = ("bash_command", "nowhere")  # type: ignore[misc]
    context = make_context(report_dag, "load")

    with pytest.raises(TemplateRenderError, match="task 'load': template field 'nowhere' is not an attribute"):
        render_template_fields(load, context, make_environment(report_dag))
