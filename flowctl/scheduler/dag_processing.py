"""The DAG processor a scheduler runs beside its loop, in a child process: parsing — a file that hangs for
the whole dagbag_import_timeout included — never holds the loop up (SPEC §8). The child dies with the
scheduler, pokes its wake-up socket when what it stored may change what runs, and is started again
if it dies."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from typing import Any

from flowctl.config import Settings

log = logging.getLogger(__name__)

RESTART_DELAY_SECONDS = 5.0


class DagProcessorChild:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.process: Any = None
        self._started_at = 0.0

    def start(self) -> None:
        """Fork the processor (it makes its own DB connections)."""
        context = multiprocessing.get_context("fork")
        self.process = context.Process(target=_main, args=(self.settings, os.getpid()), name="flowctl-dag-processor")
        self.process.start()
        self._started_at = time.monotonic()

    def ensure_running(self) -> None:
        """Start it again if it died (not more often than every few seconds)."""
        if self.process.is_alive() or time.monotonic() - self._started_at < RESTART_DELAY_SECONDS:
            return
        log.warning("the DAG processor ended (exit code %s): starting it again", self.process.exitcode)
        self.process.join(0)
        self.start()

    def stop(self, *, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def _main(settings: Settings, parent_pid: int) -> None:
    """In the child: stop on SIGTERM (from the scheduler, or when it dies), parse until then."""
    from flowctl.db.engine import make_engine, make_session_factory
    from flowctl.executors.process_tree import close_inherited_fds, set_parent_death_signal
    from flowctl.parsing.continuous import keep_in_step
    from flowctl.services.wakeup import poke

    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the scheduler, which stops us
    set_parent_death_signal(signal.SIGTERM)
    if os.getppid() != parent_pid:  # the scheduler died before the signal was asked for
        os._exit(0)
    close_inherited_fds(keep=set())
    engine = make_engine(settings.core.sql_alchemy_conn)

    def after_pass(result: Any) -> None:
        if result.files_parsed or result.forgotten_stale:  # new DAGs or versions: the scheduler looks now
            poke(settings.home)

    try:
        keep_in_step(
            settings,
            make_session_factory(engine, immediate=True),
            stopping=lambda: stopping,
            on_pass=after_pass,
            prune_unscanned=True,
            reader=make_session_factory(engine),
        )
    finally:
        engine.dispose()
