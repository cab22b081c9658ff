"""What operators and sensors do when `execute` is called, with a small fake context (no DB)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
import pytest

from flowctl import BaseOperator
from flowctl.exceptions import FailTask, RescheduleTask, SensorTimeout, SkipTask
from flowctl.operators import (
    BashOperator,
    BranchPythonOperator,
    EmptyOperator,
    LatestOnlyOperator,
    PythonOperator,
    ShortCircuitOperator,
)
from flowctl.sensors import BaseSensorOperator, PokeReturnValue, PythonSensor

TINY = 0.001  # seconds: sensors in these tests poke without really waiting


class FakeTI:
    """Records what an operator asks of its task instance."""

    def __init__(self, **attributes: Any) -> None:
        self.try_number = 1
        self.followed: list[list[str]] = []
        self.skipped_downstream: list[dict[str, Any]] = []
        self.__dict__.update(attributes)

    def follow_branches(self, task_ids: list[str]) -> None:
        self.followed.append(task_ids)

    def skip_downstream(self, **options: Any) -> None:
        self.skipped_downstream.append(options)


class FakeDagRun:
    def __init__(self, run_type: str) -> None:
        self.run_type = run_type


@pytest.fixture
def ti() -> FakeTI:
    return FakeTI()


@pytest.fixture
def context(ti: FakeTI) -> dict[str, Any]:
    return {"ds": "2024-01-01", "run_id": "manual__2024-01-01", "ti": ti, "params": {"limit": 3}}


# PythonOperator


def test_python_callable_gets_only_the_context_keys_it_names(context: dict[str, Any]) -> None:
    def wants_ds(ds: str) -> str:
        return f"day {ds}"

    assert PythonOperator(task_id="t", python_callable=wants_ds).execute(context) == "day 2024-01-01"


def test_python_callable_with_kwargs_gets_the_whole_context(context: dict[str, Any]) -> None:
    received: dict[str, Any] = {}

    def wants_all(**kwargs: Any) -> None:
        received.update(kwargs)

    PythonOperator(task_id="t", python_callable=wants_all).execute(context)

    assert received == context


def test_python_callable_without_parameters_is_called_without_context(context: dict[str, Any]) -> None:
    assert PythonOperator(task_id="t", python_callable=lambda: 42).execute(context) == 42


def test_op_args_and_op_kwargs_are_passed_along_with_named_context_keys(context: dict[str, Any]) -> None:
    def report(source: str, target_day: str, *, run_id: str) -> tuple[str, str, str]:
        return source, target_day, run_id

    operator = PythonOperator(
        task_id="t", python_callable=report, op_args=["s3"], op_kwargs={"target_day": "2024-01-02"}
    )

    assert operator.execute(context) == ("s3", "2024-01-02", "manual__2024-01-01")


def test_op_kwargs_win_over_a_context_key_of_the_same_name(context: dict[str, Any]) -> None:
    def wants_ds(ds: str) -> str:
        return ds

    operator = PythonOperator(task_id="t", python_callable=wants_ds, op_kwargs={"ds": "override"})

    assert operator.execute(context) == "override"


def test_provide_context_true_is_accepted_and_callable_still_gets_named_keys(context: dict[str, Any]) -> None:
    def old_style(ds: str, **kwargs: Any) -> str:
        return f"{ds} {kwargs['ti'].try_number}"

    operator = PythonOperator(task_id="t", python_callable=old_style, provide_context=True)

    assert operator.execute(context) == "2024-01-01 1"


def test_templates_dict_is_passed_when_the_callable_names_it(context: dict[str, Any]) -> None:
    def wants_templates(templates_dict: dict[str, str]) -> str:
        return templates_dict["query"]

    operator = PythonOperator(task_id="t", python_callable=wants_templates, templates_dict={"query": "SELECT 1"})

    assert operator.execute(context) == "SELECT 1"


def test_exception_in_the_callable_propagates(context: dict[str, Any]) -> None:
    def broken() -> None:
        raise FailTask("no input file")

    with pytest.raises(FailTask, match="no input file"):
        PythonOperator(task_id="t", python_callable=broken).execute(context)


def test_return_value_is_logged(context: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    PythonOperator(task_id="t", python_callable=lambda: {"rows": 3}).execute(context)

    assert "Returned value was: {'rows': 3}" in capsys.readouterr().out


# BranchPythonOperator and ShortCircuitOperator


@pytest.mark.parametrize(
    ("returned", "followed"), [("left", ["left"]), (["left", "right"], ["left", "right"]), (None, [])]
)
def test_branch_follows_the_task_ids_the_callable_returns(
    context: dict[str, Any], ti: FakeTI, returned: Any, followed: list[str]
) -> None:
    BranchPythonOperator(task_id="choose", python_callable=lambda: returned).execute(context)

    assert ti.followed == [followed]


def test_branch_returning_something_else_fails_naming_the_task(context: dict[str, Any]) -> None:
    with pytest.raises(Exception, match="branch task 'choose' must return a task_id"):
        BranchPythonOperator(task_id="choose", python_callable=lambda: 3).execute(context)


def test_short_circuit_on_falsy_result_skips_downstream(context: dict[str, Any], ti: FakeTI) -> None:
    result = ShortCircuitOperator(task_id="gate", python_callable=lambda: []).execute(context)

    assert result == []
    assert ti.skipped_downstream == [{"respect_trigger_rules": False}]


def test_short_circuit_can_respect_downstream_trigger_rules(context: dict[str, Any], ti: FakeTI) -> None:
    operator = ShortCircuitOperator(
        task_id="gate", python_callable=lambda: False, ignore_downstream_trigger_rules=False
    )

    operator.execute(context)

    assert ti.skipped_downstream == [{"respect_trigger_rules": True}]


def test_short_circuit_on_truthy_result_lets_downstream_run(context: dict[str, Any], ti: FakeTI) -> None:
    ShortCircuitOperator(task_id="gate", python_callable=lambda: "go").execute(context)

    assert ti.skipped_downstream == []


# LatestOnlyOperator and EmptyOperator


def test_latest_only_skips_downstream_of_an_older_scheduled_run(context: dict[str, Any], ti: FakeTI) -> None:
    context.update(dag_run=FakeDagRun("scheduled"), is_latest_run=False)

    LatestOnlyOperator(task_id="latest").execute(context)

    assert ti.followed == [[]]


@pytest.mark.parametrize(("run_type", "is_latest"), [("manual", False), ("scheduled", True)])
def test_latest_only_lets_manual_and_latest_runs_through(
    context: dict[str, Any], ti: FakeTI, run_type: str, is_latest: bool
) -> None:
    context.update(dag_run=FakeDagRun(run_type), is_latest_run=is_latest)

    LatestOnlyOperator(task_id="latest").execute(context)

    assert ti.followed == []


def test_empty_operator_does_nothing(context: dict[str, Any]) -> None:
    assert EmptyOperator(task_id="t").execute(context) is None


# BashOperator (runs a real bash)


def test_bash_returns_the_last_line_of_stdout_and_streams_every_line(
    context: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    operator = BashOperator(task_id="t", bash_command="echo first; echo to-stderr >&2; echo last")

    assert operator.execute(context) == "last"
    assert capsys.readouterr().out.splitlines() == ["first", "to-stderr", "last"]


def test_bash_without_output_returns_none(context: dict[str, Any]) -> None:
    assert BashOperator(task_id="t", bash_command="true").execute(context) is None


def test_bash_exit_99_skips_the_task(context: dict[str, Any]) -> None:
    with pytest.raises(SkipTask, match="exited with 99"):
        BashOperator(task_id="t", bash_command="exit 99").execute(context)


def test_bash_skip_exit_codes_are_configurable(context: dict[str, Any]) -> None:
    with pytest.raises(SkipTask):
        BashOperator(task_id="t", bash_command="exit 3", skip_on_exit_code=[3, 4]).execute(context)
    with pytest.raises(Exception, match="exited with code 99"):
        BashOperator(task_id="t", bash_command="exit 99", skip_on_exit_code=None).execute(context)


def test_bash_nonzero_exit_fails_with_the_exit_code(context: dict[str, Any]) -> None:
    with pytest.raises(Exception, match="bash command failed: it exited with code 1") as failure:
        BashOperator(task_id="t", bash_command="echo partial; exit 1").execute(context)

    assert not isinstance(failure.value, SkipTask | FailTask)  # a plain failure: retries apply


def test_bash_env_replaces_the_environment(context: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWCTL_TEST_OUTER", "outer")
    operator = BashOperator(
        task_id="t", bash_command='echo "$INNER ${FLOWCTL_TEST_OUTER:-unset}"', env={"INNER": "inner"}
    )

    assert operator.execute(context) == "inner unset"


def test_bash_append_env_adds_to_the_environment(context: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWCTL_TEST_OUTER", "outer")
    operator = BashOperator(
        task_id="t",
        bash_command='echo "$INNER $FLOWCTL_TEST_OUTER"',
        env={"INNER": "inner"},
        append_env=True,
    )

    assert operator.execute(context) == "inner outer"


def test_bash_without_env_inherits_the_environment(context: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWCTL_TEST_OUTER", "outer")

    assert BashOperator(task_id="t", bash_command="echo $FLOWCTL_TEST_OUTER").execute(context) == "outer"


def test_bash_gets_the_task_instance_in_flowctl_ctx_variables(context: dict[str, Any]) -> None:
    operator = BashOperator(task_id="t", bash_command='echo "$FLOWCTL_CTX_RUN_ID $FLOWCTL_CTX_TRY_NUMBER"')

    assert operator.execute(context) == "manual__2024-01-01 1"


def test_bash_runs_in_cwd(context: dict[str, Any], tmp_path: Path) -> None:
    assert BashOperator(task_id="t", bash_command="pwd", cwd=str(tmp_path)).execute(context) == str(tmp_path)


def test_bash_cwd_that_is_not_a_directory_fails(context: dict[str, Any], tmp_path: Path) -> None:
    missing = tmp_path / "missing"

    with pytest.raises(Exception, match="is not a directory"):
        BashOperator(task_id="t", bash_command="true", cwd=str(missing)).execute(context)


def test_bash_really_uses_bash(context: dict[str, Any]) -> None:
    # [[ ]] and arrays are bash-only
    operator = BashOperator(task_id="t", bash_command='a=(x y z); [[ ${#a[@]} == 3 ]] && echo "${a[2]}"')

    assert operator.execute(context) == "z"


# sensors


class CountingSensor(BaseSensorOperator):
    """Done on the `done_after`-th poke."""

    def __init__(self, *, done_after: int, result: Any = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.done_after = done_after
        self.result = result
        self.pokes = 0

    def poke(self, context: dict[str, Any]) -> Any:
        self.pokes += 1
        return self.result if self.pokes >= self.done_after else False


def test_poke_mode_pokes_until_done(context: dict[str, Any]) -> None:
    sensor = CountingSensor(task_id="s", done_after=3, poke_interval=TINY, timeout=10)

    assert sensor.execute(context) is None
    assert sensor.pokes == 3


def test_poke_return_value_gives_the_xcom_value(context: dict[str, Any]) -> None:
    sensor = CountingSensor(task_id="s", done_after=2, result=PokeReturnValue(True, {"path": "/x"}), poke_interval=TINY)

    assert sensor.execute(context) == {"path": "/x"}


def test_poke_return_value_is_truthy_only_when_done() -> None:
    assert not PokeReturnValue(False, "ignored")
    assert PokeReturnValue(True)


def test_sensor_timeout_raises_sensor_timeout_which_is_not_retried(context: dict[str, Any]) -> None:
    sensor = CountingSensor(task_id="s", done_after=10**9, poke_interval=TINY, timeout=0.02)

    with pytest.raises(SensorTimeout, match="sensor 's' timed out"):
        sensor.execute(context)
    assert issubclass(SensorTimeout, FailTask)


def test_sensor_timeout_with_soft_fail_skips(context: dict[str, Any]) -> None:
    sensor = CountingSensor(task_id="s", done_after=10**9, poke_interval=TINY, timeout=0.02, soft_fail=True)

    with pytest.raises(SkipTask, match="timed out"):
        sensor.execute(context)


def test_reschedule_mode_frees_the_slot_with_the_next_poke_time(context: dict[str, Any]) -> None:
    sensor = CountingSensor(task_id="s", done_after=2, poke_interval=30, timeout=3600, mode="reschedule")
    before = pendulum.now("UTC")

    with pytest.raises(RescheduleTask) as reschedule:
        sensor.execute(context)

    assert sensor.pokes == 1
    wait = (reschedule.value.reschedule_at - before).total_seconds()
    assert 29 <= wait <= 31


def test_reschedule_mode_returns_when_done_on_the_first_poke(context: dict[str, Any]) -> None:
    sensor = CountingSensor(task_id="s", done_after=1, mode="reschedule")

    assert sensor.execute(context) is None


def test_timeout_counts_from_the_first_poke_across_reschedules(context: dict[str, Any]) -> None:
    # Given a reschedule-mode sensor whose first poke (in an earlier try) was two hours ago
    context["ti"] = FakeTI(sensor_first_poke_at=pendulum.now("UTC") - timedelta(hours=2), sensor_pokes=5)
    sensor = CountingSensor(task_id="s", done_after=10**9, timeout=3600, mode="reschedule")

    # Then this poke, still not done, times out instead of rescheduling
    with pytest.raises(SensorTimeout):
        sensor.execute(context)


def test_next_poke_never_waits_past_the_timeout(context: dict[str, Any]) -> None:
    context["ti"] = FakeTI(sensor_first_poke_at=pendulum.now("UTC") - timedelta(seconds=50))
    sensor = CountingSensor(task_id="s", done_after=2, poke_interval=60, timeout=60, mode="reschedule")
    before = pendulum.now("UTC")

    with pytest.raises(RescheduleTask) as reschedule:
        sensor.execute(context)

    assert (reschedule.value.reschedule_at - before).total_seconds() <= 11


def test_exponential_backoff_doubles_the_interval_up_to_max_wait() -> None:
    sensor = CountingSensor(
        task_id="s", done_after=1, poke_interval=10, exponential_backoff=True, max_wait=timedelta(seconds=50)
    )

    assert [sensor.interval_after(n) for n in (1, 2, 3, 4)] == [10, 20, 40, 50]


def test_sensor_intervals_accept_timedeltas() -> None:
    sensor = CountingSensor(task_id="s", done_after=1, poke_interval=timedelta(minutes=2), timeout=timedelta(hours=1))

    assert (sensor.poke_interval, sensor.timeout) == (120, 3600)


def test_sensor_defaults_match_the_spec() -> None:
    sensor = CountingSensor(task_id="s", done_after=1)

    assert (sensor.mode, sensor.poke_interval, sensor.timeout) == ("poke", 60, 7 * 24 * 3600)
    assert sensor.is_sensor


def test_sensor_with_an_unknown_mode_is_refused_by_validate() -> None:
    sensor = CountingSensor(task_id="s", done_after=1, mode="sometimes")

    with pytest.raises(Exception, match="mode 'sometimes' is not poke or reschedule"):
        sensor.validate()


def test_python_sensor_pokes_its_callable_with_named_context_and_op_kwargs(context: dict[str, Any]) -> None:
    calls: list[tuple[str, int]] = []

    def ready(ds: str, threshold: int) -> bool:
        calls.append((ds, threshold))
        return len(calls) >= 2

    sensor = PythonSensor(task_id="s", python_callable=ready, op_kwargs={"threshold": 5}, poke_interval=TINY)

    assert sensor.execute(context) is None
    assert calls == [("2024-01-01", 5), ("2024-01-01", 5)]


def test_python_sensor_callable_may_return_a_poke_return_value(context: dict[str, Any]) -> None:
    sensor = PythonSensor(task_id="s", python_callable=lambda: PokeReturnValue(True, xcom_value=7))

    assert sensor.execute(context) == 7


def test_python_sensor_soft_fail_skips_on_timeout(context: dict[str, Any]) -> None:
    sensor = PythonSensor(task_id="s", python_callable=lambda: False, poke_interval=TINY, timeout=0.02, soft_fail=True)

    with pytest.raises(SkipTask):
        sensor.execute(context)


def test_custom_operator_execute_result_is_returned_for_xcom(context: dict[str, Any]) -> None:
    class Counter(BaseOperator):
        def execute(self, context: dict[str, Any]) -> Any:
            return len(context)

    assert Counter(task_id="count").execute(context) == len(context)


def test_environment_of_this_process_is_untouched_by_bash_env(context: dict[str, Any]) -> None:
    before = dict(os.environ)

    BashOperator(task_id="t", bash_command="true", env={"ONLY_FOR_BASH": "1"}, append_env=True).execute(context)

    assert dict(os.environ) == before


def test_a_builtin_without_a_readable_signature_is_called_with_its_arguments_only(
    context: dict[str, Any],
) -> None:
    assert PythonOperator(task_id="t", python_callable=divmod, op_args=[7, 2]).execute(context) == (3, 1)
