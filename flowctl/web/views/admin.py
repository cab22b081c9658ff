"""Admin pages: connections, variables and pools (Op role) and users (Admin role), each listed with
create / edit / delete. Changes go through flowctl.services, which write the audit trail; no page ever
holds a stored password or secret value (see admin_forms). Things are named in the query string
(`?conn_id=`), as ids and keys may hold any character, slashes included."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_user

from flowctl.connection_types import check_conn_type, connection_type, connection_types
from flowctl.db.queries.pools import DEFAULT_POOL, get_pool
from flowctl.db.secrets import MASK, is_sensitive_name
from flowctl.exceptions import FlowctlError, NotFound
from flowctl.roles import Role
from flowctl.services import connections as connection_service
from flowctl.services import pools as pool_service
from flowctl.services import users as user_service
from flowctl.services import variables as variable_service
from flowctl.services.actor import Actor
from flowctl.web import db
from flowctl.web.auth import WebUser, actor_name, current_user, require_role
from flowctl.web.views import admin_forms as forms

bp = Blueprint("admin", __name__, url_prefix="/admin")

SHOWN_VALUE_LENGTH = 300


def _actor() -> Actor:
    return Actor(actor_name(), datetime.now(UTC))


def _saved(message: str, endpoint: str) -> Any:
    db.commit()
    flash(message, "success")
    return redirect(url_for(endpoint))


def _deleted(action: Any, message: str, endpoint: str) -> Any:
    """Run a delete service call; its refusal (default pool, unknown name...) is flashed, not a page."""
    try:
        action()
    except FlowctlError as exc:
        db.session().rollback()
        flash(str(exc), "error")
        return redirect(url_for(endpoint))
    return _saved(message, endpoint)


def _form_value(name: str) -> str:
    return request.form.get(name, "")


@bp.get("/")
@require_role(Role.OP)
def index() -> Any:
    return redirect(url_for("admin.connections"))


# Connections ---------------------------------------------------------------------------------------


@bp.get("/connections")
@require_role(Role.OP)
def connections() -> Any:
    rows = []
    for conn in connection_service.list_connections(db.session(), db.cipher()):
        kind = connection_type(conn.conn_type)
        rows.append((conn, kind, forms.masked_extra_text(conn, kind)))
    return render_template("admin/connections.html", rows=rows, mask=MASK, tab="connections")


@bp.route("/connections/new", methods=["GET", "POST"])
@require_role(Role.OP)
def connection_new() -> Any:
    kind = connection_type(_picked_type(request.args.get("conn_id", "")) or "generic")
    form = forms.connection_form(kind)
    return _connection_page(form, kind, stored=None)


@bp.route("/connections/edit", methods=["GET", "POST"])
@require_role(Role.OP)
def connection_edit() -> Any:
    stored = connection_service.get_stored_connection(db.session(), db.cipher(), request.args.get("conn_id", ""))
    kind = connection_type(_picked_type(stored.conn_id) or stored.conn_type)
    form = forms.connection_form(kind, data=forms.connection_form_data(stored, kind))
    return _connection_page(form, kind, stored=stored)


def _picked_type(conn_id: str) -> str | None:
    """The `?conn_type=` the type picker chose, refused (400) at once if no connection may have it."""
    conn_type = request.args.get("conn_type")
    if conn_type:
        check_conn_type(conn_type, conn_id=conn_id or "(new)")
    return conn_type


def _connection_page(form: Any, kind: Any, *, stored: Any) -> Any:
    problem = None
    if form.validate_on_submit():
        session, cipher = db.session(), db.cipher()
        try:
            conn = forms.connection_from_form(form, kind, stored)
            if stored is None:
                connection_service.add_connection(session, cipher, conn, actor=_actor())
            else:
                connection_service.update_connection(session, cipher, conn, actor=_actor())
        except FlowctlError as exc:
            session.rollback()
            problem = str(exc)
        else:
            return _saved(f"Saved connection {conn.conn_id}.", "admin.connections")
    return render_template(
        "admin/connection_form.html",
        form=form,
        kind=kind,
        types=connection_types(),
        stored=stored,
        problem=problem,
        tab="connections",
    )


@bp.post("/connections/delete")
@require_role(Role.OP)
def connection_delete() -> Any:
    conn_id = _form_value("conn_id")
    return _deleted(
        lambda: connection_service.delete_connection(db.session(), conn_id, actor=_actor()),
        f"Deleted connection {conn_id}.",
        "admin.connections",
    )


# Variables -----------------------------------------------------------------------------------------


@bp.get("/variables")
@require_role(Role.OP)
def variables() -> Any:
    rows = []
    for entry in variable_service.list_variable_entries(db.session(), db.cipher()):
        shown = MASK if is_sensitive_name(entry.key) else entry.value
        rows.append((entry, shown if len(shown) <= SHOWN_VALUE_LENGTH else shown[:SHOWN_VALUE_LENGTH] + "…"))
    return render_template("admin/variables.html", rows=rows, tab="variables")


@bp.route("/variables/new", methods=["GET", "POST"])
@require_role(Role.OP)
def variable_new() -> Any:
    return _variable_page(forms.VariableForm(), stored=None)


@bp.route("/variables/edit", methods=["GET", "POST"])
@require_role(Role.OP)
def variable_edit() -> Any:
    stored = variable_service.get_variable_entry(db.session(), db.cipher(), request.args.get("key", ""))
    secret = is_sensitive_name(stored.key)
    data = {"key": stored.key, "value": "" if secret else stored.value, "description": stored.description}
    return _variable_page(forms.VariableForm(data=data), stored=stored)


def _variable_page(form: forms.VariableForm, *, stored: Any) -> Any:
    problem = None
    if form.validate_on_submit():
        key = stored.key if stored else form.key.data.strip()
        value = form.value.data or ""
        if stored is not None and is_sensitive_name(key) and not value:
            value = stored.value  # a secret is never shown, so an empty field leaves it as it is
        session = db.session()
        try:
            if stored is None and _variable_exists(key):
                raise FlowctlError(f"variable {key!r} already exists: edit it instead")
            variable_service.set_variable_entry(
                session, db.cipher(), key, value, description=form.description.data or "", actor=_actor()
            )
        except FlowctlError as exc:
            session.rollback()
            problem = str(exc)
        else:
            return _saved(f"Saved variable {key}.", "admin.variables")
    secret = stored is not None and is_sensitive_name(stored.key)
    return render_template(
        "admin/variable_form.html", form=form, stored=stored, secret=secret, problem=problem, tab="variables"
    )


def _variable_exists(key: str) -> bool:
    try:
        variable_service.get_variable_entry(db.session(), db.cipher(), key)
    except NotFound:
        return False
    return True


@bp.post("/variables/delete")
@require_role(Role.OP)
def variable_delete() -> Any:
    key = _form_value("key")
    return _deleted(
        lambda: variable_service.delete_variable(db.session(), key, actor=_actor()),
        f"Deleted variable {key}.",
        "admin.variables",
    )


# Pools ---------------------------------------------------------------------------------------------


@bp.get("/pools")
@require_role(Role.OP)
def pools() -> Any:
    usage = pool_service.list_pools(db.session())
    return render_template("admin/pools.html", pools=usage, default_pool=DEFAULT_POOL, tab="pools")


@bp.route("/pools/new", methods=["GET", "POST"])
@require_role(Role.OP)
def pool_new() -> Any:
    return _pool_page(forms.PoolForm(), stored=None)


@bp.route("/pools/edit", methods=["GET", "POST"])
@require_role(Role.OP)
def pool_edit() -> Any:
    name = request.args.get("pool", "")
    stored = get_pool(db.session(), name)
    if stored is None:
        raise NotFound(f"no pool {name!r}")
    data = {"name": stored.pool, "slots": stored.slots, "description": stored.description}
    return _pool_page(forms.PoolForm(data=data), stored=stored)


def _pool_page(form: forms.PoolForm, *, stored: Any) -> Any:
    problem = None
    if form.validate_on_submit():
        name = stored.pool if stored else form.name.data.strip()
        session = db.session()
        try:
            if stored is None and get_pool(session, name) is not None:
                raise FlowctlError(f"pool {name!r} already exists: edit it instead")
            pool_service.set_pool(session, name, form.slots.data, form.description.data or "", actor=_actor())
        except FlowctlError as exc:
            session.rollback()
            problem = str(exc)
        else:
            return _saved(f"Saved pool {name}.", "admin.pools")
    return render_template("admin/pool_form.html", form=form, stored=stored, problem=problem, tab="pools")


@bp.post("/pools/delete")
@require_role(Role.OP)
def pool_delete() -> Any:
    name = _form_value("pool")
    return _deleted(
        lambda: pool_service.delete_pool(db.session(), name, actor=_actor()), f"Deleted pool {name}.", "admin.pools"
    )


# Users ---------------------------------------------------------------------------------------------


@bp.get("/users")
@require_role(Role.ADMIN)
def users() -> Any:
    rows = user_service.list_users(db.session())
    return render_template("admin/users.html", users=rows, me=current_user().username, tab="users")


@bp.route("/users/new", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def user_new() -> Any:
    form = forms.UserCreateForm()
    problem = None
    if form.validate_on_submit():
        session = db.session()
        try:
            user_service.create_user(
                session,
                username=form.username.data,
                email=form.email.data,
                role=form.role.data,
                password=form.password.data,
                first_name=form.first_name.data or "",
                last_name=form.last_name.data or "",
                actor=_actor(),
            )
        except FlowctlError as exc:
            session.rollback()
            problem = str(exc)
        else:
            return _saved(f"Created user {form.username.data.strip()}.", "admin.users")
    return render_template("admin/user_form.html", form=form, stored=None, problem=problem, tab="users")


@bp.route("/users/edit", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def user_edit() -> Any:
    session = db.session()
    stored = user_service.require_user(session, request.args.get("username", ""))
    form = forms.UserEditForm(data={"role": stored.role})
    myself = stored.username == current_user().username
    problem = None
    if form.validate_on_submit():
        try:
            if form.role.data != stored.role:
                if myself:
                    raise FlowctlError("you cannot change your own role (ask another admin)")
                user_service.set_role(session, stored.username, form.role.data, actor=_actor())
            if form.password.data:
                user_service.set_password(session, stored.username, form.password.data, actor=_actor())
        except FlowctlError as exc:
            session.rollback()
            problem = str(exc)
        else:
            if myself and form.password.data:
                # a new password signs out every session of the user: keep this one signed in
                login_user(WebUser(stored.id, stored.username, Role(stored.role), stored.session_token))
            return _saved(f"Saved user {stored.username}.", "admin.users")
    return render_template(
        "admin/user_form.html", form=form, stored=stored, myself=myself, problem=problem, tab="users"
    )


@bp.post("/users/delete")
@require_role(Role.ADMIN)
def user_delete() -> Any:
    username = _form_value("username")
    if username == current_user().username:
        flash("You cannot delete yourself.", "error")
        return redirect(url_for("admin.users"))
    return _deleted(
        lambda: user_service.delete_user(db.session(), username, actor=_actor()),
        f"Deleted user {username}.",
        "admin.users",
    )
