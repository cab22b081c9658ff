"""Benchmarks of the foundation (P1 and db init): wall time of whole `flowctl` processes.

    python bench/foundation.py [--runs 10]

Prints the median, min and max of each workload; record the medians in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import report

FLOWCTL = (
    [sys.executable, "-m", "flowctl"] if os.environ.get("BENCH_MODULE") else [shutil.which("flowctl") or "flowctl"]
)


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "FLOWCTL_HOME": str(Path(tmp) / "home")}
        subprocess.run(
            [*FLOWCTL, "config", "get-value", "core", "executor"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )  # first use writes flowctl.cfg; not part of P1
        for argv, name in ((["version"], "flowctl version"), (["--help"], "flowctl --help")):
            timed([*FLOWCTL, *argv], env)  # warm the OS file cache
            report(name, [timed([*FLOWCTL, *argv], env) for _ in range(args.runs)], 0.3)
        init_samples = []
        for run in range(max(5, args.runs // 2)):
            fresh = {**os.environ, "FLOWCTL_HOME": str(Path(tmp) / f"init-{run}")}
            init_samples.append(timed([*FLOWCTL, "db", "init"], fresh))
        report("flowctl db init (SQLite, empty)", init_samples, 2.0)


if __name__ == "__main__":
    main()
