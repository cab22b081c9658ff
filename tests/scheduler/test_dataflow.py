"""Values moving between tasks in real runs, on every backend: XComs through templates and TaskFlow
arguments, multiple_outputs, mapping over an upstream's list, and trigger conf merged into params."""

from __future__ import annotations

import json

from tests.scheduler.conftest import Deployment

XCOM_CHAIN = """
    import json
    import pathlib

    from flowctl import DAG, task
    from flowctl.operators import BashOperator, PythonOperator


    def produce():
        return 21


    with DAG("xcom_chain", schedule=None, is_paused_upon_creation=False):
        produced = PythonOperator(task_id="produce", python_callable=produce)
        doubled = BashOperator(
            task_id="double", bash_command="echo $(( {{ ti.xcom_pull(task_ids='produce') }} * 2 ))"
        )

        @task(multiple_outputs=True)
        def split(value):
            return {"half": int(value) // 2, "text": f"got {value}"}

        @task
        def record(half, text):
            pathlib.Path(OUT_DIR, "result.json").write_text(json.dumps({"half": half, "text": text}))
            return half + 1

        parts = split(doubled.output)
        produced >> doubled
        record(parts["half"], parts["text"])
"""


def test_xcoms_flow_from_python_through_bash_templates_to_taskflow_arguments(deployment: Deployment) -> None:
    # Given
    deployment.write_dag("xcom_chain", XCOM_CHAIN)
    deployment.start()

    # When
    run_id = deployment.trigger("xcom_chain")

    # Then
    assert deployment.wait_for_run("xcom_chain", run_id) == "success"
    assert deployment.xcom(run_id, "produce") == 21
    assert deployment.xcom(run_id, "double") == "42"  # a Bash task pushes its last stdout line
    assert deployment.xcom(run_id, "split", key="half") == 21
    assert deployment.xcom(run_id, "split", key="text") == "got 42"
    assert json.loads((deployment.out / "result.json").read_text()) == {"half": 21, "text": "got 42"}
    assert deployment.xcom(run_id, "record") == 22


MAPPED_SUM = """
    import pathlib

    from flowctl import DAG, task

    with DAG("mapped_sum", schedule=None, is_paused_upon_creation=False):

        @task
        def numbers():
            return [1, 2, 3, 4]

        @task
        def square(n):
            return n * n

        @task
        def total(values):
            result = sum(values)
            pathlib.Path(OUT_DIR, "total.txt").write_text(str(result))
            return result

        total(square.expand(n=numbers()))
"""


def test_mapped_task_runs_once_per_upstream_element_and_downstream_sums_their_results(
    deployment: Deployment,
) -> None:
    # Given
    deployment.write_dag("mapped_sum", MAPPED_SUM)
    deployment.start()

    # When
    run_id = deployment.trigger("mapped_sum")

    # Then
    assert deployment.wait_for_run("mapped_sum", run_id) == "success"
    states = deployment.ti_states(run_id)
    assert states.pop("square", "removed") == "removed"  # the unexpanded placeholder, if kept
    assert states == {
        "numbers": "success",
        "square[0]": "success",
        "square[1]": "success",
        "square[2]": "success",
        "square[3]": "success",
        "total": "success",
    }
    assert [deployment.xcom(run_id, "square", map_index=i) for i in range(4)] == [1, 4, 9, 16]
    assert deployment.xcom(run_id, "total") == 30
    assert (deployment.out / "total.txt").read_text() == "30"
    assert "Returned value was: 9" in deployment.read_log("mapped_sum", run_id, "square", map_index=2)


GREETER = """
    from flowctl import DAG, Param
    from flowctl.operators import BashOperator

    with DAG(
        "greeter",
        schedule=None,
        is_paused_upon_creation=False,
        params={"name": Param("world", type="string"), "times": Param(1, type="integer", minimum=1)},
    ):
        BashOperator(
            task_id="greet",
            bash_command='echo "hello $NAME x{{ params.times }}"',
            env={"NAME": "{{ params.name }}"},
        )
"""


def test_trigger_conf_is_merged_over_params_and_seen_by_templates(deployment: Deployment) -> None:
    # Given
    deployment.write_dag("greeter", GREETER)
    deployment.start()

    # When
    run_id = deployment.trigger("greeter", conf={"times": 3})

    # Then: `times` comes from the conf, `name` from the param's default
    assert deployment.wait_for_run("greeter", run_id) == "success"
    assert deployment.xcom(run_id, "greet") == "hello world x3"
    assert "hello world x3" in deployment.read_log("greeter", run_id, "greet")


def test_conf_refused_by_a_param_schema_exits_1_and_creates_no_run(deployment: Deployment) -> None:
    # Given: no scheduler is needed to refuse a trigger
    deployment.write_dag("greeter", GREETER)
    deployment.prepare()

    # When
    result = deployment.cli("dags", "trigger", "greeter", "--conf", '{"times": 0}')

    # Then
    assert result.exit_code == 1, result
    assert "times" in result.stderr and "Traceback" not in result.stderr
    assert deployment.runs("greeter") == []
