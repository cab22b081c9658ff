"""BaseHook: how a hook finds its connection, and which hook class serves a connection type.

Inside a task process the task runtime installs the connection source (environment, then the metadata
DB, with the password handed to the log masker). Anywhere else — a user script, a Python shell — hooks
fall back to `FLOWCTL_CONN_<ID>` and then the metadata DB named by the flowctl settings.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from flowctl.connection import Connection, connection_from_environment
from flowctl.exceptions import FlowctlError, InvalidInput

ConnectionSource = Callable[[str], Connection]

# The built-in hooks by connection type, imported only when asked for (requests and the DB drivers are
# not cheap to import, and a DAG file that only names an operator should not pay for them).
_BUILT_IN_HOOKS = {
    "sqlite": "flowctl.hooks.sqlite:SqliteHook",
    "postgres": "flowctl.hooks.postgres:PostgresHook",
    "mysql": "flowctl.hooks.mysql:MySqlHook",
    "http": "flowctl.hooks.http:HttpHook",
}
_custom_hooks: dict[str, type[BaseHook]] = {}
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})


class HookError(FlowctlError):
    """A hook could not do what it was asked (bad connection settings, a missing library, a refused call)."""


class BaseHook:
    """What every hook is: something that reaches an external system through a named connection.

    Subclasses set `conn_name_attr` (the attribute holding the connection id), `default_conn_name`,
    `conn_type` and `hook_name`, and implement `get_conn()`. A subclass that names a `conn_type` no
    built-in hook serves becomes the hook `get_hook` returns for connections of that type.
    """

    conn_name_attr: ClassVar[str] = ""
    default_conn_name: ClassVar[str] = ""
    conn_type: ClassVar[str] = ""
    hook_name: ClassVar[str] = ""
    # How long `test_connection` may wait for the other side (`flowctl connections test` sets it).
    test_timeout: float = 10.0
    _connection_source: ClassVar[ConnectionSource | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own_type = cls.__dict__.get("conn_type")
        if own_type and own_type not in _BUILT_IN_HOOKS:
            _custom_hooks.setdefault(own_type, cls)  # the first class to claim a type keeps it

    def __init__(self, logger_name: str | None = None) -> None:
        self._logger_name = logger_name
        self._connection: Connection | None = None

    @property
    def log(self) -> logging.Logger:
        # A property, so a custom hook that never calls super().__init__() still has one.
        name = getattr(self, "_logger_name", None)
        return logging.getLogger(name or f"{type(self).__module__}.{type(self).__name__}")

    # connections

    @classmethod
    def install_connection_source(cls, source: ConnectionSource | None) -> None:
        """Where every hook's `get_connection` looks from now on (None: back to the fallback)."""
        BaseHook._connection_source = source

    @classmethod
    def get_connection(cls, conn_id: str) -> Connection:
        """The connection `conn_id`, decrypted: from `FLOWCTL_CONN_<ID>` if set, else from the metadata DB."""
        source = BaseHook._connection_source
        if source is not None:
            return source(conn_id)
        return connection_outside_tasks(conn_id, os.environ)

    @classmethod
    def get_hook(cls, conn_id: str, hook_params: Mapping[str, Any] | None = None) -> BaseHook:
        """A hook of the class that serves the connection's type (PostgresHook for `postgres`, ...)."""
        return hook_for_connection(cls.get_connection(conn_id), hook_params)

    def get_conn_id(self) -> str:
        """The id of this hook's connection (held in the attribute `conn_name_attr` names)."""
        return getattr(self, self.conn_name_attr, None) or self.default_conn_name

    @property
    def connection(self) -> Connection:
        """This hook's connection, read once per hook; assign one to use it instead."""
        if getattr(self, "_connection", None) is None:
            self._connection = self.get_connection(self.get_conn_id())
        return self._connection  # type: ignore[return-value]

    @connection.setter
    def connection(self, conn: Connection) -> None:
        self._connection = conn

    # what subclasses provide

    def get_conn(self) -> Any:
        """A client or DB-API connection for the external system."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_conn()")

    def test_connection(self) -> tuple[bool, str]:
        """Try the connection within `test_timeout` seconds: (worked, one-line message)."""
        return False, f"{type(self).__name__} cannot test connections"


def hook_class_for(conn_type: str) -> type[BaseHook]:
    """The hook class serving `conn_type`; InvalidInput when there is none."""
    if conn_type in _BUILT_IN_HOOKS:
        module_name, _, class_name = _BUILT_IN_HOOKS[conn_type].partition(":")
        return getattr(importlib.import_module(module_name), class_name)
    if conn_type in _custom_hooks:
        return _custom_hooks[conn_type]
    known = ", ".join(sorted({*_BUILT_IN_HOOKS, *_custom_hooks}))
    raise InvalidInput(f"no hook serves connections of type {conn_type or '(none)'!r} (hooks exist for: {known})")


def hook_for_connection(conn: Connection, hook_params: Mapping[str, Any] | None = None) -> BaseHook:
    """A hook for `conn`, built with `hook_params`, that uses `conn` as given."""
    hook_class = hook_class_for(conn.conn_type)
    params = dict(hook_params or {})
    if hook_class.conn_name_attr:
        params[hook_class.conn_name_attr] = conn.conn_id
    hook = hook_class(**params)
    hook.connection = conn
    return hook


def probe_connection(conn: Connection, *, timeout: float) -> tuple[bool, str]:
    """Whether `conn` answers within `timeout` seconds: an `fs` path exists, a DB runs `SELECT 1`, an
    HTTP base URL answers a HEAD. Returns (worked, one-line message)."""
    if conn.conn_type == "fs":
        path = conn.extra_dejson.get("path") or conn.host or ""
        if not path:
            return False, f"connection {conn.conn_id!r} names no path (set extra {{'path': ...}})"
        if Path(path).exists():
            return True, f"path {path} exists"
        return False, f"path {path} does not exist"
    hook = hook_for_connection(conn)
    hook.test_timeout = timeout
    return hook.test_connection()


def connection_outside_tasks(conn_id: str, environ: Mapping[str, str]) -> Connection:
    """The connection from the environment, else from the metadata DB of the flowctl settings."""
    from_env = connection_from_environment(conn_id, environ)
    if from_env is not None:
        return from_env
    from flowctl.config import settings_from_environment
    from flowctl.db.engine import make_engine, make_session_factory
    from flowctl.db.secrets import SecretCipher
    from flowctl.services.connections import get_connection

    settings = settings_from_environment(environ)
    engine = make_engine(settings.core.sql_alchemy_conn)
    try:
        with make_session_factory(engine)() as session:
            return get_connection(session, SecretCipher(settings.core.fernet_key), conn_id, environ={})
    finally:
        engine.dispose()


def is_true(value: Any) -> bool:
    """A boolean setting from a connection's extra: JSON true, or text such as "true" from a URI."""
    if isinstance(value, str):
        return value.strip().lower() in TRUE_WORDS
    return value is True or (isinstance(value, int) and value == 1)
