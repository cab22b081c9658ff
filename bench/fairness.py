"""Fair dispatch under a wide run (issue 10): how long a small DAG's task waits for a slot while a run of
thousands of tasks keeps every slot busy.

    python bench/fairness.py [--wide 10000] [--samples 5]

A real `flowctl scheduler` on SQLite, parallelism 32. A run of `--wide` no-op tasks is triggered; once
it is under way, a one-task DAG (a 1 s sleep) is triggered `--samples` times, one after the other, and
each time the wait from the trigger to its task's start is measured. The wide run's throughput over the
same period is printed too.
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

WIDE = """
from flowctl import DAG
from flowctl.operators import EmptyOperator
with DAG("wide", schedule=None, is_paused_upon_creation=False, max_active_tasks=100000):
    for i in range(WIDTH):
        EmptyOperator(task_id=f"t{i:05d}")
"""

SMALL = """
import time
from flowctl import DAG
from flowctl.operators import PythonOperator
with DAG("small", schedule=None, is_paused_upon_creation=False, max_active_runs=1):
    PythonOperator(task_id="one_second", python_callable=lambda: time.sleep(1))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wide", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="flowctl-bench-fair-"))
    os.environ.update(FLOWCTL_HOME=str(home), FLOWCTL__CORE__PARALLELISM="32")
    (home / "dags").mkdir()
    (home / "dags" / "wide.py").write_text(WIDE.replace("WIDTH", str(args.wide)))
    (home / "dags" / "small.py").write_text(SMALL)
    flowctl = [sys.executable, "-m", "flowctl"]
    subprocess.run([*flowctl, "db", "init"], check=True, capture_output=True)
    subprocess.run([*flowctl, "dags", "reserialize"], check=True, capture_output=True)
    scheduler = subprocess.Popen([*flowctl, "scheduler"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from sqlalchemy import func, select

    from flowctl.config import settings_from_environment
    from flowctl.db.engine import make_engine, make_session_factory, session_scope
    from flowctl.db.models import TaskInstance
    from flowctl.services.actor import Actor
    from flowctl.services.runs import trigger_dag
    from flowctl.services.wakeup import poke

    settings = settings_from_environment()
    factory = make_session_factory(make_engine(settings.core.sql_alchemy_conn), immediate=True)

    def trigger(dag_id: str) -> tuple[str, datetime]:
        at = datetime.now(UTC)
        with session_scope(factory) as session:
            run_id = trigger_dag(session, dag_id, actor=Actor("bench", at)).run_id
        poke(settings.home)
        return run_id, at

    def wide_done() -> int:
        with session_scope(factory) as session:
            query = select(func.count()).where(TaskInstance.dag_id == "wide", TaskInstance.state == "success")
            return session.scalar(query) or 0

    def small_start(run_id: str) -> datetime | None:
        with session_scope(factory) as session:
            query = select(TaskInstance.start_date).where(TaskInstance.dag_id == "small", TaskInstance.run_id == run_id)
            return session.scalar(query)

    time.sleep(2)
    try:
        trigger("wide")
        while wide_done() < 100:  # under way: every slot busy
            time.sleep(0.2)
        done_before, measured_from = wide_done(), time.monotonic()
        waits = []
        for _ in range(args.samples):
            if wide_done() >= args.wide:
                break  # only waits under the wide run count
            run_id, triggered_at = trigger("small")
            while (started := small_start(run_id)) is None:
                time.sleep(0.05)
            waits.append((started - triggered_at).total_seconds())
            print(f"  waited {waits[-1]:.3f} s ({wide_done()} of {args.wide} wide tasks done by then)")
            time.sleep(1.5)  # let it finish (max_active_runs=1 would hold the next one back)
        rate = (wide_done() - done_before) / (time.monotonic() - measured_from)
        report("small DAG: trigger -> task start, under a wide run", waits, 2.0)
        print(f"wide run meanwhile: {rate:.0f} tasks/s")
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.wait(120)


if __name__ == "__main__":
    main()
