"""The Connection value object and its URI and JSON forms (pure: stdlib, flowctl.exceptions and
flowctl.strict_json only)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

from flowctl import strict_json
from flowctl.exceptions import InvalidInput

ENVIRONMENT_PREFIX = "FLOWCTL_CONN_"
EXTRA_PARAM = "__extra__"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
# Underscores become dashes in a URI scheme and dashes turn back into underscores, so a conn_type
# with a dash (or upper case, which schemes fold) could not survive a round trip through get_uri.
_URI_CONN_TYPE = re.compile(r"[a-z][a-z0-9_+.]*")
_TEXT_FIELDS = ("description", "host", "login", "password", "schema", "extra")
_JSON_FIELDS = frozenset({"conn_id", "conn_type", "port", *_TEXT_FIELDS})


@dataclass(frozen=True, slots=True, repr=False)
class Connection:
    """Where and how to reach an external system; empty text fields are stored as None."""

    conn_id: str
    conn_type: str = ""
    description: str | None = None
    host: str | None = None
    login: str | None = None
    password: str | None = None
    schema: str | None = None
    port: int | None = None
    extra: str | None = None  # a JSON object as text, kept exactly as given

    def __post_init__(self) -> None:
        if not self.conn_id:
            raise InvalidInput("connection id must not be empty")
        # One canonical value per meaning: a URI cannot tell an empty login from no login.
        for name in _TEXT_FIELDS:
            if getattr(self, name) == "":
                object.__setattr__(self, name, None)
        if self.port is not None and (
            isinstance(self.port, bool) or not isinstance(self.port, int) or not 1 <= self.port <= 65535
        ):
            raise InvalidInput(f"port of connection {self.conn_id!r} must be an integer from 1 to 65535")
        if self.extra is not None:
            validate_extra(self.extra, conn_id=self.conn_id)

    def __repr__(self) -> str:
        # Extras often hold tokens too, and this module cannot judge which keys are secret.
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("password", "extra"):
            if shown[name] is not None:
                shown[name] = "***"
        return "Connection(" + ", ".join(f"{name}={value!r}" for name, value in shown.items()) + ")"

    @property
    def extra_dejson(self) -> dict[str, Any]:
        """The extra JSON object as a dict, `{}` when there is none."""
        return json.loads(self.extra) if self.extra else {}

    @classmethod
    def from_uri(cls, conn_id: str, uri: str) -> Connection:
        """Parse `conn-type://login:password@host:port/schema?param=value` (Airflow's format)."""
        return cls(conn_id=conn_id, **_parse_uri(conn_id, uri.strip()))

    def get_uri(self) -> str:
        """This connection as a URI that `from_uri` reads back equal; `description` is not part of it."""
        if not _URI_CONN_TYPE.fullmatch(self.conn_type):
            raise InvalidInput(
                f"connection {self.conn_id!r} cannot be written as a URI: conn_type {self.conn_type!r} "
                "must be lower-case letters, digits, '_', '+' or '.', starting with a letter"
            )
        uri = self.conn_type.replace("_", "-") + "://"
        host = self.host or ""
        protocol, separator, rest = host.partition("://")
        if separator and _SCHEME.fullmatch(protocol):
            uri += protocol + "://"  # Airflow's readable form for a host that carries its own scheme
            host = rest
        if self.login is not None or self.password is not None:
            uri += _encode(self.login or "")
            uri += "" if self.password is None else ":" + _encode(self.password)
            uri += "@"
        uri += _encode(host)
        uri += "" if self.port is None else f":{self.port}"
        query = _encode_extra(self.extra)
        if self.schema is not None or query:
            uri += "/" + _encode(self.schema or "")
        return uri + ("?" + query if query else "")

    @classmethod
    def from_json(cls, conn_id: str, text: str) -> Connection:
        """Parse the JSON form `{"conn_type": ..., "host": ..., "extra": {...} or "..."}`."""
        try:
            data = strict_json.loads(text, what=f"JSON of connection {conn_id!r}")
        except ValueError as exc:
            raise InvalidInput(f"JSON of connection {conn_id!r} is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise InvalidInput(f"JSON of connection {conn_id!r} must be an object")
        unknown = sorted(set(data) - _JSON_FIELDS)
        if unknown:
            raise InvalidInput(f"JSON of connection {conn_id!r} has unknown fields: {', '.join(unknown)}")
        if data.pop("conn_id", conn_id) != conn_id:
            raise InvalidInput(f"JSON of connection {conn_id!r} names a different conn_id")
        if isinstance(data.get("extra"), dict):
            data["extra"] = json.dumps(data["extra"])
        for name, value in data.items():
            if name != "port" and value is not None and not isinstance(value, str):
                raise InvalidInput(f"field {name!r} of connection {conn_id!r} must be a string or null")
        data["port"] = _parse_port(conn_id, data.get("port"))
        data["conn_type"] = data.get("conn_type") or ""
        return cls(conn_id=conn_id, **data)

    def to_dict(self, *, show_secrets: bool) -> dict[str, Any]:
        """The fields as listed by the CLI and API; `password` only when `show_secrets`."""
        result: dict[str, Any] = {
            "conn_id": self.conn_id,
            "conn_type": self.conn_type,
            "description": self.description,
            "host": self.host,
            "port": self.port,
            "login": self.login,
        }
        if show_secrets:
            result["password"] = self.password
        result["schema"] = self.schema
        result["extra"] = self.extra
        return result


def validate_extra(text: str, *, conn_id: str) -> None:
    """Raise InvalidInput unless `text` is a JSON object."""
    try:
        value = strict_json.loads(text, what=f"extra for connection {conn_id!r}")
    except ValueError as exc:
        raise InvalidInput(f"extra for connection {conn_id!r} is not a JSON object: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"extra for connection {conn_id!r} is not a JSON object: got a {type(value).__name__}")


def connection_from_environment(conn_id: str, environ: Mapping[str, str]) -> Connection | None:
    """The connection defined by `FLOWCTL_CONN_<CONN_ID>` (a URI, or JSON when it starts with `{`)."""
    variable = ENVIRONMENT_PREFIX + conn_id.upper()
    value = environ.get(variable, "").strip()
    if not value:
        return None
    try:
        if value.startswith("{"):
            return Connection.from_json(conn_id, value)
        return Connection.from_uri(conn_id, value)
    except InvalidInput as exc:
        raise InvalidInput(f"environment variable {variable}: {exc}") from None


def _parse_uri(conn_id: str, uri: str) -> dict[str, Any]:
    """The Connection fields of `uri`; errors never quote the URI, which may hold the password."""

    def fail(problem: str) -> InvalidInput:
        return InvalidInput(f"URI of connection {conn_id!r} {problem}")

    if "#" in uri:
        raise fail("contains '#'; percent-encode it as %23")
    head, _, query = uri.partition("?")
    scheme, separator, rest = head.partition("://")
    if not separator or not scheme:
        raise fail("has no scheme; expected conn-type://login:password@host:port/schema")
    if not _SCHEME.fullmatch(scheme):
        raise fail("has an invalid scheme; use letters, digits, '+', '-' or '.', starting with a letter")
    protocol, separator, after_protocol = rest.partition("://")
    if separator:
        if "://" in after_protocol:
            raise fail("contains '://' more than twice; percent-encode ':' and '/' in its parts")
        if not _SCHEME.fullmatch(protocol):
            raise fail("has an invalid protocol before its host")
        rest = after_protocol
    authority, slash, path = rest.partition("/")
    userinfo, at, host_port = authority.rpartition("@")
    login, _, password = userinfo.partition(":")
    if host_port.startswith("["):  # an IPv6 literal, whose colons are not the port separator
        host, bracket, port_text = host_port[1:].partition("]")
        if not bracket or (port_text and not port_text.startswith(":")):
            raise fail("has an unclosed or malformed '[' in its host")
        port_text = port_text[1:]
    else:
        host, _, port_text = host_port.partition(":")
    host = _decode(conn_id, host)
    if separator:
        host = f"{protocol}://{host}"
    conn_type = scheme.lower().replace("-", "_")
    return {
        "conn_type": "postgres" if conn_type == "postgresql" else conn_type,
        "host": host,
        "login": _decode(conn_id, login),
        "password": _decode(conn_id, password) if at and ":" in userinfo else None,
        "schema": _decode(conn_id, path) if slash else None,
        "port": _parse_port(conn_id, port_text or None),
        "extra": _decode_extra(conn_id, query),
    }


def _parse_port(conn_id: str, value: object) -> int | None:
    """The port as an int; the message leaves out the value, which may be a misplaced password."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise InvalidInput(f"port of connection {conn_id!r} must be an integer from 1 to 65535")


def _encode(text: str) -> str:
    return quote(text, safe="")


def _decode(conn_id: str, text: str) -> str:
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise InvalidInput(f"URI of connection {conn_id!r} has percent-escapes that are not UTF-8") from None


def _encode_extra(extra: str | None) -> str:
    """Query params for a flat str->str extra in canonical JSON, else `__extra__=<text>` to keep it exact."""
    if extra is None:
        return ""
    value = json.loads(extra)
    flat = bool(
        value
        and EXTRA_PARAM not in value
        and all(isinstance(item, str) for item in value.values())
        and json.dumps(value) == extra
    )
    return urlencode(value if flat else {EXTRA_PARAM: extra}, quote_via=quote, safe="")


def _decode_extra(conn_id: str, query: str) -> str | None:
    if not query:
        return None
    try:
        pairs = parse_qsl(query, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise InvalidInput(f"URI of connection {conn_id!r} has percent-escapes that are not UTF-8") from None
    params = dict(pairs)
    if len(params) != len(pairs):
        raise InvalidInput(f"URI of connection {conn_id!r} repeats a query parameter")
    if EXTRA_PARAM in params:
        if len(params) > 1:
            raise InvalidInput(f"URI of connection {conn_id!r} mixes {EXTRA_PARAM} with other parameters")
        return params[EXTRA_PARAM]
    return json.dumps(params) if params else None
