"""Creating, listing and deleting users; password hashing and checking."""

from __future__ import annotations

import secrets

from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from flowctl.db.models import User
from flowctl.db.queries import users as queries
from flowctl.db.queries.log_events import record_event
from flowctl.exceptions import AlreadyExists, InvalidInput, NotFound
from flowctl.roles import parse_role
from flowctl.services.actor import Actor

MIN_PASSWORD_LENGTH = 8


def random_password() -> str:
    return secrets.token_urlsafe(12)


def create_user(
    session: Session,
    *,
    username: str,
    email: str,
    role: str,
    password: str,
    actor: Actor,
    first_name: str = "",
    last_name: str = "",
) -> User:
    username, email = username.strip(), email.strip().lower()
    if not username:
        raise InvalidInput("username must not be empty")
    if "@" not in email:
        raise InvalidInput(f"email {email!r} is not an email address")
    parsed_role = parse_role(role)
    _check_password_strength(password)
    taken = queries.user_exists(session, username=username, email=email)
    if taken:
        value = username if taken == "username" else email
        raise AlreadyExists(f"a user with {taken} {value!r} already exists")
    user = User(
        username=username,
        email=email,
        role=parsed_role.value,
        first_name=first_name,
        last_name=last_name,
        password_hash=generate_password_hash(password),
        session_token=secrets.token_hex(16),
        active=True,
        created_at=actor.at,
        failed_login_count=0,
    )
    session.add(user)
    record_event(session, "user.create", owner=actor.name, at=actor.at, extra=f"{username} ({parsed_role})")
    return user


def set_password(session: Session, username: str, password: str, *, actor: Actor) -> None:
    """Change a password; a new session token signs every existing login session out."""
    user = require_user(session, username)
    _check_password_strength(password)
    user.password_hash = generate_password_hash(password)
    user.session_token = secrets.token_hex(16)
    record_event(session, "user.password", owner=actor.name, at=actor.at, extra=username)


def password_matches(user: User, password: str) -> bool:
    return check_password_hash(user.password_hash, password)


def require_user(session: Session, username: str) -> User:
    user = queries.get_user(session, username)
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def list_users(session: Session) -> list[User]:
    return queries.list_users(session)


def delete_user(session: Session, username: str, *, actor: Actor) -> None:
    if not queries.delete_user(session, username):
        raise NotFound(f"no user {username!r}")
    record_event(session, "user.delete", owner=actor.name, at=actor.at, extra=username)


def _check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password too short: at least {MIN_PASSWORD_LENGTH} characters")


def set_role(session: Session, username: str, role: str, *, actor: Actor) -> User:
    user = require_user(session, username)
    user.role = parse_role(role).value
    record_event(session, "user.role", owner=actor.name, at=actor.at, extra=f"{username} ({user.role})")
    return user
