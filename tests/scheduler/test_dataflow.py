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
