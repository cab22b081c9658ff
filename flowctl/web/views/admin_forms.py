"""The admin pages' forms (Flask-WTF) and how a connection's secrets stay out of pages: a password is never
put back into a form (empty means "unchanged"), and secret values in `extra` show as *** and mean
"unchanged" when they come back so."""

from __future__ import annotations

import json
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Field,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from flowctl.connection import Connection
from flowctl.connection_types import ConnectionType, ExtraField
from flowctl.db.secrets import MASK, is_sensitive_name
from flowctl.exceptions import InvalidInput
from flowctl.roles import Role

ID_MAX = 250
ROLE_CHOICES = [role.value for role in Role]


class ConnectionForm(FlaskForm):
    conn_id = StringField("Connection id", validators=[DataRequired(), Length(max=ID_MAX)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=10_000)])
    host = StringField("Host", validators=[Optional(), Length(max=500)])
    schema = StringField("Schema", validators=[Optional(), Length(max=500)])
    login = StringField("Login", validators=[Optional(), Length(max=10_000)])
    password = PasswordField("Password", validators=[Optional(), Length(max=10_000)])
    clear_password = BooleanField("Remove the stored password")
    port = IntegerField("Port", validators=[Optional(), NumberRange(1, 65535)])
    extra = TextAreaField("Extra (JSON object)", validators=[Optional(), Length(max=1_000_000)])


def connection_form(kind: ConnectionType, **kwargs: Any) -> Any:
    """A ConnectionForm with one more input per extra setting of `kind` (named extra_0, extra_1...)."""
    inputs = {f"extra_{number}": _extra_input(extra) for number, extra in enumerate(kind.extra_fields)}
    return type("TypedConnectionForm", (ConnectionForm,), inputs)(**kwargs)


def _extra_input(extra: ExtraField) -> Field:
    description = extra.description
    if extra.kind == "boolean":
        return BooleanField(extra.label, description=description)
    if extra.kind == "integer":
        return IntegerField(extra.label, validators=[Optional()], description=description)
    if extra.kind == "password":
        return PasswordField(extra.label, validators=[Optional()], description=description)
    return StringField(extra.label, validators=[Optional(), Length(max=10_000)], description=description)


def connection_form_data(conn: Connection, kind: ConnectionType) -> dict[str, Any]:
    """What an edit form starts with: no password, and *** for every secret value of extra."""
    stored = conn.extra_dejson
    data: dict[str, Any] = {
        "conn_id": conn.conn_id,
        "description": conn.description,
        "host": conn.host,
        "schema": conn.schema,
        "login": conn.login,
        "port": conn.port,
    }
    for number, extra in enumerate(kind.extra_fields):
        if not extra.secret:
            data[f"extra_{number}"] = stored.get(extra.key)
    rest = {key: value for key, value in stored.items() if key not in {e.key for e in kind.extra_fields}}
    data["extra"] = json.dumps(masked(rest, kind.secret_extra_keys), indent=2) if rest else ""
    return data


def connection_from_form(form: Any, kind: ConnectionType, stored: Connection | None) -> Connection:
    """The connection a submitted form stands for: fields the type hides, a password left empty and
    *** in extra keep their stored values. Raises InvalidInput."""
    conn_id = stored.conn_id if stored else form.conn_id.data.strip()
    values: dict[str, Any] = {}
    for name in ("host", "schema", "login", "port"):
        values[name] = getattr(form, name).data if name in kind.fields else getattr(stored, name, None)
    password = stored.password if stored else None
    if "password" in kind.fields and form.password.data:
        password = form.password.data
    elif form.clear_password.data:
        password = None
    extra = _extra_from_form(form, kind, stored.extra_dejson if stored else {}, conn_id)
    return Connection(
        conn_id=conn_id,
        conn_type=kind.conn_type,
        description=form.description.data,
        password=password,
        extra=json.dumps(extra) if extra else None,
        **values,
    )


def _extra_from_form(form: Any, kind: ConnectionType, stored: dict[str, Any], conn_id: str) -> dict[str, Any]:
    text = (form.extra.data or "").strip()
    try:
        extra = json.loads(text) if text else {}
    except ValueError as exc:
        raise InvalidInput(f"extra of connection {conn_id!r} is not valid JSON: {exc}") from None
    if not isinstance(extra, dict):
        raise InvalidInput(f"extra of connection {conn_id!r} must be a JSON object {{...}}")
    extra = unmasked(extra, stored)
    for number, setting in enumerate(kind.extra_fields):
        value = getattr(form, f"extra_{number}").data
        if setting.secret and not value:
            value = stored.get(setting.key)
        if value is None or value == "" or value is False:
            extra.pop(setting.key, None)
        else:
            extra[setting.key] = value
    return extra


def masked(value: Any, secret_keys: frozenset[str] = frozenset()) -> Any:
    """A copy of JSON data with the value of every secret-looking key, at any depth, replaced by ***."""
    if isinstance(value, dict):
        return {
            key: MASK if (key in secret_keys or is_sensitive_name(key)) and item is not None else masked(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


def unmasked(value: Any, stored: Any) -> Any:
    """`value` with each *** that stands where `stored` has a value put back to that value."""
    if isinstance(value, dict) and isinstance(stored, dict):
        return {
            key: stored[key] if item == MASK and key in stored else unmasked(item, stored.get(key))
            for key, item in value.items()
        }
    return value


def masked_extra_text(conn: Connection, kind: ConnectionType) -> str:
    """A connection's extra as a list may show it."""
    return json.dumps(masked(conn.extra_dejson, kind.secret_extra_keys)) if conn.extra else ""


class VariableForm(FlaskForm):
    key = StringField("Key", validators=[DataRequired(), Length(max=ID_MAX)])
    value = TextAreaField("Value", validators=[Length(max=10_000_000)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=10_000)])


class PoolForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=256)])
    slots = IntegerField("Slots", validators=[InputRequired(), NumberRange(min=0, max=1_000_000)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=10_000)])


class UserCreateForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=256)])
    email = StringField("Email", validators=[DataRequired(), Length(max=256)])
    first_name = StringField("First name", validators=[Optional(), Length(max=256)])
    last_name = StringField("Last name", validators=[Optional(), Length(max=256)])
    role = SelectField("Role", choices=ROLE_CHOICES, default=Role.VIEWER.value)
    password = PasswordField("Password", validators=[DataRequired(), Length(min=8, max=1000)])


class UserEditForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)
    password = PasswordField("New password", validators=[Optional(), Length(min=8, max=1000)])
