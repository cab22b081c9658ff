"""Settings: every configuration key, its type, default and meaning, and how they are loaded.

The option dataclasses below are the single source of truth: `flowctl.cfg`
written on first use, `config.example.cfg`, `flowctl config list` and type
checking all derive from them. Precedence: `FLOWCTL__<SECTION>__<KEY>`
environment variables, then `flowctl.cfg`, then the default.

Each option says when a change takes effect: `restart=` names the long-running
processes that read it once at start (commands read the configuration each
time they run), `reload=` says when it is read again instead (see
`reload_options`).

Nothing is read at import time: callers build a `Settings` with
`load_settings(environ)` and pass it down. No DB, no processes, no web here.
"""

from __future__ import annotations

import configparser
import dataclasses
import os
import secrets
import typing
import zoneinfo
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from flowctl.exceptions import ConfigError

ENV_PREFIX = "FLOWCTL__"
HOME_PLACEHOLDER = "$FLOWCTL_HOME"


# The long-running processes, by command name (`standalone` runs the scheduler and the webserver).
PROCESSES = ("scheduler", "dag-processor", "webserver")


def option(
    default: object,
    doc: str,
    *,
    restart: tuple[str, ...] = (),
    reload: str = "",
    secret: bool = False,
    generated: bool = False,
) -> typing.Any:
    """Declare one key: `default` is written as text into the INI file. Either `restart` names the
    processes a change needs restarted, or `reload` says when the key is read afresh (e.g. "each mail")."""
    if bool(restart) == bool(reload) or not set(restart) <= set(PROCESSES):
        raise ValueError(f"an option needs either restart= (some of {PROCESSES}) or reload=, not both")
    metadata = {
        "doc": doc,
        "default": default,
        "restart": restart,
        "reload": reload,
        "secret": secret,
        "generated": generated,
    }
    return field(metadata=metadata)


_PARSING = ("scheduler", "dag-processor")  # they import DAG files (so do the scheduler's task processes)
_SCHEDULER = ("scheduler",)  # its executor and the task processes it starts
_WEB = ("webserver",)
_MAIL = "each mail"  # a task process reads these again before each alert mail, EmailOperator at each try


@dataclass(frozen=True, slots=True)
class CoreSettings:
    dags_folder: Path = option(f"{HOME_PLACEHOLDER}/dags", "Where DAG files are read.", restart=_PARSING)
    executor: str = option("local", "`sequential`, `local`, or a dotted path to an executor class.", restart=_SCHEDULER)
    parallelism: int = option(32, "Max task instances running at once, whole install.", restart=_SCHEDULER)
    max_active_tasks_per_dag: int = option(16, "Default for DAG(max_active_tasks).", restart=_PARSING)
    max_active_runs_per_dag: int = option(16, "Default for DAG(max_active_runs).", restart=_PARSING)
    default_timezone: str = option(
        "utc", "IANA name (e.g. Asia/Seoul) for naive datetimes and cron.", restart=(*_PARSING, *_WEB)
    )
    load_examples: bool = option(
        False, "Load the example DAGs shipped with flowctl (`standalone` turns it on).", restart=_PARSING
    )
    dags_are_paused_at_creation: bool = option(True, "New DAGs start paused.", restart=_PARSING)
    dagbag_import_timeout: float = option(30, "Seconds one DAG file may take to import.", restart=_PARSING)
    max_xcom_size: int = option(
        16777216, "Bytes; larger XCom values fail the task with a clear error.", restart=_SCHEDULER
    )
    fernet_key: str = option(
        "",
        "Key that encrypts connection passwords/extras and variables. `new,old` during a key rotation.",
        restart=(*_SCHEDULER, *_WEB),
        secret=True,
        generated=True,
    )
    sql_alchemy_conn: str = option(
        f"sqlite:///{HOME_PLACEHOLDER}/flowctl.db",
        "Metadata DB URL (also accepted in section [database], which wins).",
        restart=PROCESSES,
        secret=True,
    )


@dataclass(frozen=True, slots=True)
class SchedulerSettings:
    catchup_by_default: bool = option(False, "Default for DAG(catchup).", restart=_PARSING)
    dag_dir_list_interval: float = option(
        10, "Seconds between scans of dags_folder for new/changed files.", restart=_PARSING
    )
    parsing_processes: int = option(2, "Processes that parse DAG files.", restart=_PARSING)
    task_heartbeat_timeout: float = option(
        60,
        "For executors that cannot watch the task process themselves: seconds without a heartbeat "
        "before a running task counts as dead.",
        restart=_SCHEDULER,
    )
    max_tis_per_query: int = option(512, "Batch size.", restart=_SCHEDULER)
    parsing_memory_limit_mb: int = option(
        2048, "Address-space limit of a process importing one DAG file, in MiB; 0 for none.", restart=_PARSING
    )


@dataclass(frozen=True, slots=True)
class WebserverSettings:
    web_server_host: str = option("127.0.0.1", "Bind address.", restart=_WEB)
    web_server_port: int = option(8080, "Bind port.", restart=_WEB)
    secret_key: str = option("", "Signs sessions and CSRF tokens.", restart=_WEB, secret=True, generated=True)
    default_ui_timezone: str = option("", "Timezone shown in the UI; empty means core.default_timezone.", restart=_WEB)
    base_url: str = option("http://127.0.0.1:8080", "Used for links in mails and logs.", reload=_MAIL)
    workers: int = option(2, "Webserver workers, 4 request threads each.", restart=_WEB)
    auth: str = option(
        "password",
        "`password` (login required) or `none` (read-only anonymous viewer; actions need login).",
        restart=_WEB,
    )


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    base_log_folder: Path = option(
        f"{HOME_PLACEHOLDER}/logs", "Where task logs are written.", restart=(*_SCHEDULER, *_WEB)
    )


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    smtp_host: str = option("localhost", "SMTP server for outgoing mail.", reload=_MAIL)
    smtp_port: int = option(25, "SMTP port.", reload=_MAIL)
    smtp_user: str = option("", "Login; empty means no authentication.", reload=_MAIL)
    smtp_password: str = option("", "Password for smtp_user.", reload=_MAIL, secret=True)
    smtp_starttls: bool = option(True, "Upgrade the connection with STARTTLS.", reload=_MAIL)
    smtp_ssl: bool = option(False, "Connect with implicit TLS (SMTPS).", reload=_MAIL)
    smtp_mail_from: str = option("flowctl@localhost", "Sender address.", reload=_MAIL)
    smtp_timeout: float = option(30, "Seconds before a mail attempt gives up.", reload=_MAIL)


SECTIONS: dict[str, type] = {
    "core": CoreSettings,
    "scheduler": SchedulerSettings,
    "webserver": WebserverSettings,
    "logging": LoggingSettings,
    "smtp": SmtpSettings,
}
# Keys that may also be given under another section; the alias wins when set.
ALIASES: dict[tuple[str, str], tuple[str, str]] = {("database", "sql_alchemy_conn"): ("core", "sql_alchemy_conn")}
EXECUTORS = ("sequential", "local")
WEB_AUTH_MODES = ("password", "none")


@dataclass(frozen=True, slots=True)
class OptionInfo:
    section: str
    key: str
    kind: type
    default: object
    doc: str
    secret: bool
    generated: bool
    restart: tuple[str, ...]
    reload: str

    @property
    def takes_effect(self) -> str:
        """When a changed value is used, as `config list` and config.example.cfg say it."""
        if self.reload:
            return f"at {self.reload}, no restart"
        return "after a restart of " + ", ".join(self.restart)


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    config_path: Path
    core: CoreSettings
    scheduler: SchedulerSettings
    webserver: WebserverSettings
    logging: LoggingSettings
    smtp: SmtpSettings
    warnings: tuple[str, ...] = ()

    @property
    def ui_timezone(self) -> str:
        return self.webserver.default_ui_timezone or self.core.default_timezone

    def get(self, section: str, key: str) -> object:
        section, key = ALIASES.get((section.lower(), key.lower()), (section.lower(), key.lower()))
        if section not in SECTIONS or not hasattr(getattr(self, section), key):
            raise ConfigError(f"unknown config key [{section}] {key}")
        return getattr(getattr(self, section), key)

    def items(self) -> Iterator[tuple[OptionInfo, object]]:
        for info in iter_options():
            yield info, getattr(getattr(self, info.section), info.key)


def iter_options() -> Iterator[OptionInfo]:
    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            yield OptionInfo(
                section=section,
                key=f.name,
                kind=hints[f.name],
                default=f.metadata["default"],
                doc=f.metadata["doc"],
                secret=f.metadata["secret"],
                generated=f.metadata["generated"],
                restart=f.metadata["restart"],
                reload=f.metadata["reload"],
            )


def default_home(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("FLOWCTL_HOME") or Path.home() / "flowctl").expanduser().absolute()


def load_settings(environ: Mapping[str, str], path: Path | None = None) -> Settings:
    """Build Settings from the environment and the INI file at `path` (default `$FLOWCTL_HOME/flowctl.cfg`).

    Raises ConfigError, naming section, key and value, for the first bad value.
    """
    home = default_home(environ)
    path = path or home / "flowctl.cfg"
    raw = _read_sources(path, environ)
    warnings = _unknown_keys(raw, source=str(path))
    values: dict[str, dict[str, object]] = {section: {} for section in SECTIONS}
    for info in iter_options():
        text = raw.get((info.section, info.key), _default_text(info.default))
        values[info.section][info.key] = _convert(info, text, home)
    sections = {section: cls(**values[section]) for section, cls in SECTIONS.items()}
    settings = Settings(home=home, config_path=path, warnings=tuple(warnings), **sections)
    _validate(settings)
    return settings


def reload_options(settings: Settings, environ: Mapping[str, str]) -> Settings:
    """`settings` with every `reload=` option read again from its config file and `environ`, the others
    as they were: what a task process does before it mails, so a changed [smtp] needs no restart.

    Raises ConfigError for a bad value among those options only.
    """
    raw = _read_sources(settings.config_path, environ)
    changed: dict[str, dict[str, object]] = {}
    for info in iter_options():
        if info.reload:
            text = raw.get((info.section, info.key), _default_text(info.default))
            changed.setdefault(info.section, {})[info.key] = _convert(info, text, settings.home)
    sections = {name: dataclasses.replace(getattr(settings, name), **values) for name, values in changed.items()}
    return dataclasses.replace(settings, **sections)


def _read_sources(path: Path, environ: Mapping[str, str]) -> dict[tuple[str, str], str]:
    parser = configparser.ConfigParser(interpolation=None)
    if path.exists():
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error as exc:
            raise ConfigError(f"{path}: not a valid INI file: {_first_line(exc)}") from None
    return _merge_sources(parser, environ)


def _merge_sources(parser: configparser.ConfigParser, environ: Mapping[str, str]) -> dict[tuple[str, str], str]:
    raw: dict[tuple[str, str], str] = {}
    for section in parser.sections():
        for key, value in parser.items(section, raw=True):
            raw[(section.lower(), key.lower())] = value
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX) and name.count("__") == 2:
            _, section, key = name.split("__")
            raw[(section.lower(), key.lower())] = value
    for alias, target in ALIASES.items():
        if alias in raw:
            raw[target] = raw.pop(alias)
    return raw


def _unknown_keys(raw: Mapping[tuple[str, str], str], *, source: str) -> list[str]:
    known = {(info.section, info.key) for info in iter_options()}
    return [
        f"unknown config key [{section}] {key} (in {source} or the environment); ignored"
        for section, key in sorted(raw)
        if (section, key) not in known
    ]


def _default_text(default: object) -> str:
    if isinstance(default, bool):
        return "True" if default else "False"
    return str(default)


def _expand_home(text: str, home: Path) -> str:
    text = text.replace("${FLOWCTL_HOME}", str(home)).replace(HOME_PLACEHOLDER, str(home))
    return os.path.expanduser(text)


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _convert(info: OptionInfo, text: str, home: Path) -> object:
    value = text.strip()
    bad = ConfigError(f"[{info.section}] {info.key} = {value!r}: expected {_describe(info.kind)}")
    if info.kind is bool:
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise bad
    if info.kind in (int, float):
        try:
            number = info.kind(value)
        except ValueError:
            raise bad from None
        if number < 0:
            raise ConfigError(f"[{info.section}] {info.key} = {value!r}: must not be negative")
        return number
    if info.kind is Path:
        return Path(_expand_home(value, home)).absolute()
    return _expand_home(value, home) if info.key == "sql_alchemy_conn" else value


def _describe(kind: type) -> str:
    return {bool: "true or false", int: "a whole number", float: "a number"}.get(kind, "text")


def _validate(settings: Settings) -> None:
    core = settings.core
    if core.executor not in EXECUTORS and "." not in core.executor:
        raise ConfigError(
            f"[core] executor = {core.executor!r}: expected one of {', '.join(EXECUTORS)} or a dotted class path"
        )
    for section, key in (
        ("core", "parallelism"),
        ("scheduler", "parsing_processes"),
        ("webserver", "workers"),
    ):
        if settings.get(section, key) == 0:
            raise ConfigError(f"[{section}] {key} = 0: must be at least 1")
    for section, key in (("core", "default_timezone"), ("webserver", "default_ui_timezone")):
        name = settings.get(section, key)
        if name and not is_valid_timezone(name):
            raise ConfigError(f"[{section}] {key} = {name!r}: not an IANA timezone name")
    port = settings.webserver.web_server_port
    if not 0 < port < 65536:
        raise ConfigError(f"[webserver] web_server_port = '{port}': expected a port number 1-65535")
    if settings.webserver.auth not in WEB_AUTH_MODES:
        raise ConfigError(
            f"[webserver] auth = {settings.webserver.auth!r}: expected one of {', '.join(WEB_AUTH_MODES)}"
        )


def is_valid_timezone(name: str) -> bool:
    if name.lower() == "utc":
        return True
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def render_config(generated: Mapping[str, str] | None = None) -> str:
    """The INI text of every key with its doc and default; `generated` fills keys like fernet_key."""
    generated = generated or {}
    lines = [
        "# flowctl configuration. Every key with its default; environment variables",
        "# FLOWCTL__<SECTION>__<KEY> override this file. $FLOWCTL_HOME expands to the home folder.",
        "# Commands read it each time they run; each key says when a change reaches the processes that run on.",
    ]
    current = None
    for info in iter_options():
        if info.section != current:
            current = info.section
            lines += ["", f"[{info.section}]"]
        value = generated.get(f"{info.section}.{info.key}", _default_text(info.default))
        note = " Generated on first run." if info.generated else ""
        lines += [f"# {info.doc}{note}", f"# Takes effect {info.takes_effect}.", f"{info.key} = {value}"]
    return "\n".join(lines) + "\n"


def generate_secrets() -> dict[str, str]:
    from cryptography.fernet import Fernet

    return {
        "core.fernet_key": Fernet.generate_key().decode(),
        "webserver.secret_key": secrets.token_urlsafe(32),
    }


def ensure_config_file(path: Path) -> bool:
    """Write `path` from defaults with fresh keys, mode 0600, unless it exists. True if written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    except OSError as exc:
        raise ConfigError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(render_config(generate_secrets()))
    return True


def settings_from_environment(environ: Mapping[str, str] | None = None) -> Settings:
    """What commands call: create the home and its flowctl.cfg on first use, then load."""
    environ = os.environ if environ is None else environ
    home = default_home(environ)
    ensure_config_file(home / "flowctl.cfg")
    return load_settings(environ)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
