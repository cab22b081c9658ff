"""`flowctl webserver`: the web UI and REST API on waitress (a production WSGI server, threads in one
process); `-D` runs it in the background with a pid file. SIGTERM/SIGINT stop it cleanly.

Each of `[webserver] workers` is several request threads (flowctl.web.request_threads).
"""

from __future__ import annotations

import dataclasses
import logging
import signal
from pathlib import Path
from typing import Any

import click

from flowctl.cli.runtime import Runtime, pass_runtime

QUEUE_REPORT_INTERVAL_SECONDS = 60.0


@click.command("webserver")
@click.option("-H", "--hostname", help="Address to bind [webserver.web_server_host].")
@click.option("-p", "--port", type=click.IntRange(1, 65535), help="Port [webserver.web_server_port].")
@click.option(
    "-w",
    "--workers",
    type=click.IntRange(min=1),
    help="Workers, 4 request threads each [webserver.workers].",
)
@click.option("-D", "--daemon", "daemon", is_flag=True, help="Run in the background.")
@click.option("--pid", "pid_path", type=click.Path(dir_okay=False), help="Pid file [$FLOWCTL_HOME/webserver.pid].")
@pass_runtime
def webserver(
    runtime: Runtime, hostname: str | None, port: int | None, workers: int | None, daemon: bool, pid_path: str | None
) -> None:
    """Serve the web UI and the REST API until stopped."""
    from flowctl.cli.daemon import daemonize, pid_file_held, refuse_if_running
    from flowctl.db.migrate import require_current_schema
    from flowctl.web import request_threads

    settings = runtime.settings
    if workers is not None:
        settings = dataclasses.replace(settings, webserver=dataclasses.replace(settings.webserver, workers=workers))
    require_current_schema(runtime.engine)
    runtime.close()
    host = hostname or settings.webserver.web_server_host
    port = port or settings.webserver.web_server_port
    pid_file = Path(pid_path) if pid_path else settings.home / "webserver.pid"
    refuse_if_running(pid_file, what="webserver")
    threads = request_threads(settings.webserver.workers)
    server = _make_server(settings, host=host, port=port, threads=threads)  # binds now: a taken port fails here
    if daemon:
        daemonize(settings.home / "webserver.log")
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(levelname)s %(name)s - %(message)s")
    logging.getLogger("waitress.queue").addFilter(QueueDepthReport(threads=threads))
    with pid_file_held(pid_file, what="webserver"):
        click.echo(
            f"Serving the web UI and API on http://{host}:{port}/ with {threads} threads (Ctrl-C stops it)", err=True
        )
        serve_until_stopped(server)


class QueueDepthReport(logging.Filter):
    """waitress warns "Task queue depth is N" for every request that waits for a free thread, which
    floods the log under a burst. Let one line through per QUEUE_REPORT_INTERVAL_SECONDS, saying how
    deep the queue got since the last one and what to change."""

    def __init__(self, *, threads: int, interval: float = QUEUE_REPORT_INTERVAL_SECONDS) -> None:
        super().__init__()
        self.threads = threads
        self.interval = interval
        self._reported_at: float | None = None
        self._deepest = 0
        self._waits = 0

    def filter(self, record: logging.LogRecord) -> bool:
        depth = record.args[0] if isinstance(record.args, tuple) and record.args else 0
        self._deepest = max(self._deepest, depth if isinstance(depth, int) else 0)
        self._waits += 1
        if self._reported_at is not None and record.created - self._reported_at < self.interval:
            return False
        record.msg = (
            "%d requests waited for a free thread (at most %d queued) since the last report; "
            "%d threads serve requests: raise [webserver] workers if this keeps happening"
        )
        record.args = (self._waits, self._deepest, self.threads)
        self._reported_at, self._deepest, self._waits = record.created, 0, 0
        return True


def _make_server(settings: Any, *, host: str, port: int, threads: int) -> Any:
    import waitress

    from flowctl.exceptions import FlowctlError
    from flowctl.web import create_app

    try:
        return waitress.create_server(create_app(settings), host=host, port=port, threads=threads, ident="flowctl")
    except OSError as exc:
        raise FlowctlError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def serve_until_stopped(server: Any) -> None:
    """Run the server until SIGTERM or SIGINT."""

    def stop(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
