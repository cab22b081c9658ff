"""Benchmarks of the DAG processor (P6): cold parse, unchanged rescan, a 1 000-task file, `dags list`.

    python bench/parsing.py [--runs 5]

Uses a temporary FLOWCTL_HOME with SQLite and the default 2 parsing processes. Prints medians.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from timing import report

DAG_FILE = """
import pendulum
from flowctl import DAG
from flowctl.operators import BashOperator, EmptyOperator, PythonOperator

def work(**context):
    return 1

with DAG("bench_{n}", schedule="*/10 * * * *", start_date=pendulum.datetime(2024, 1, 1), tags=["bench"]):
    previous = EmptyOperator(task_id="start")
    for i in range({tasks}):
        if i % 2:
            task = PythonOperator(task_id=f"py_{{i}}", python_callable=work, retries=2)
        else:
            task = BashOperator(task_id=f"sh_{{i}}", bash_command="echo {{{{ ds }}}} " + str(i))
        previous >> task
        previous = task if i % 10 == 0 else previous
"""


def write_dags(folder: Path, files: int, tasks: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(files):
        (folder / f"bench_{n}.py").write_text(DAG_FILE.format(n=n, tasks=tasks - 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="flowctl-bench-"))
    os.environ["FLOWCTL_HOME"] = str(tmp / "home")
    from flowctl.config import settings_from_environment
    from flowctl.db import migrate
    from flowctl.db.engine import make_engine, make_session_factory
    from flowctl.parsing.importer import parse_file
    from flowctl.parsing.processor import defaults_from, refresh

    settings = settings_from_environment()
    write_dags(settings.core.dags_folder, files=100, tasks=20)
    engine = make_engine(settings.core.sql_alchemy_conn)
    factory = make_session_factory(engine)
    cold, warm = [], []
    for _ in range(args.runs):
        migrate.reset(engine)
        started = time.perf_counter()
        result = refresh(settings, factory, now=datetime.now(UTC))
        cold.append(time.perf_counter() - started)
        assert result.summary.dags == 100 and result.summary.import_errors == 0, result
        started = time.perf_counter()
        again = refresh(settings, factory, now=datetime.now(UTC))
        warm.append(time.perf_counter() - started)
        assert again.files_parsed == 0
    report("cold parse 100 files x 20 tasks into the DB", cold, 1.5)
    report("rescan, nothing changed", warm, 0.1)

    big = tmp / "big" / "big_dag.py"
    write_dags(big.parent, files=1, tasks=1000)
    (big.parent / "bench_0.py").rename(big)
    content = big.read_bytes()
    samples = []
    for _ in range(args.runs):
        started = time.perf_counter()
        parsed = parse_file(str(big), content, defaults_from(settings))
        samples.append(time.perf_counter() - started)
        assert parsed.error is None and len(parsed.dags[0]["tasks"]) == 1000, parsed.error
    report("one 1 000-task file: import + serialize", samples, 1.0)

    flowctl = shutil.which("flowctl") or "flowctl"
    samples = []
    for _ in range(args.runs):
        started = time.perf_counter()
        out = subprocess.run([flowctl, "dags", "list", "-o", "json"], check=True, capture_output=True)
        samples.append(time.perf_counter() - started)
        assert out.stdout.count(b'"dag_id"') == 100
    report("flowctl dags list -o json, 100 DAGs (wall)", samples, 0.5)
    engine.dispose()
    shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())
