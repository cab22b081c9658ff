"""End-to-end fixtures: a FLOWCTL_HOME on one metadata DB backend with a dags folder, and a real
`python -m flowctl scheduler` process, plus helpers that trigger runs through the CLI and wait on what
the scheduler records in the DB (polling every 50 ms, never sleeping blindly).

DAG sources may contain the token `OUT_DIR`; it becomes the (quoted) path of a per-test folder the
tasks write their ledgers and results to.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from flowctl.db.models import DagImportError, DagRun, TaskInstance, TaskInstanceTry, XCom
from flowctl.xcom_codec import decode_xcom
from tests.conftest import Cli

T = TypeVar("T")

FLOWCTL = [sys.executable, "-m", "flowctl"]
POLL_SECONDS = 0.05
FINISHED_RUN_STATES = frozenset({"success", "failed"})
_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


def wait_until(condition: Callable[[], T], *, timeout: float, what: str | Callable[[], str]) -> T:
    """Poll `condition` every 50 ms until it returns something truthy, which is returned; `what` (or
    what it returns, read at the timeout) describes the wait in the failure message."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what if isinstance(what, str) else what()}")
        time.sleep(POLL_SECONDS)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid still exists (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def read_ledger(path: Path) -> list[dict[str, Any]]:
    """JSON lines tasks appended to a file (one object per line)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class SchedulerProcess:
    """One `flowctl scheduler` subprocess; its stderr goes to a file shown when a test fails."""

    def __init__(self, args: list[str], *, env: dict[str, str], stderr_path: Path) -> None:
        self.stopped_by_test = False
        with stderr_path.open("ab") as stderr:
            # In a session of its own, as a service manager would start it: a test can kill its whole
            # process group (scheduler and workers) the way a crash of the machine's init scope would.
            self.popen = subprocess.Popen(
                [*FLOWCTL, "scheduler", *args],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait for the exit code."""
        self.stopped_by_test = True
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            raise AssertionError(f"the scheduler did not exit within {timeout}s of SIGTERM") from None

    def kill(self) -> None:
        """kill -9, as a crash would."""
        self.stopped_by_test = True
        self.popen.kill()
        self.popen.wait()

    def kill_group(self) -> None:
        """kill -9 of the scheduler's whole process group: the scheduler and its workers at once (task
        processes run in groups of their own)."""
        self.stopped_by_test = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.popen.wait()

    def freeze(self) -> None:
        """SIGSTOP: the scheduler stays alive but records nothing (its workers go on)."""
        self.popen.send_signal(signal.SIGSTOP)

    def check_running(self) -> None:
        """Fail at once, rather than at a timeout, when the scheduler ended without being told to."""
        code = self.popen.poll()
        if code is not None and not self.stopped_by_test:
            raise AssertionError(f"the scheduler (pid {self.pid}) exited on its own with code {code}")


class Deployment:
    """A flowctl installation under test: home, dags folder, metadata DB, and its scheduler."""

    def __init__(self, root: Path, *, db_url: str, engine: Engine) -> None:
        self.home = root / "flowctl-home"
        self.dags = self.home / "dags"
        self.out = root / "out"
        for folder in (self.dags, self.out):
            folder.mkdir(parents=True)
        self.db_url = db_url
        self.engine = engine
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWCTL_")}
        self.env.update(FLOWCTL_HOME=str(self.home), FLOWCTL__CORE__SQL_ALCHEMY_CONN=db_url)
        self.cli = Cli(self.home, db_url)
        self.schedulers: list[SchedulerProcess] = []

    # setting up

    def write_dag(self, name: str, source: str) -> Path:
        path = self.dags / f"{name}.py"
        path.write_text(textwrap.dedent(source).replace("OUT_DIR", repr(str(self.out))))
        return path

    def flowctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`python -m flowctl ARGS` in its own process."""
        result = subprocess.run(
            [*FLOWCTL, *args], env=self.env, capture_output=True, text=True, timeout=60, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(f"flowctl {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
        return result

    def prepare(self) -> None:
        """`flowctl db init` and `flowctl dags reserialize`, as a user would before the first start."""
        self.flowctl("db", "init")
        self.flowctl("dags", "reserialize")

    def start(self, *, shutdown_grace: float = 3.0, env: dict[str, str] | None = None) -> SchedulerProcess:
        """Prepare the DB and the DAGs, then start the scheduler."""
        self.prepare()
        return self.start_scheduler(shutdown_grace=shutdown_grace, env=env)

    def start_scheduler(self, *, shutdown_grace: float = 3.0, env: dict[str, str] | None = None) -> SchedulerProcess:
        process = SchedulerProcess(
            ["--shutdown-grace", str(shutdown_grace)],
            env={**self.env, **(env or {})},
            stderr_path=self.home / "scheduler.stderr",
        )
        self.schedulers.append(process)
        return process

    @property
    def scheduler(self) -> SchedulerProcess:
        return self.schedulers[-1]

    # acting through the CLI

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """`flowctl dags trigger DAG_ID [--conf JSON] -o json`; returns the new run's id."""
        args = ["dags", "trigger", dag_id, "-o", "json"]
        if conf is not None:
            args += ["--conf", json.dumps(conf)]
        result = self.cli(*args)
        assert result.exit_code == 0, result
        return json.loads(result.stdout)["run_id"]

    # reading what the scheduler recorded

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        with Session(self.engine) as session:
            return session.scalar(select(DagRun.state).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))

    def runs(self, dag_id: str) -> list[DagRun]:
        with Session(self.engine, expire_on_commit=False) as session:
            return list(session.scalars(select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.id)))

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 30) -> str:
        """Wait until the run is success or failed; returns that state."""

        def finished() -> str | None:
            if self.schedulers:
                self.scheduler.check_running()
            state = self.run_state(dag_id, run_id)
            return state if state in FINISHED_RUN_STATES else None

        return wait_until(
            finished,
            timeout=timeout,
            what=lambda: (
                f"run {run_id} of {dag_id} to finish (it is {self.run_state(dag_id, run_id)}, "
                f"its tasks {self.ti_states(run_id)})"
            ),
        )

    def import_errors(self) -> dict[str, str]:
        """File name -> error of every DAG file that failed to import."""
        with Session(self.engine) as session:
            rows = session.execute(select(DagImportError.filename, DagImportError.stack_trace))
            return {Path(filename).name: error for filename, error in rows}

    def task_instances(self, run_id: str) -> list[TaskInstance]:
        with Session(self.engine, expire_on_commit=False) as session:
            query = select(TaskInstance).where(TaskInstance.run_id == run_id)
            return list(session.scalars(query.order_by(TaskInstance.task_id, TaskInstance.map_index)))

    def ti_states(self, run_id: str) -> dict[str, str]:
        """{task_id: state}; a mapped instance is keyed `task_id[map_index]`."""
        return {
            ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]": ti.state
            for ti in self.task_instances(run_id)
        }

    def ti(self, run_id: str, task_id: str, map_index: int = -1) -> TaskInstance:
        matches = [t for t in self.task_instances(run_id) if (t.task_id, t.map_index) == (task_id, map_index)]
        assert matches, f"no task instance {task_id}[{map_index}] in run {run_id}"
        return matches[0]

    def tries(self, run_id: str, task_id: str, map_index: int = -1) -> list[TaskInstanceTry]:
        ti_id = self.ti(run_id, task_id, map_index).id
        with Session(self.engine, expire_on_commit=False) as session:
            query = select(TaskInstanceTry).where(TaskInstanceTry.task_instance_id == ti_id)
            return list(session.scalars(query.order_by(TaskInstanceTry.try_number)))

    def xcom(self, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        ti_id = self.ti(run_id, task_id, map_index).id
        with Session(self.engine) as session:
            data = session.scalar(select(XCom.value).where(XCom.task_instance_id == ti_id, XCom.key == key))
        assert data is not None, f"{task_id}[{map_index}] pushed no XCom {key!r}"
        return decode_xcom(data)

    def log_path(self, dag_id: str, run_id: str, task_id: str, *, attempt: int = 1, map_index: int = -1) -> Path:
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        if map_index >= 0:
            folder /= f"map_index={map_index}"
        return folder / f"attempt={attempt}.log"

    def read_log(self, dag_id: str, run_id: str, task_id: str, *, attempt: int = 1, map_index: int = -1) -> str:
        path = self.log_path(dag_id, run_id, task_id, attempt=attempt, map_index=map_index)
        assert path.exists(), f"no log at {path}"
        return path.read_text()

    def task_logs(self) -> list[Path]:
        return sorted((self.home / "logs").rglob("attempt=*.log"))

    # tearing down

    def describe(self) -> str:
        """The scheduler's stderr and the tail of every task log, for a failed test's report."""
        parts = [f"--- scheduler stderr ({self.home / 'scheduler.stderr'})"]
        path = self.home / "scheduler.stderr"
        parts.append(path.read_text(errors="replace")[-20_000:] if path.exists() else "(none)")
        for log in self.task_logs()[:60]:
            tail = log.read_text(errors="replace").splitlines()[-6:]
            parts.append(f"--- {log.relative_to(self.home / 'logs')}\n" + "\n".join(tail))
        return "\n".join(parts)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


@pytest.fixture
def deployment(request: pytest.FixtureRequest, tmp_path: Path, db_url: str, engine: Engine) -> Iterator[Deployment]:
    """A flowctl home on this backend's (migrated, emptied) DB; `start()` launches the scheduler, which
    is stopped with SIGTERM at teardown and must exit 0."""
    deployment = Deployment(tmp_path, db_url=db_url, engine=engine)
    yield deployment
    tear_down(request, deployment)


def tear_down(request: pytest.FixtureRequest, deployment: Deployment) -> None:
    """Stop its schedulers (each must exit 0 on SIGTERM) and check nothing of it is left running."""
    codes: list[int] = []
    problem: AssertionError | None = None
    try:
        for process in deployment.schedulers:
            process.check_running()
        codes = [process.stop() for process in deployment.schedulers if process.alive()]
    except AssertionError as exc:
        problem = exc
    finally:
        for process in deployment.schedulers:
            if process.alive():  # it did not stop on SIGTERM
                process.kill()
    left = _left_behind(deployment, timeout=10)
    failed = any(report.failed for report in request.node.stash.get(_REPORTS, {}).values())
    if failed or problem or any(codes):
        print(deployment.describe())
    if problem:
        raise problem
    assert codes == [0] * len(codes), f"the scheduler exited {codes} on SIGTERM"
    assert not left, f"processes of this installation outlived its schedulers: {left}"


def _left_behind(deployment: Deployment, *, timeout: float) -> dict[int, str]:
    """Live processes (but this one) whose environment names this installation's FLOWCTL_HOME, once they
    had `timeout` seconds to go; the ones found are killed, and returned with their command lines."""
    marker = f"FLOWCTL_HOME={deployment.home}".encode()

    def ours() -> dict[int, str]:
        found = {}
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) == os.getpid() or not pid_alive(int(name)):
                continue
            try:
                environ = Path(f"/proc/{name}/environ").read_bytes().split(b"\0")
                command = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in environ:
                found[int(name)] = command.strip()
        return found

    deadline = time.monotonic() + timeout
    while (found := ours()) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    for pid in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return found


@pytest.fixture
def sqlite_only(db_url: str) -> None:
    """For the heavier scenarios, where the backend matters little (or SQLite is the point)."""
    if not db_url.startswith("sqlite"):
        pytest.skip("runs on SQLite only")
