"""The two promises a scheduler must never break (SPEC §8), under kill -9 on every backend: no try of a task
runs while an earlier try of it still runs (its whole process tree included), and a try that finished
keeps its real outcome (state and XComs) whatever crashes after it finished.

Tasks keep ledgers: a line when a try starts, a line every few milliseconds while it runs (written by the
deepest process of its tree) and a line when it ends, so an overlap or a re-run shows in the ledger."""

from __future__ import annotations

import itertools
import json
import os
import signal
from pathlib import Path

import pytest

from tests.scheduler.conftest import Deployment, pid_alive, read_ledger, wait_until

BASH_TREE_DAG = """
from datetime import timedelta

from flowctl import DAG
from flowctl.operators import BashOperator

# bash runs under the task process: when the task process dies with its worker, bash lives on.
SCRIPT = '''
echo "start $TRY $$ $(date +%s.%N)" >> "$LEDGER"
for i in $(seq 1 40); do echo "alive $TRY $$ $(date +%s.%N)" >> "$LEDGER"; sleep 0.05; done
echo "end $TRY $$ $(date +%s.%N)" >> "$LEDGER"
'''

with DAG("bash_tree", schedule=None, is_paused_upon_creation=False):
    BashOperator(
        task_id="sleeper",
        bash_command=SCRIPT,
        env={"LEDGER": OUT_DIR + "/bash.ledger", "TRY": "{{ ti.try_number }}"},
        append_env=True,
        retries=2,
        retry_delay=timedelta(0),
    )
"""


def _bash_ledger(path: Path) -> list[tuple[str, int, int, float]]:
    """(event, try, pid, time) lines the bash script wrote."""
    if not path.exists():
        return []
    entries = []
    for line in path.read_text().splitlines():
        event, attempt, pid, at = line.split()
        entries.append((event, int(attempt), int(pid), float(at)))
    return entries


def test_a_retry_never_starts_while_a_process_of_the_crashed_try_still_runs(deployment: Deployment) -> None:
    # Given: a try whose bash process runs under its task process
    deployment.write_dag("bash_tree", BASH_TREE_DAG)
    crashed = deployment.start()
    run_id = deployment.trigger("bash_tree")
    ledger = deployment.out / "bash.ledger"
    wait_until(lambda: sum(e[0] == "alive" for e in _bash_ledger(ledger)) >= 3, timeout=20, what="bash to run")
    bash_pid = _bash_ledger(ledger)[0][2]

    # When: the scheduler's whole process group (scheduler and workers) is killed at once
    crashed.kill_group()
    assert pid_alive(bash_pid), "the scenario: the first try's bash outlives its task process"
    deployment.start_scheduler()

    # Then: the retry ran only after every process of the first try was gone
    assert deployment.wait_for_run("bash_tree", run_id, timeout=40) == "success"
    entries = _bash_ledger(ledger)
    first_try_last_sign = max(at for _, attempt, _, at in entries if attempt == 1)
    retry_start = min(at for event, attempt, _, at in entries if event == "start" and attempt == 2)
    assert first_try_last_sign < retry_start
    assert not pid_alive(bash_pid)
    assert [t.state for t in deployment.tries(run_id, "sleeper")] == ["up_for_retry", "success"]
    assert "the scheduler running it died" in deployment.read_log("bash_tree", run_id, "sleeper", attempt=1)


FINISHES_WHILE_FROZEN_DAG = """
import json
import os
import pathlib
import time

from flowctl import DAG, task

OUT = pathlib.Path(OUT_DIR)


def note(event):
    with (OUT / "ledger.jsonl").open("a") as ledger:
        ledger.write(json.dumps({"event": event, "pid": os.getpid()}) + "\\n")


with DAG("frozen", schedule=None, is_paused_upon_creation=False):

    @task(retries=0)
    def produce():
        note("start")
        while not (OUT / "go").exists():
            time.sleep(0.02)
        note("end")
        return {"rows": 42}

    @task
    def consume(value):
        return value["rows"] + 1

    consume(produce())
"""


def test_a_try_that_finished_before_its_scheduler_died_keeps_its_outcome_and_xcom(deployment: Deployment) -> None:
    # Given: a try that finishes while its scheduler cannot record anything
    deployment.write_dag("frozen", FINISHES_WHILE_FROZEN_DAG)
    crashed = deployment.start()
    run_id = deployment.trigger("frozen")
    ledger = deployment.out / "ledger.jsonl"
    wait_until(lambda: read_ledger(ledger), timeout=20, what="produce to start")
    task_pid = read_ledger(ledger)[0]["pid"]
    crashed.freeze()
    (deployment.out / "go").touch()
    wait_until(lambda: not pid_alive(task_pid), timeout=20, what="the task process to finish")

    # When: the scheduler and its workers die before recording it
    crashed.kill_group()
    assert deployment.ti(run_id, "produce").state in ("queued", "running")  # its end was not recorded
    deployment.start_scheduler()

    # Then: the finished try is recorded with its real outcome, and its XCom reaches the next task
    assert deployment.wait_for_run("frozen", run_id) == "success"
    assert [t.state for t in deployment.tries(run_id, "produce")] == ["success"]
    assert deployment.xcom(run_id, "produce") == {"rows": 42}
    assert deployment.xcom(run_id, "consume") == 43
    assert [e["event"] for e in read_ledger(ledger)] == ["start", "end"]  # it ran once
    assert not list(deployment.home.joinpath("logs").rglob("*.spool"))  # spools go once recorded


LEDGER_DAG = """
import json
import os
import pathlib
import time
from datetime import timedelta

from flowctl import DAG
from flowctl.operators import BashOperator, PythonOperator

LEDGER = pathlib.Path(OUT_DIR, "ledger.jsonl")


def note(event, task, attempt):
    line = json.dumps({"event": event, "task": task, "try": attempt, "pid": os.getpid(), "at": time.time()})
    with LEDGER.open("a") as ledger:
        ledger.write(line + "\\n")


def work(position, ti, **_):
    expected = position - 1 if position % 10 else None
    got = ti.xcom_pull(task_ids=f"c{position // 10}_{position % 10 - 1}") if position % 10 else None
    note("start", ti.task_id, ti.try_number)
    for _ in range(5 + position % 4 * 3):  # 0.1 to 0.4 s, saying it is alive
        time.sleep(0.02)
        note("alive", ti.task_id, ti.try_number)
    if got != expected:  # an outcome recovered without its XCom would show here
        raise ValueError(f"expected {expected!r} from upstream, got {got!r}")
    note("end", ti.task_id, ti.try_number)
    return position


BASH = '''
echo '{"event": "start", "task": "'$TASK'", "try": '$TRY', "pid": '$$', "at": '$(date +%s.%N)'}' >> "$LEDGER"
for i in $(seq 1 12); do
  echo '{"event": "alive", "task": "'$TASK'", "try": '$TRY', "pid": '$$', "at": '$(date +%s.%N)'}' >> "$LEDGER"
  sleep 0.05
done
echo '{"event": "end", "task": "'$TASK'", "try": '$TRY', "pid": '$$', "at": '$(date +%s.%N)'}' >> "$LEDGER"
'''

with DAG(
    "ledger_crash",
    schedule=None,
    is_paused_upon_creation=False,
    max_active_tasks=8,
    default_args={"retries": 6, "retry_delay": timedelta(0)},  # more than the crashes: a killed try fails
):
    for chain in range(3):
        previous = None
        for step in range(10):
            position = chain * 10 + step
            current = PythonOperator(task_id=f"c{chain}_{step}", python_callable=work, op_args=[position])
            if previous is not None:
                previous >> current
            previous = current
    for i in range(4):
        BashOperator(
            task_id=f"bash{i}",
            bash_command=BASH,
            env={"LEDGER": str(LEDGER), "TASK": f"bash{i}", "TRY": "{{ ti.try_number }}"},
            append_env=True,
        )
"""

TASKS = [f"c{chain}_{step}" for chain in range(3) for step in range(10)] + [f"bash{i}" for i in range(4)]
# After how many finished tries each crash comes, and what is killed.
CRASHES = [(3, "group"), (8, "scheduler"), (13, "worker"), (19, "group"), (25, "scheduler")]


@pytest.mark.slow
def test_kill_9_at_five_points_of_a_run_loses_no_outcome_and_never_overlaps_tries(deployment: Deployment) -> None:
    # Given: a run of 30 chained Python tasks handing XComs down and 4 bash tasks, 8 at a time
    deployment.write_dag("ledger_crash", LEDGER_DAG)
    deployment.start()
    run_id = deployment.trigger("ledger_crash")
    ledger = deployment.out / "ledger.jsonl"

    # When: the scheduler, its worker or both die at five points of the run
    for finished, victim in CRASHES:
        wait_until(
            lambda n=finished: sum(e["event"] == "end" for e in read_ledger(ledger)) >= n,
            timeout=60,
            what=f"{finished} tries to finish",
        )
        _crash(deployment, run_id, victim)

    # Then: the run succeeds, every outcome is kept, and no two tries of a task ever overlapped
    assert deployment.wait_for_run("ledger_crash", run_id, timeout=90) == "success"
    assert deployment.ti_states(run_id) == dict.fromkeys(sorted(TASKS), "success")
    entries = read_ledger(ledger)
    for task_id in TASKS:
        mine = [e for e in entries if e["task"] == task_id]
        for earlier, later in itertools.pairwise(sorted({e["try"] for e in mine})):
            last_sign = max(e["at"] for e in mine if e["try"] == earlier)
            first_sign = min(e["at"] for e in mine if e["try"] == later)
            assert last_sign < first_sign, f"{task_id}: try {later} started while try {earlier} still ran"
        # flowctl logs that a try succeeded once its outcome is safe: such a try is the last one
        final = deployment.ti(run_id, task_id).try_number
        logs = {n: _log(deployment, run_id, task_id, n) for n in range(1, final + 1)}
        logged = [n for n, text in logs.items() if f"Task {task_id} succeeded" in text]
        assert set(logged) <= {final}, f"{task_id}: tries {logged} succeeded, yet it ran until try {final}"
        assert deployment.tries(run_id, task_id)[-1].state == "success"
        assert max(e["try"] for e in mine) == final, f"{task_id} ran again after its try {final} succeeded"


def _log(deployment: Deployment, run_id: str, task_id: str, attempt: int) -> str:
    path = deployment.log_path("ledger_crash", run_id, task_id, attempt=attempt)
    return path.read_text() if path.exists() else ""


def _crash(deployment: Deployment, run_id: str, victim: str) -> None:
    scheduler = deployment.scheduler
    if victim == "worker":
        running = [ti.pid for ti in deployment.task_instances(run_id) if ti.state == "running" and ti.pid]
        if running:
            os.kill(_parent_pid(running[0]), signal.SIGKILL)
        return
    if victim == "group":
        scheduler.kill_group()
    else:
        scheduler.kill()
    deployment.start_scheduler()


def _parent_pid(pid: int) -> int:
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        return int(handle.read().rsplit(")", 1)[1].split()[1])


@pytest.fixture(autouse=True)
def _no_leftover_processes(deployment: Deployment) -> None:
    """Whatever a test leaves running of its tasks is killed (ledgers name their pids)."""
    yield
    for path in deployment.out.glob("*"):
        if path.suffix in (".ledger", ".jsonl"):
            for pid in _pids_in(path):
                if pid_alive(pid):
                    os.kill(pid, signal.SIGKILL)


def _pids_in(path: Path) -> set[int]:
    pids = set()
    for line in path.read_text().splitlines():
        try:
            pids.add(int(json.loads(line)["pid"]))
        except ValueError:
            pids.add(int(line.split()[2]))
    return pids
