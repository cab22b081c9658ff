"""The connection types the UI offers: which of a connection's standard fields each one uses and how it
labels them, and the settings it keeps as keys of the `extra` JSON object. Hooks add their own types
with `register`. Also which type names a connection may have at all (`check_conn_type`).
Pure module: stdlib and flowctl.exceptions only."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from flowctl.exceptions import InvalidInput

CONN_TYPE_MAX = 100
# A type is the scheme of the connection's URI (Connection.get_uri, FLOWCTL_CONN_* variables), which folds
# case and turns "_" into "-": only these names survive the round trip, so only these are stored.
_CONN_TYPE = re.compile(r"[a-z][a-z0-9_+.]*")
_SHOWN_TYPE_CHARS = 40

STANDARD_FIELDS = ("host", "schema", "login", "password", "port")
EXTRA_KINDS = frozenset({"text", "password", "boolean", "integer"})
_GENERIC_FIELDS = {"host": "Host", "schema": "Schema", "login": "Login", "password": "Password", "port": "Port"}
_DATABASE_FIELDS = {"host": "Host", "schema": "Database", "login": "Login", "password": "Password", "port": "Port"}


@dataclass(frozen=True, slots=True)
class ExtraField:
    """A setting stored under `key` in the connection's extra; a `password` one is secret (never shown)."""

    key: str
    label: str
    kind: str = "text"
    placeholder: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind not in EXTRA_KINDS:
            raise ValueError(f"extra field {self.key!r}: kind must be one of {sorted(EXTRA_KINDS)}")

    @property
    def secret(self) -> bool:
        return self.kind == "password"


@dataclass(frozen=True, slots=True)
class ConnectionType:
    """`fields` maps the standard fields this type uses to their labels, in form order; the others are
    hidden. `placeholders` holds example values of standard fields."""

    conn_type: str
    label: str
    fields: Mapping[str, str] = field(default_factory=lambda: dict(_GENERIC_FIELDS))
    placeholders: Mapping[str, str] = field(default_factory=dict)
    extra_fields: tuple[ExtraField, ...] = ()

    def __post_init__(self) -> None:
        unknown = set(self.fields) - set(STANDARD_FIELDS)
        if unknown:
            raise ValueError(f"connection type {self.conn_type!r}: unknown fields {sorted(unknown)}")

    @property
    def secret_extra_keys(self) -> frozenset[str]:
        return frozenset(extra.key for extra in self.extra_fields if extra.secret)


_BUILT_IN = (
    ConnectionType("generic", "Generic"),
    ConnectionType(
        "http",
        "HTTP",
        placeholders={"host": "https://api.example.com", "schema": "https"},
        extra_fields=(
            ExtraField("timeout", "Timeout (seconds)", kind="integer", placeholder="60"),
            ExtraField(
                "retries", "Retries", kind="integer", placeholder="0", description="on errors, timeouts, 429, 5xx"
            ),
            ExtraField("retry_backoff", "First retry after (seconds)", placeholder="1.0", description="then doubling"),
        ),
    ),
    ConnectionType(
        "postgres",
        "PostgreSQL",
        fields=_DATABASE_FIELDS,
        placeholders={"host": "db.example.com", "port": "5432"},
        extra_fields=(
            ExtraField("sslmode", "SSL mode", placeholder="prefer"),
            ExtraField("connect_timeout", "Connect timeout (seconds)", kind="integer", placeholder="10"),
        ),
    ),
    ConnectionType(
        "mysql",
        "MySQL / MariaDB",
        fields=_DATABASE_FIELDS,
        placeholders={"host": "db.example.com", "port": "3306"},
        extra_fields=(
            ExtraField("charset", "Charset", placeholder="utf8mb4"),
            ExtraField("connect_timeout", "Connect timeout (seconds)", kind="integer", placeholder="10"),
            ExtraField(
                "local_infile",
                "Allow LOAD DATA LOCAL INFILE",
                kind="boolean",
                description="lets the server read files of the task's machine; off unless needed",
            ),
        ),
    ),
    ConnectionType("sqlite", "SQLite", fields={"host": "Database file"}, placeholders={"host": "/data/warehouse.db"}),
    ConnectionType(
        "fs",
        "File (path)",
        fields={},
        extra_fields=(ExtraField("path", "Path", placeholder="/data/incoming"),),
    ),
    ConnectionType(
        "smtp",
        "SMTP (email)",
        fields={"host": "Host", "login": "Login", "password": "Password", "port": "Port"},
        placeholders={"host": "smtp.example.com", "port": "587"},
        extra_fields=(
            ExtraField("from_email", "From address", placeholder="flowctl@example.com"),
            ExtraField("disable_tls", "Disable STARTTLS", kind="boolean"),
            ExtraField("disable_ssl", "Disable SSL", kind="boolean"),
            ExtraField("timeout", "Timeout (seconds)", kind="integer", placeholder="30"),
        ),
    ),
)
_TYPES: dict[str, ConnectionType] = {kind.conn_type: kind for kind in _BUILT_IN}


def register(kind: ConnectionType) -> None:
    """Offer `kind` in the UI (replacing a type of the same name)."""
    _TYPES[kind.conn_type] = kind


def connection_types() -> Mapping[str, ConnectionType]:
    """Every known type by name, generic first, then by label."""
    ordered = sorted(_TYPES.values(), key=lambda kind: (kind.conn_type != "generic", kind.label.lower()))
    return MappingProxyType({kind.conn_type: kind for kind in ordered})


def connection_type(conn_type: str) -> ConnectionType:
    """The type named `conn_type`; an unknown name (made with the CLI, say) gets every generic field."""
    return _TYPES.get(conn_type) or ConnectionType(conn_type, conn_type or "Generic")


def is_registered(conn_type: str) -> bool:
    """Whether `conn_type` is one the UI offers (built in, or registered by a hook)."""
    return conn_type in _TYPES


def check_conn_type(conn_type: str, *, conn_id: str) -> None:
    """Refuse (InvalidInput, one line) a type that is empty, longer than CONN_TYPE_MAX, or not lower-case
    letters, digits, "_", "+" and "." starting with a letter. A type the registry does not know is
    accepted: a plugin's hooks may serve it."""
    if not conn_type:
        raise InvalidInput(f"connection {conn_id!r} needs a conn_type, e.g. {', '.join(connection_types())}")
    shown = repr(conn_type[:_SHOWN_TYPE_CHARS]) + ("..." if len(conn_type) > _SHOWN_TYPE_CHARS else "")
    if len(conn_type) > CONN_TYPE_MAX:
        raise InvalidInput(f"conn_type {shown} of connection {conn_id!r} is longer than {CONN_TYPE_MAX} characters")
    if not _CONN_TYPE.fullmatch(conn_type):
        raise InvalidInput(
            f"conn_type {shown} of connection {conn_id!r} must be lower-case letters, digits, '_', '+' or '.', "
            "starting with a letter (it is the scheme of the connection's URI)"
        )
