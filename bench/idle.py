"""Idle footprint of the scheduler (P8): RSS of the scheduler and its workers, and CPU use, with 100 DAGs
loaded and nothing to run.

    python bench/idle.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from parsing import write_dags


def tree(pid: int) -> list[int]:
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [pid, *[p for child in children for p in tree(int(child))]]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pss_kib(pid: int) -> int:
    """Proportional set size: each shared page counted once across the processes that share it."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="flowctl-bench-idle-"))
    env = {**os.environ, "FLOWCTL_HOME": str(home)}
    write_dags(home / "dags", files=100, tasks=20)
    flowctl = [sys.executable, "-m", "flowctl"]
    subprocess.run([*flowctl, "db", "init"], env=env, check=True, capture_output=True)
    scheduler = subprocess.Popen([*flowctl, "scheduler"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(5)  # start, parse the 100 files, settle
        pids = tree(scheduler.pid)
        before = sum(cpu_ticks(p) for p in pids)
        time.sleep(args.seconds)
        used = (sum(cpu_ticks(p) for p in pids) - before) / os.sysconf("SC_CLK_TCK")
        total_rss = sum(rss_kib(p) for p in pids) / 1024
        total_pss = sum(pss_kib(p) for p in pids) / 1024
        print(f"processes: {len(pids)} (scheduler, DAG processor, workers)")
        for pid in pids:
            print(f"  {pid}: RSS {rss_kib(pid) / 1024:.0f} MiB, PSS {pss_kib(pid) / 1024:.0f} MiB")
        print(f"idle memory, 100 DAGs: PSS {total_pss:.0f} MiB (target <= 200 MiB); sum of RSS {total_rss:.0f} MiB")
        print(f"idle CPU: {100 * used / args.seconds:.2f} % of one core over {args.seconds:.0f} s (target < 2 %)")
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.wait(30)


if __name__ == "__main__":
    main()
