"""`flowctl standalone`: a local try-out in one command.

Prepares the installation (DB schema, default pool, an admin user whose generated password is printed
once and kept in $FLOWCTL_HOME/standalone_admin_password.txt, mode 0600), starts the webserver as a child
process, then runs the scheduler with the example DAGs loaded in this process until Ctrl-C or SIGTERM,
which stop both.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import click

from flowctl.cli.runtime import Runtime, pass_runtime

ADMIN_USERNAME = "admin"
PASSWORD_FILE = "standalone_admin_password.txt"
WEBSERVER_START_SECONDS = 30.0


@click.command("standalone")
@click.option("--no-examples", is_flag=True, help="Do not load the example DAGs.")
@pass_runtime
def standalone(runtime: Runtime, no_examples: bool) -> None:
    """Initialise the DB, create an admin user, then run scheduler and webserver."""
    from flowctl.db import migrate
    from flowctl.db.queries.pools import ensure_default_pool
    from flowctl.db.queries.users import get_user
    from flowctl.services import users

    migrate.upgrade(runtime.engine)
    password_file = runtime.settings.home / PASSWORD_FILE
    with runtime.session() as session:
        ensure_default_pool(session)
        if get_user(session, ADMIN_USERNAME) is None:
            password = users.random_password()
            users.create_user(
                session,
                username=ADMIN_USERNAME,
                email="admin@localhost",
                role="Admin",
                password=password,
                actor=runtime.actor(),
            )
            _write_secret(password_file, password + "\n")
            click.echo(f"Created the admin user: login {ADMIN_USERNAME!r}, password {password!r}")
            click.echo(f"(password kept in {password_file})")
        else:
            click.echo(f"Admin user {ADMIN_USERNAME!r} exists; its first password is in {password_file}.")
    click.echo(f"Metadata DB ready in {runtime.settings.home}. DAG files go in {runtime.settings.core.dags_folder}.")
    webserver = _start_webserver(runtime)
    try:
        click.echo(f"Web UI: {_web_url(runtime)} (login {ADMIN_USERNAME!r}). Scheduler starting; Ctrl-C stops both.")
        _run_scheduler(runtime, load_examples=not no_examples)
    finally:
        _stop(webserver)


def _web_url(runtime: Runtime) -> str:
    web = runtime.settings.webserver
    return f"http://{web.web_server_host}:{web.web_server_port}/"


def _start_webserver(runtime: Runtime) -> subprocess.Popen[bytes]:
    """`flowctl webserver` as a child; returns once it answers its health check (or raises if it exits)."""
    from flowctl.exceptions import FlowctlError

    process = subprocess.Popen([sys.executable, "-m", "flowctl", "webserver"], env=runtime.environ)
    health = _web_url(runtime) + "api/v1/health"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    deadline = time.monotonic() + WEBSERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise FlowctlError(f"the webserver exited with code {process.returncode} (its error is above)")
        try:
            with opener.open(health, timeout=1):
                return process
        except OSError:
            time.sleep(0.1)
    _stop(process)
    raise FlowctlError(f"the webserver did not answer {health} within {WEBSERVER_START_SECONDS:.0f}s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _run_scheduler(runtime: Runtime, *, load_examples: bool) -> None:
    import dataclasses
    import logging

    from flowctl.cli.daemon import pid_file_held
    from flowctl.scheduler.loop import Scheduler

    settings = runtime.settings
    settings = dataclasses.replace(settings, core=dataclasses.replace(settings.core, load_examples=load_examples))
    settings.core.dags_folder.mkdir(parents=True, exist_ok=True)
    runtime.close()
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(levelname)s %(name)s - %(message)s")
    with pid_file_held(settings.home / "scheduler.pid", what="scheduler"):
        Scheduler(settings).run()


def _write_secret(path: os.PathLike[str], text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
