"""`flowctl dag-processor` as a real process: a new file is stored within seconds, without a rescan."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, select

from flowctl.db.models import Dag, DagImportError

DAG_SOURCE = """
from flowctl import DAG
from flowctl.operators import EmptyOperator
with DAG("{dag_id}", schedule=None):
    EmptyOperator(task_id="only")
"""


def _wait_for(condition, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_new_and_broken_files_are_picked_up_while_it_runs(tmp_path: Path) -> None:
    # Given a running dag-processor whose full-rescan interval is far away
    home = tmp_path / "home"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FLOWCTL")},
        "FLOWCTL_HOME": str(home),
        "FLOWCTL__SCHEDULER__DAG_DIR_LIST_INTERVAL": "3600",
    }
    flowctl = [sys.executable, "-m", "flowctl"]
    subprocess.run([*flowctl, "db", "init"], env=env, check=True, capture_output=True)
    (home / "dags").mkdir()
    process = subprocess.Popen([*flowctl, "dag-processor"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    engine = create_engine(f"sqlite:///{home / 'flowctl.db'}")
    try:
        # When a DAG file and a broken file appear
        (home / "dags" / "fresh.py").write_text(DAG_SOURCE.format(dag_id="fresh"))
        (home / "dags" / "broken_dag.py").write_text("raise RuntimeError('no dag here')\n")

        # Then both are stored within a few seconds
        def stored() -> bool:
            with engine.connect() as conn:
                dags = set(conn.scalars(select(Dag.dag_id)))
                errors = list(conn.scalars(select(DagImportError.stack_trace)))
            return dags == {"fresh"} and len(errors) == 1 and "no dag here" in errors[0]

        assert _wait_for(stored, timeout=10), "the dag-processor did not store the new files in 10 s"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0, process.stderr.read() if process.stderr else ""
        engine.dispose()
