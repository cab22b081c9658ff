"""Where a BashOperator's command runs, through a real scheduler: in a fresh temporary folder removed
afterwards (as Airflow does), never in the scheduler's working directory; `cwd=` still wins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.scheduler.conftest import Deployment

BASH_DAG = """
from flowctl import DAG
from flowctl.operators import BashOperator

with DAG("bash_folders", schedule=None, is_paused_upon_creation=False):
    # Each prints its folder and what a bare `*` matches there, as one JSON line (the XCom value).
    SHOW = 'printf \\'{"pwd": "%s", "glob": "%s"}\\\\n\\' "$PWD" "$(echo *)"'
    BashOperator(task_id="default_folder", bash_command="touch left-behind.txt; " + SHOW)
    BashOperator(task_id="failing", bash_command="touch left-behind.txt; " + SHOW + "; exit 3")
    BashOperator(task_id="given_folder", bash_command=SHOW, cwd=OUT_DIR)
"""


def test_a_bash_command_runs_in_its_own_temporary_folder_that_is_removed_afterwards_unless_cwd_is_given(
    deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: the scheduler starts in a folder with a file of its own, and OUT_DIR has one too
    scheduler_folder = tmp_path / "scheduler-cwd"
    scheduler_folder.mkdir()
    (scheduler_folder / "scheduler-only.txt").write_text("not for tasks")
    (deployment.out / "input.csv").write_text("a,b\n")
    deployment.write_dag("bash_folders", BASH_DAG)
    monkeypatch.chdir(scheduler_folder)  # the scheduler process inherits this working directory
    deployment.start()

    # When
    run_id = deployment.trigger("bash_folders")

    # Then: a command without cwd saw an empty folder of its own, not the scheduler's
    assert deployment.wait_for_run("bash_folders", run_id) == "failed"
    assert deployment.ti_states(run_id) == {"default_folder": "success", "failing": "failed", "given_folder": "success"}
    shown = json.loads(deployment.xcom(run_id, "default_folder"))
    folder = Path(shown["pwd"])
    assert shown["glob"] == "left-behind.txt", shown
    assert folder != scheduler_folder and not folder.is_relative_to(deployment.home), folder

    # ...and that folder is gone, also after a failing command
    assert not folder.exists(), f"{folder} was left behind"
    failing_log = deployment.read_log("bash_folders", run_id, "failing")
    failing_line = next(line for line in failing_log.splitlines() if line.startswith('{"pwd"'))
    failing_folder = Path(json.loads(failing_line)["pwd"])
    assert failing_folder != folder and not failing_folder.exists(), failing_folder

    # ...while cwd= runs the command in the folder given, which stays
    given = json.loads(deployment.xcom(run_id, "given_folder"))
    assert given == {"pwd": str(deployment.out), "glob": "input.csv"}
    assert (deployment.out / "input.csv").exists()
