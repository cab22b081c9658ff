"""The scheduler workloads of bench/scheduler.py (P2-P5), written for Apache Airflow 2.10, to compare
on the same machine. Optional and not part of CI; flowctl is not imported.

Run it with the Python of a separate virtualenv that has Airflow (and its postgres extra):

    python -m venv /tmp/airflow-venv
    /tmp/airflow-venv/bin/pip install "apache-airflow[postgres]==2.10.*" \\
        --constraint https://raw.githubusercontent.com/apache/airflow/constraints-2.10.5/constraints-3.11.txt
    createdb -h 127.0.0.1 -U postgres airflow_bench
    /tmp/airflow-venv/bin/python bench/airflow_compare.py --runs 5 \\
        --sql-alchemy-conn postgresql+psycopg2://postgres@127.0.0.1:5432/airflow_bench

It makes a temporary AIRFLOW_HOME with the four DAGs, migrates the DB, starts `airflow scheduler`
(LocalExecutor, parallelism 32), triggers each DAG through Airflow's Python API (no CLI start-up in the
measurement) and times trigger -> the run's recorded end_date, as bench/scheduler.py does for flowctl.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

DAGS = {
    "p2_one_task": """
from airflow import DAG
from airflow.operators.empty import EmptyOperator
with DAG("p2_one_task", schedule=None, is_paused_upon_creation=False):
    EmptyOperator(task_id="only")
""",
    "p3_chain_3": """
from airflow import DAG
from airflow.operators.empty import EmptyOperator
with DAG("p3_chain_3", schedule=None, is_paused_upon_creation=False):
    EmptyOperator(task_id="a") >> EmptyOperator(task_id="b") >> EmptyOperator(task_id="c")
""",
    "p4_wide_1000": """
from airflow import DAG
from airflow.operators.empty import EmptyOperator
with DAG("p4_wide_1000", schedule=None, is_paused_upon_creation=False, max_active_tasks=32):
    for i in range(1000):
        EmptyOperator(task_id=f"t{i}")
""",
    "p5_chain_200": """
from airflow import DAG
from airflow.models.baseoperator import chain
from airflow.operators.empty import EmptyOperator
with DAG("p5_chain_200", schedule=None, is_paused_upon_creation=False):
    chain(*[EmptyOperator(task_id=f"t{i}") for i in range(200)])
""",
}
# Airflow marks EmptyOperator tasks success without running them; flowctl runs every task. To compare
# like with like, the DAGs above are rewritten to run a no-op Python callable unless --empty is given.
NOOP = (
    "from airflow.operators.python import PythonOperator\n"
    "def _noop():\n    return None\n"
    "def EmptyOperator(task_id):\n    return PythonOperator(task_id=task_id, python_callable=_noop)\n"
)
WORKLOADS = {
    "p2": ("p2_one_task", "P2 trigger -> 1-task run success"),
    "p3": ("p3_chain_3", "P3 trigger -> 3-task chain success"),
    "p4": ("p4_wide_1000", "P4 1 000 independent tasks, parallelism 32"),
    "p5": ("p5_chain_200", "P5 200-task chain"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default="p2,p3,p4,p5")
    parser.add_argument("--sql-alchemy-conn", required=True, help="an empty PostgreSQL database for Airflow")
    parser.add_argument("--empty", action="store_true", help="keep EmptyOperator (Airflow skips running them)")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="airflow-bench-"))
    (home / "dags").mkdir()
    for name, source in DAGS.items():
        if not args.empty:
            source = source.replace("from airflow.operators.empty import EmptyOperator\n", NOOP)
        (home / "dags" / f"{name}.py").write_text(source)
    os.environ.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="32",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=args.sql_alchemy_conn,
    )
    airflow = [sys.executable, "-m", "airflow"]
    subprocess.run([*airflow, "db", "migrate"], check=True, capture_output=True)
    subprocess.run([*airflow, "dags", "reserialize"], check=True, capture_output=True)
    scheduler = subprocess.Popen([*airflow, "scheduler"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.models import DagRun
    from airflow.utils.session import create_session

    time.sleep(10)  # Airflow's scheduler needs a while to start its executor and parse
    try:
        for name in args.only.split(","):
            dag_id, label = WORKLOADS[name]
            samples = []
            for _ in range(args.runs if name in ("p2", "p3") else max(1, args.runs // 5 + 1)):
                triggered_at = datetime.now(UTC)
                run = trigger_dag(dag_id, run_id=f"bench__{time.time_ns()}")
                while True:
                    time.sleep(0.1)
                    with create_session() as session:
                        current = session.query(DagRun).filter_by(dag_id=dag_id, run_id=run.run_id).one()
                        state, ended_at = current.state, current.end_date
                    if state in ("success", "failed"):
                        break
                samples.append((ended_at - triggered_at).total_seconds())
            print(f"{label:44s} median {statistics.median(samples):.3f}s  (n={len(samples)})", flush=True)
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.wait(120)


if __name__ == "__main__":
    main()
