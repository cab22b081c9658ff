"""Variables from the environment (FLOWCTL_VAR_<KEY>) in real tries: read by Variable.get and by
templates alike, and masked in the log when their name marks them sensitive."""

from __future__ import annotations

from tests.scheduler.conftest import Deployment

SECRET = "env-only-s3cr3t-value"

ENV_VARIABLE_DAG = """
from flowctl import DAG, Variable, task
from flowctl.operators import BashOperator

with DAG("env_variables", schedule=None, is_paused_upon_creation=False):

    @task
    def read_it():
        print("python sees", Variable.get("api_key"))

    echo = BashOperator(task_id="echo", bash_command="echo bash sees {{ var.value.api_key }}")
    read_it() >> echo
"""


def test_an_environment_variable_is_read_by_code_and_templates_and_masked_in_logs(deployment: Deployment) -> None:
    deployment.write_dag("env_variables", ENV_VARIABLE_DAG)
    deployment.start(env={"FLOWCTL_VAR_API_KEY": SECRET})

    run_id = deployment.trigger("env_variables")

    assert deployment.wait_for_run("env_variables", run_id) == "success"
    python_log = deployment.read_log("env_variables", run_id, "read_it")
    bash_log = deployment.read_log("env_variables", run_id, "echo")
    assert "python sees ***" in python_log
    assert "bash sees ***" in bash_log
    assert SECRET not in python_log + bash_log
