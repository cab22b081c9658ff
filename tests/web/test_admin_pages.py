"""Admin pages: connections (fields by type, secrets never shown), variables, pools and users; who may use
them; escaping."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from flowctl.connection_types import ConnectionType, ExtraField
from flowctl.db.models import LogEvent, TaskInstance
from flowctl.roles import Role
from flowctl.services.actor import Actor
from tests.web.conftest import PASSWORD, USERNAMES, Seed, Web

CANARY = "canary-S3cr3t-pw"
XSS = "<script>alert('x')</script>"
ACTOR = Actor("test", datetime.now(UTC))


def text_of(response: Any) -> str:
    return response.get_data(as_text=True)


def stored_connection(app: Any, session_factory: Any, conn_id: str) -> Any:
    from flowctl.services.connections import get_stored_connection
    from flowctl.web import db

    with app.app_context(), session_factory() as session:
        return get_stored_connection(session, db.cipher(), conn_id)


def stored_variables(app: Any, session_factory: Any) -> dict[str, Any]:
    from flowctl.services.variables import list_variable_entries
    from flowctl.web import db

    with app.app_context(), session_factory() as session:
        return {entry.key: entry for entry in list_variable_entries(session, db.cipher())}


def events(session_factory: Any) -> list[str]:
    with session_factory() as session:
        return list(session.scalars(select(LogEvent.event).order_by(LogEvent.id)))


# Who may use them ------------------------------------------------------------------------------------

OP_PAGES = ["/admin/connections", "/admin/connections/new", "/admin/variables", "/admin/variables/new"]
OP_PAGES += ["/admin/pools", "/admin/pools/new"]
ADMIN_PAGES = ["/admin/users", "/admin/users/new"]
OP_POSTS = ["/admin/connections/new", "/admin/connections/delete", "/admin/variables/new", "/admin/variables/delete"]
OP_POSTS += ["/admin/pools/new", "/admin/pools/delete"]
ADMIN_POSTS = ["/admin/users/new", "/admin/users/delete", "/admin/users/edit?username=viewer-user"]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.USER])
def test_viewers_and_users_may_neither_see_nor_change_admin_pages(web: Web, role: Role) -> None:
    client = web.client(role)

    for url in OP_PAGES + ADMIN_PAGES:
        assert client.get(url).status_code == 403, url
    for url in OP_POSTS + ADMIN_POSTS:
        assert client.post(url, data={"conn_id": "x", "key": "x", "pool": "x", "username": "x"}).status_code == 403
    assert 'href="/admin/connections"' not in text_of(client.get("/"))


def test_ops_manage_connections_variables_and_pools_but_not_users(web: Web) -> None:
    client = web.client(Role.OP)

    for url in OP_PAGES:
        assert client.get(url).status_code == 200, url
    for url in ADMIN_PAGES:
        assert client.get(url).status_code == 403, url
    assert client.post("/admin/users/delete", data={"username": USERNAMES[Role.VIEWER]}).status_code == 403
    assert 'href="/admin/connections"' in text_of(client.get("/"))
    assert 'href="/admin/users"' not in text_of(client.get("/admin/connections"))


def test_anonymous_visitors_go_to_the_login_page_and_posts_need_the_csrf_token(web: Web) -> None:
    for url in OP_PAGES + ADMIN_PAGES:
        response = web.client().get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    for url in OP_POSTS + ADMIN_POSTS:
        assert web.client().post(url, data={}).status_code == 302
    admin = web.client(Role.ADMIN)
    assert admin.post("/admin/variables/new", data={"key": "k", "value": "v"}, csrf=False).status_code == 400
    assert admin.get("/admin/variables/delete").status_code == 405


# Connections -----------------------------------------------------------------------------------------


def test_a_connection_is_created_with_the_fields_of_its_type_and_listed(
    web: Web, app: Any, session_factory: Any
) -> None:
    client = web.client(Role.OP)
    form = client.get("/admin/connections/new?conn_type=postgres")
    assert ">Database</label>" in text_of(form) and 'placeholder="5432"' in text_of(form)

    created = client.post(
        "/admin/connections/new?conn_type=postgres",
        data={"conn_id": "warehouse", "host": "db.example.com", "schema": "dwh", "login": "etl", "port": "5432"},
    )

    assert (created.status_code, created.headers["Location"]) == (302, "/admin/connections")
    conn = stored_connection(app, session_factory, "warehouse")
    assert (conn.conn_type, conn.host, conn.schema, conn.login, conn.port) == (
        "postgres",
        "db.example.com",
        "dwh",
        "etl",
        5432,
    )
    listing = text_of(client.get("/admin/connections"))
    assert "warehouse" in listing and "PostgreSQL" in listing and "db.example.com" in listing
    assert events(session_factory)[-1] == "connection.add"


def test_a_type_without_host_keeps_its_settings_in_extra(web: Web, app: Any, session_factory: Any) -> None:
    client = web.client(Role.OP)
    form = text_of(client.get("/admin/connections/new?conn_type=fs"))
    assert ">Path</label>" in form and 'name="host"' not in form

    client.post("/admin/connections/new?conn_type=fs", data={"conn_id": "incoming", "extra_0": "/data/in"})

    conn = stored_connection(app, session_factory, "incoming")
    assert conn.conn_type == "fs" and conn.host is None and conn.extra_dejson == {"path": "/data/in"}


def test_the_password_and_secret_extras_never_appear_in_any_page_and_stay_unless_replaced(
    web: Web, app: Any, session_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowctl import connection_types

    monkeypatch.setitem(
        connection_types._TYPES,
        "vault",
        ConnectionType(
            "vault", "Vault", fields={"host": "Host"}, extra_fields=(ExtraField("role_id", "Role", "password"),)
        ),
    )
    client = web.client(Role.ADMIN)
    extra = {"api_key": CANARY, "nested": {"password": CANARY, "region": "eu"}, "timeout": 5}
    client.post(
        "/admin/connections/new?conn_type=generic",
        data={"conn_id": "api", "host": "h", "login": "me", "password": CANARY, "extra": json.dumps(extra)},
    )
    client.post("/admin/connections/new?conn_type=vault", data={"conn_id": "vault", "host": "v", "extra_0": CANARY})
    client.post("/admin/variables/new", data={"key": "db_password", "value": CANARY})

    pages = [
        "/admin/connections",
        "/admin/connections/edit?conn_id=api",
        "/admin/connections/edit?conn_id=api&conn_type=http",
        "/admin/connections/edit?conn_id=vault",
        "/admin/variables",
        "/admin/variables/edit?key=db_password",
        "/admin/pools",
        "/admin/users",
        "/",
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert CANARY not in text_of(response), url
    edit = text_of(client.get("/admin/connections/edit?conn_id=api"))
    assert "A password is stored" in edit and "&#34;api_key&#34;: &#34;***&#34;" in edit and "eu" in edit

    # Given the edit form sent back as shown (password empty, secrets as ***), with one real change
    shown_extra = {"api_key": "***", "nested": {"password": "***", "region": "us"}, "timeout": 5}
    client.post(
        "/admin/connections/edit?conn_id=api",
        data={"conn_id": "api", "host": "h2", "login": "me", "password": "", "extra": json.dumps(shown_extra)},
    )
    client.post("/admin/connections/edit?conn_id=vault", data={"conn_id": "vault", "host": "v2", "extra_0": ""})

    api = stored_connection(app, session_factory, "api")
    assert api.host == "h2" and api.password == CANARY
    assert api.extra_dejson == {"api_key": CANARY, "nested": {"password": CANARY, "region": "us"}, "timeout": 5}
    vault = stored_connection(app, session_factory, "vault")
    assert vault.host == "v2" and vault.extra_dejson == {"role_id": CANARY}

    client.post("/admin/connections/edit?conn_id=api", data={"conn_id": "api", "password": "new-one", "extra": ""})
    assert stored_connection(app, session_factory, "api").password == "new-one"
    client.post("/admin/connections/edit?conn_id=api", data={"conn_id": "api", "clear_password": "y"})
    assert stored_connection(app, session_factory, "api").password is None


def test_bad_connection_input_is_shown_in_the_form_and_nothing_is_stored(
    web: Web, app: Any, session_factory: Any
) -> None:
    client = web.client(Role.OP)
    client.post("/admin/connections/new", data={"conn_id": "taken"})

    bad_extra = client.post("/admin/connections/new", data={"conn_id": "a", "extra": "[1, 2]"})
    bad_port = client.post("/admin/connections/new", data={"conn_id": "b", "port": "70000"})
    duplicate = client.post("/admin/connections/new", data={"conn_id": "taken"})
    no_id = client.post("/admin/connections/new", data={"conn_id": ""})

    assert bad_extra.status_code == 200 and "must be a JSON object" in text_of(bad_extra)
    assert bad_port.status_code == 200 and "Number must be between 1 and 65535" in text_of(bad_port)
    assert duplicate.status_code == 200 and "already exists" in text_of(duplicate)
    assert no_id.status_code == 200 and "This field is required" in text_of(no_id)
    from flowctl.services.connections import list_connections
    from flowctl.web import db

    with app.app_context(), session_factory() as session:
        assert [conn.conn_id for conn in list_connections(session, db.cipher())] == ["taken"]
    assert web.client(Role.OP).get("/admin/connections/edit?conn_id=missing").status_code == 404


def test_a_connection_is_deleted(web: Web, app: Any, session_factory: Any) -> None:
    client = web.client(Role.OP)
    client.post("/admin/connections/new", data={"conn_id": "with/slash"})
    assert 'href="/admin/connections/edit?conn_id=with/slash"' in text_of(client.get("/admin/connections"))

    deleted = client.post("/admin/connections/delete", data={"conn_id": "with/slash"})
    again = client.post("/admin/connections/delete", data={"conn_id": "with/slash"}, follow_redirects=True)

    assert deleted.status_code == 302
    assert "no connection" in text_of(again)
    assert "with/slash" not in text_of(client.get("/admin/connections"))


def test_connection_fields_come_back_escaped(web: Web) -> None:
    client = web.client(Role.OP)
    client.post(
        "/admin/connections/new",
        data={"conn_id": "x<b>", "description": XSS, "host": XSS, "extra": json.dumps({"k": XSS})},
    )

    for url in ("/admin/connections", "/admin/connections/edit?conn_id=x%3Cb%3E"):
        text = text_of(client.get(url))
        assert "<script>alert" not in text and "x<b>" not in text, url


# Variables -------------------------------------------------------------------------------------------


def test_variables_are_created_edited_and_deleted(web: Web, app: Any, session_factory: Any) -> None:
    client = web.client(Role.OP)

    created = client.post("/admin/variables/new", data={"key": "region", "value": "eu", "description": "where"})
    duplicate = client.post("/admin/variables/new", data={"key": "region", "value": "us"})
    edited = client.post("/admin/variables/edit?key=region", data={"key": "ignored", "value": "us", "description": ""})

    assert created.status_code == 302 and edited.status_code == 302
    assert duplicate.status_code == 200 and "already exists" in text_of(duplicate)
    region = stored_variables(app, session_factory)["region"]
    assert (region.value, region.description) == ("us", "")
    assert "us" in text_of(client.get("/admin/variables"))
    assert client.post("/admin/variables/delete", data={"key": "region"}).status_code == 302
    assert stored_variables(app, session_factory) == {}
    assert client.get("/admin/variables/edit?key=region").status_code == 404


def test_secret_looking_variables_are_masked_and_kept_when_left_empty(web: Web, app: Any, session_factory: Any) -> None:
    client = web.client(Role.OP)
    client.post("/admin/variables/new", data={"key": "api_token", "value": CANARY})

    listing = text_of(client.get("/admin/variables"))
    edit = text_of(client.get("/admin/variables/edit?key=api_token"))
    client.post("/admin/variables/edit?key=api_token", data={"key": "api_token", "value": "", "description": "d"})

    assert CANARY not in listing and "***" in listing
    assert CANARY not in edit and "leave this empty to keep it" in edit
    token = stored_variables(app, session_factory)["api_token"]
    assert (token.value, token.description) == (CANARY, "d")


def test_variable_values_and_descriptions_come_back_escaped(web: Web) -> None:
    client = web.client(Role.OP)
    client.post("/admin/variables/new", data={"key": "k<i>", "value": XSS, "description": XSS})

    for url in ("/admin/variables", "/admin/variables/edit?key=k%3Ci%3E"):
        text = text_of(client.get(url))
        assert "<script>alert" not in text and "k<i>" not in text and "&lt;script&gt;" in text, url


# Pools -----------------------------------------------------------------------------------------------


def test_pools_show_their_occupied_and_open_slots(web: Web, seed: Seed, session_factory: Any) -> None:
    dag_id = seed.dag(
        """
        from datetime import datetime
        from flowctl import DAG
        from flowctl.operators.empty import EmptyOperator
        with DAG("pooled", start_date=datetime(2024, 1, 1), schedule=None):
            EmptyOperator(task_id="a", pool="etl", pool_slots=2) >> EmptyOperator(task_id="b", pool="etl")
        """
    )
    client = web.client(Role.OP)
    client.post("/admin/pools/new", data={"name": "etl", "slots": "5", "description": "loads"})
    seed.run(dag_id, {"a": "running", "b": "queued"})
    with session_factory() as session:
        assert session.scalars(select(TaskInstance.pool)).all() == ["etl", "etl"]

    text = text_of(client.get("/admin/pools"))

    row = text[text.index('pool=etl">etl</a>') :].split("</tr>")[0]
    cells = [cell.split("</td>")[0].strip() for cell in row.split("<td")[1:]]
    assert cells[:5] == [">5", ">2", ">1", ">3", 'class="">2']  # slots, running, queued, occupied, open
    assert "loads" in row


def test_pools_are_edited_and_deleted_but_never_the_default_pool(web: Web, session_factory: Any) -> None:
    from flowctl.db.models import Pool

    client = web.client(Role.OP)
    client.post("/admin/pools/new", data={"name": "etl", "slots": "5"})

    edited = client.post("/admin/pools/edit?pool=etl", data={"name": "etl", "slots": "8", "description": "d"})
    negative = client.post("/admin/pools/edit?pool=etl", data={"name": "etl", "slots": "-1"})
    default = client.post("/admin/pools/delete", data={"pool": "default_pool"}, follow_redirects=True)
    deleted = client.post("/admin/pools/delete", data={"pool": "etl"})

    assert edited.status_code == 302 and deleted.status_code == 302
    assert negative.status_code == 200 and "Number must be between 0 and" in text_of(negative)
    assert "default_pool cannot be deleted" in text_of(default)
    assert "/admin/pools/delete" not in text_of(client.get("/admin/pools"))  # no delete button for default_pool
    with session_factory() as session:
        assert session.scalars(select(Pool.pool)).all() == ["default_pool"]
    assert client.get("/admin/pools/edit?pool=etl").status_code == 404


# Users -----------------------------------------------------------------------------------------------


def test_an_admin_creates_a_user_changes_their_role_and_password_and_deletes_them(
    web: Web, session_factory: Any
) -> None:
    from flowctl.db.models import User

    admin = web.client(Role.ADMIN)
    new = {"username": "dana", "email": "Dana@Example.com", "role": "User", "password": "long-enough-1"}

    created = admin.post("/admin/users/new", data=new)
    taken = admin.post("/admin/users/new", data=new)
    short = admin.post("/admin/users/new", data={**new, "username": "eve", "email": "e@x.io", "password": "short"})

    assert created.status_code == 302
    assert taken.status_code == 200 and "already exists" in text_of(taken)
    assert short.status_code == 200 and "between 8 and 1000 characters" in text_of(short)
    dana = web.client()
    assert dana.post("/login", data={"username": "dana", "password": "long-enough-1"}).status_code == 302
    assert dana.get("/").status_code == 200 and dana.get("/admin/connections").status_code == 403

    admin.post("/admin/users/edit?username=dana", data={"role": "Op", "password": ""})
    assert dana.get("/admin/connections").status_code == 200  # the role applies at once
    admin.post("/admin/users/edit?username=dana", data={"role": "Op", "password": "another-one-2"})
    assert dana.get("/").status_code == 302  # a new password ends the old sessions

    assert admin.post("/admin/users/delete", data={"username": "dana"}).status_code == 302
    with session_factory() as session:
        assert session.scalar(select(User).where(User.username == "dana")) is None
    assert events(session_factory)[-4:] == ["user.create", "user.role", "user.password", "user.delete"]


def test_an_admin_cannot_delete_themself_or_change_their_own_role(web: Web, session_factory: Any) -> None:
    from flowctl.db.models import User

    me = USERNAMES[Role.ADMIN]
    admin = web.client(Role.ADMIN)

    deleted = admin.post("/admin/users/delete", data={"username": me}, follow_redirects=True)
    demoted = admin.post(f"/admin/users/edit?username={me}", data={"role": "Viewer"})
    new_password = admin.post(f"/admin/users/edit?username={me}", data={"role": "Admin", "password": "changed-pw-123"})

    assert "You cannot delete yourself" in text_of(deleted)
    assert demoted.status_code == 200 and "cannot change your own role" in text_of(demoted)
    assert new_password.status_code == 302
    assert admin.get("/admin/users").status_code == 200  # still signed in after changing the own password
    with session_factory() as session:
        assert session.scalar(select(User.role).where(User.username == me)) == "Admin"
    assert web.client().post("/login", data={"username": me, "password": PASSWORD}).status_code == 401


def test_user_names_come_back_escaped(web: Web) -> None:
    admin = web.client(Role.ADMIN)
    admin.post(
        "/admin/users/new", data={"username": "<b>mal</b>", "email": "m@x.io", "role": "Viewer", "password": "12345678"}
    )

    text = text_of(admin.get("/admin/users"))

    assert "<b>mal</b>" not in text and "&lt;b&gt;mal&lt;/b&gt;" in text


def test_the_connection_form_refuses_a_type_with_control_characters_or_whitespace(
    web: Web, app: Any, session_factory: Any
) -> None:
    client = web.client(Role.OP)
    client.post("/admin/connections/new?conn_type=http", data={"conn_id": "api", "host": "h"})
    form = {"conn_id": "new_one", "host": "h"}

    answers = [
        client.get("/admin/connections/new?conn_type=http%0D%0AX-Injected:%201"),
        client.post("/admin/connections/new?conn_type=ht%09tp", data=form),
        client.post("/admin/connections/new?conn_type=my%20type", data=form),
        client.post("/admin/connections/new?conn_type=" + "a" * 101, data=form),
        client.post("/admin/connections/edit?conn_id=api&conn_type=%1B%5B31mhttp", data={"conn_id": "api"}),
    ]
    plugin_type = client.post("/admin/connections/new?conn_type=aws", data={"conn_id": "cloud", "host": "h"})

    for answer in answers:
        assert answer.status_code == 400 and "conn_type" in text_of(answer)
        assert "Traceback" not in text_of(answer)
    assert plugin_type.status_code == 302  # a type the form does not list (a plugin's): saved
    assert stored_connection(app, session_factory, "cloud").conn_type == "aws"
    assert stored_connection(app, session_factory, "api").conn_type == "http"
    with pytest.raises(Exception, match="new_one"):
        stored_connection(app, session_factory, "new_one")
