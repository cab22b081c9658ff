"""`flowctl webserver`: the web UI and REST API on waitress (a production WSGI server, threads in one
process); `-D` runs it in the background with a pid file. SIGTERM/SIGINT stop it cleanly."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import Any

import click

from flowctl.cli.runtime import Runtime, pass_runtime


@click.command("webserver")
@click.option("-H", "--hostname", help="Address to bind [webserver.web_server_host].")
@click.option("-p", "--port", type=click.IntRange(1, 65535), help="Port [webserver.web_server_port].")
@click.option("-w", "--workers", type=click.IntRange(min=1), help="Request threads [webserver.workers].")
@click.option("-D", "--daemon", "daemon", is_flag=True, help="Run in the background.")
@click.option("--pid", "pid_path", type=click.Path(dir_okay=False), help="Pid file [$FLOWCTL_HOME/webserver.pid].")
@pass_runtime
def webserver(
    runtime: Runtime, hostname: str | None, port: int | None, workers: int | None, daemon: bool, pid_path: str | None
) -> None:
    """Serve the web UI and the REST API until stopped."""
    from flowctl.cli.daemon import daemonize, pid_file_held, refuse_if_running
    from flowctl.db.migrate import require_current_schema

    settings = runtime.settings
    require_current_schema(runtime.engine)
    runtime.close()
    host = hostname or settings.webserver.web_server_host
    port = port or settings.webserver.web_server_port
    threads = workers or settings.webserver.workers
    pid_file = Path(pid_path) if pid_path else settings.home / "webserver.pid"
    refuse_if_running(pid_file, what="webserver")
    server = _make_server(settings, host=host, port=port, threads=threads)  # binds now: a taken port fails here
    if daemon:
        daemonize(settings.home / "webserver.log")
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(levelname)s %(name)s - %(message)s")
    with pid_file_held(pid_file, what="webserver"):
        click.echo(f"Serving the web UI and API on http://{host}:{port}/ (Ctrl-C stops it)", err=True)
        serve_until_stopped(server)


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
