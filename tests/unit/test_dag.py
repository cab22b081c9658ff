"""DAG arguments, settings filled from the configuration, ids, and validation (no DB)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pendulum
import pytest

from flowctl import DAG, Param
from flowctl.dag_definition import DagDefaults
from flowctl.exceptions import DagCycleError, DagDefinitionError, FlowctlError, ParamValidationError
from flowctl.operators import EmptyOperator

JAN1 = datetime(2024, 1, 1)


def test_schedule_and_schedule_interval_are_the_same_setting() -> None:
    assert DAG("new_style", schedule="0 4 * * *").schedule == "0 4 * * *"
    assert DAG("old_style", schedule_interval="0 4 * * *").schedule == "0 4 * * *"


def test_giving_both_schedule_and_schedule_interval_is_an_error_naming_the_dag() -> None:
    with pytest.raises(DagDefinitionError, match=r"'both'.*schedule or schedule_interval"):
        DAG("both", schedule="@daily", schedule_interval="@hourly")


def test_schedule_defaults_to_daily_like_airflow_2() -> None:
    assert DAG("unscheduled").schedule == timedelta(days=1)


def test_schedule_none_means_manual_only_and_is_kept() -> None:
    assert DAG("manual", schedule=None).schedule is None
    assert DAG("manual_old", schedule_interval=None).schedule is None


def test_a_tag_over_100_characters_is_a_definition_error() -> None:
    DAG("fine", tags=["x" * 100])
    with pytest.raises(DagDefinitionError, match="longer than 100 characters"):
        DAG("too_long", tags=["x" * 101])


def test_tags_are_deduplicated_and_sorted() -> None:
    assert DAG("tagged", tags=["reports", "finance", "reports"]).tags == ["finance", "reports"]
    assert DAG("untagged").tags == []


def test_start_and_end_date_come_from_default_args_when_not_given() -> None:
    dag = DAG("dated", default_args={"start_date": JAN1, "end_date": datetime(2024, 2, 1)})

    assert dag.start_date == JAN1
    assert dag.end_date == datetime(2024, 2, 1)


def test_run_level_settings_are_left_unset_for_the_configuration_to_fill() -> None:
    dag = DAG("plain")

    assert dag.catchup is None
    assert dag.max_active_runs is None
    assert dag.max_active_tasks is None
    assert dag.is_paused_upon_creation is None
    assert dag.timezone is None


def test_legacy_concurrency_argument_sets_max_active_tasks() -> None:
    assert DAG("legacy", concurrency=4).max_active_tasks == 4
    assert DAG("both_given", concurrency=4, max_active_tasks=8).max_active_tasks == 8


def test_template_searchpath_given_as_one_string_becomes_a_list() -> None:
    assert DAG("one_path", template_searchpath="/sql").template_searchpath == ["/sql"]
    assert DAG("two_paths", template_searchpath=["/a", "/b"]).template_searchpath == ["/a", "/b"]


def test_plain_params_become_params_without_schema_and_merge_over_default_args_params() -> None:
    dag = DAG(
        "with_params",
        default_args={"params": {"region": "eu", "limit": 5}},
        params={"limit": Param(10, type="integer")},
    )

    assert dag.params["region"].default == "eu"
    assert dag.params["region"].schema == {}
    assert dag.params["limit"].default == 10
    assert dag.params["limit"].schema == {"type": "integer"}


def test_fileloc_is_the_file_that_defined_the_dag() -> None:
    assert DAG("here").fileloc == __file__


# apply_defaults


def test_apply_defaults_fills_what_the_dag_left_unset() -> None:
    dag = DAG("defaults", start_date=JAN1)

    dag.apply_defaults(
        DagDefaults(
            catchup=True,
            max_active_runs=3,
            max_active_tasks=7,
            timezone="Europe/Paris",
            is_paused_upon_creation=False,
        )
    )

    assert dag.catchup is True
    assert dag.max_active_runs == 3
    assert dag.max_active_tasks == 7
    assert dag.timezone == "Europe/Paris"
    assert dag.is_paused_upon_creation is False


def test_apply_defaults_keeps_what_the_dag_file_set() -> None:
    dag = DAG(
        "explicit",
        start_date=JAN1,
        catchup=False,
        max_active_runs=1,
        max_active_tasks=2,
        is_paused_upon_creation=True,
    )

    dag.apply_defaults(DagDefaults(catchup=True, max_active_runs=9, max_active_tasks=9, is_paused_upon_creation=False))

    assert (dag.catchup, dag.max_active_runs, dag.max_active_tasks) == (False, 1, 2)
    assert dag.is_paused_upon_creation is True


def test_naive_start_date_is_read_as_wall_time_in_the_default_timezone() -> None:
    # Given a naive start date and a configured default timezone
    dag = DAG("naive", start_date=datetime(2024, 1, 1, 2, 0), end_date=datetime(2024, 6, 1))

    # When the configuration is applied
    dag.apply_defaults(DagDefaults(timezone="Asia/Seoul"))

    # Then 02:00 means 02:00 in Seoul, i.e. 17:00 UTC the day before
    assert dag.timezone == "Asia/Seoul"
    assert dag.start_date == pendulum.datetime(2024, 1, 1, 2, 0, tz="Asia/Seoul")
    assert dag.start_date.in_timezone("UTC") == pendulum.datetime(2023, 12, 31, 17, 0, tz="UTC")
    assert dag.end_date == pendulum.datetime(2024, 6, 1, tz="Asia/Seoul")


def test_aware_start_date_keeps_its_timezone_name_over_the_default() -> None:
    dag = DAG("seoul", start_date=pendulum.datetime(2024, 1, 1, tz="Asia/Seoul"))

    dag.apply_defaults(DagDefaults(timezone="Europe/Paris"))

    assert dag.timezone == "Asia/Seoul"
    assert dag.start_date == pendulum.datetime(2024, 1, 1, tz="Asia/Seoul")


def test_zoneinfo_start_date_timezone_name_is_kept() -> None:
    from zoneinfo import ZoneInfo

    dag = DAG("zoneinfo", start_date=datetime(2024, 1, 1, tzinfo=ZoneInfo("Asia/Seoul")))

    dag.apply_defaults(DagDefaults())

    assert dag.timezone == "Asia/Seoul"


def test_start_date_in_fixed_utc_has_timezone_utc() -> None:
    dag = DAG("utc", start_date=datetime(2024, 1, 1, tzinfo=UTC))

    dag.apply_defaults(DagDefaults(timezone="Asia/Seoul"))

    assert dag.timezone == "UTC"
    assert dag.start_date == pendulum.datetime(2024, 1, 1, tz="UTC")


def test_apply_defaults_localizes_task_level_dates_in_the_dag_timezone() -> None:
    with DAG("task_dates", start_date=pendulum.datetime(2024, 1, 1, tz="Asia/Seoul")) as dag:
        task = EmptyOperator(task_id="later", start_date=datetime(2024, 3, 1), end_date=datetime(2024, 4, 1))

    dag.apply_defaults(DagDefaults(timezone="UTC"))

    assert task.start_date == pendulum.datetime(2024, 3, 1, tz="Asia/Seoul")
    assert task.end_date == pendulum.datetime(2024, 4, 1, tz="Asia/Seoul")


# ids


@pytest.mark.parametrize("dag_id", ["daily report", "reports/daily", "a" * 251, "", "naïve"])
def test_bad_dag_id_is_refused_when_the_dag_is_made(dag_id: str) -> None:
    with pytest.raises(DagDefinitionError, match=r"dag_id .* is invalid"):
        DAG(dag_id)


@pytest.mark.parametrize("dag_id", ["a" * 250, "daily-report_v2.1", "ETL"])
def test_dag_id_of_letters_digits_dash_dot_underscore_up_to_250_chars_is_accepted(dag_id: str) -> None:
    assert DAG(dag_id).dag_id == dag_id


@pytest.mark.parametrize("task_id", ["load data", "load/data", "t" * 251])
def test_bad_task_id_is_an_error_where_the_task_is_defined(task_id: str) -> None:
    with pytest.raises(DagDefinitionError, match=r"task_id .* is invalid"), DAG("bad_task", start_date=JAN1):
        EmptyOperator(task_id=task_id)


def test_errors_are_flowctl_errors_so_the_cli_shows_one_line() -> None:
    with pytest.raises(FlowctlError):
        DAG("bad id")


# tasks and structure


def test_tasks_made_inside_the_with_block_belong_to_the_dag() -> None:
    with DAG("ctx") as dag:
        first = EmptyOperator(task_id="first")
    outside = EmptyOperator(task_id="outside")

    assert first.dag is dag
    assert dag.task_ids == ["first"]
    assert outside.dag is None


def test_tasks_given_dag_argument_belong_to_that_dag() -> None:
    dag = DAG("explicit_dag")

    task = EmptyOperator(task_id="t", dag=dag)

    assert dag.get_task("t") is task
    assert dag.has_task("t")


def test_get_task_of_unknown_id_names_dag_and_task() -> None:
    with pytest.raises(DagDefinitionError, match="DAG 'empty' has no task 'missing'"):
        DAG("empty").get_task("missing")


def test_roots_leaves_and_topological_order_follow_the_dependencies() -> None:
    with DAG("diamond") as dag:
        start, left, right, end = (EmptyOperator(task_id=i) for i in ("start", "left", "right", "end"))
        start >> [left, right] >> end

    assert dag.roots == [start]
    assert dag.leaves == [end]
    order = [t.task_id for t in dag.topological_order()]
    assert order[0] == "start" and order[-1] == "end"
    assert sorted(dag.iter_dependencies()) == [
        ("left", "end"),
        ("right", "end"),
        ("start", "left"),
        ("start", "right"),
    ]


def test_topological_order_of_independent_tasks_is_definition_order() -> None:
    with DAG("flat") as dag:
        for task_id in ("c", "a", "b"):
            EmptyOperator(task_id=task_id)

    assert [t.task_id for t in dag.topological_order()] == ["c", "a", "b"]


def test_dag_owner_lists_the_owners_of_its_tasks() -> None:
    with DAG("owners", default_args={"owner": "data"}) as dag:
        EmptyOperator(task_id="a")
        EmptyOperator(task_id="b", owner="ops")

    assert dag.owner == "data, ops"


# validate (needs the schedule module)


def test_validate_accepts_a_well_formed_dag() -> None:
    pytest.importorskip("flowctl.schedule")
    with DAG("fine", schedule="0 2 * * *", start_date=JAN1, params={"n": Param(1, type="integer")}) as dag:
        EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
    dag.apply_defaults(DagDefaults())

    dag.validate()


def test_validate_catches_a_bad_cron_expression() -> None:
    pytest.importorskip("flowctl.schedule")
    dag = DAG("bad_cron", schedule="61 * * * *", start_date=JAN1)

    with pytest.raises(FlowctlError, match=r"schedule '61 \* \* \* \*'"):
        dag.validate()


def test_validate_names_the_cycle() -> None:
    pytest.importorskip("flowctl.schedule")
    with DAG("loop", start_date=JAN1) as dag:
        a, b = EmptyOperator(task_id="a"), EmptyOperator(task_id="b")
        a >> b >> a

    with pytest.raises(DagCycleError, match="a -> b -> a"):
        dag.validate()


def test_validate_refuses_a_param_default_that_breaks_its_schema_naming_the_param() -> None:
    pytest.importorskip("flowctl.schedule")
    dag = DAG("bad_param", start_date=JAN1, params={"batch": Param(0, type="integer", minimum=1)})

    with pytest.raises(ParamValidationError, match=r"param 'batch'.*minimum"):
        dag.validate()


def test_validate_refuses_negative_retries() -> None:
    pytest.importorskip("flowctl.schedule")
    with DAG("neg", start_date=JAN1) as dag:
        EmptyOperator(task_id="t", retries=-1)

    with pytest.raises(DagDefinitionError, match=r"'t'.*retries"):
        dag.validate()
