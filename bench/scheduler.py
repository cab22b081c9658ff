"""Benchmarks of the scheduler (P2-P5) with a real `flowctl scheduler` process on SQLite, local executor.

    python bench/scheduler.py [--runs 5] [--only p2,p3,p4,p5]

Each workload triggers a run through the trigger service plus a wake-up poke (what `flowctl dags
trigger` and the REST API do) and waits for the run to end. Times are from the trigger call to the
run's end_date as the scheduler recorded it.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from timing import report

DAGS = {
    "p2_one_task": """
from flowctl import DAG
from flowctl.operators import EmptyOperator
with DAG("p2_one_task", schedule=None, is_paused_upon_creation=False):
    EmptyOperator(task_id="only")
""",
    "p3_chain_3": """
from flowctl import DAG
from flowctl.operators import EmptyOperator
with DAG("p3_chain_3", schedule=None, is_paused_upon_creation=False):
    EmptyOperator(task_id="a") >> EmptyOperator(task_id="b") >> EmptyOperator(task_id="c")
""",
    "p4_wide_1000": """
from flowctl import DAG
from flowctl.operators import EmptyOperator
with DAG("p4_wide_1000", schedule=None, is_paused_upon_creation=False, max_active_tasks=32):
    for i in range(1000):
        EmptyOperator(task_id=f"t{i}")
""",
    "p5_chain_200": """
from flowctl import DAG, chain
from flowctl.operators import EmptyOperator
with DAG("p5_chain_200", schedule=None, is_paused_upon_creation=False):
    chain(*[EmptyOperator(task_id=f"t{i}") for i in range(200)])
""",
}
WORKLOADS = {
    "p2": ("p2_one_task", "P2 trigger -> 1-task run success", 0.15),
    "p3": ("p3_chain_3", "P3 trigger -> 3-task chain success", 0.3),
    "p4": ("p4_wide_1000", "P4 1 000 independent tasks, parallelism 32", 10.0),
    "p5": ("p5_chain_200", "P5 200-task chain", 4.0),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default="p2,p3,p4,p5")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="flowctl-bench-sched-"))
    os.environ.update(FLOWCTL_HOME=str(home), FLOWCTL__CORE__PARALLELISM="32")
    (home / "dags").mkdir()
    for name, source in DAGS.items():
        (home / "dags" / f"{name}.py").write_text(source)
    flowctl = [sys.executable, "-m", "flowctl"]
    subprocess.run([*flowctl, "db", "init"], check=True, capture_output=True)
    subprocess.run([*flowctl, "dags", "reserialize"], check=True, capture_output=True)
    scheduler_log = (home / "scheduler.log").open("w")
    scheduler = subprocess.Popen([*flowctl, "scheduler"], stdout=subprocess.DEVNULL, stderr=scheduler_log)
    from flowctl.config import settings_from_environment
    from flowctl.db.engine import make_engine, make_session_factory, session_scope
    from flowctl.services.actor import Actor
    from flowctl.services.runs import require_run, trigger_dag
    from flowctl.services.wakeup import poke

    settings = settings_from_environment()
    engine = make_engine(settings.core.sql_alchemy_conn)
    factory = make_session_factory(engine, immediate=True)
    time.sleep(2)  # let the scheduler start its workers
    try:
        for name in args.only.split(","):
            dag_id, label, target = WORKLOADS[name]
            samples = []
            runs = args.runs if name in ("p2", "p3") else max(1, args.runs // 5 + 2)
            for _ in range(runs):
                triggered_at = datetime.now(UTC)
                with session_scope(factory) as session:
                    run_id = trigger_dag(session, dag_id, actor=Actor("bench", triggered_at)).run_id
                poke(settings.home)
                while True:
                    time.sleep(0.05)  # a slow poll, so the benchmark does not compete for the 2 cores
                    with session_scope(factory) as session:
                        run = require_run(session, dag_id, run_id)
                        state, ended_at = run.state, run.end_date
                    if state in ("success", "failed"):
                        break
                samples.append((ended_at - triggered_at).total_seconds())
                assert state == "success", f"{dag_id} ended {state}"
            report(label, samples, target)
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.wait(60)
        scheduler_log.close()
        engine.dispose()


if __name__ == "__main__":
    main()
