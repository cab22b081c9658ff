"""Users of the web UI and API."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from flowctl.db.models import User


def get_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def user_exists(session: Session, *, username: str, email: str) -> str | None:
    """Which of username / email is already taken, if any (emails are stored lower-case)."""
    taken = session.execute(
        select(User.username, User.email).where((User.username == username) | (User.email == email))
    ).first()
    if taken is None:
        return None
    return "username" if taken.username == username else "email"


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def delete_user(session: Session, username: str) -> bool:
    return session.execute(delete(User).where(User.username == username)).rowcount == 1


def record_login(session: Session, user_id: int, *, at: datetime) -> None:
    """A successful login: when, and the failure count back to zero."""
    session.execute(update(User).where(User.id == user_id).values(last_login_at=at, failed_login_count=0))


def count_failed_login(session: Session, user_id: int) -> None:
    session.execute(
        update(User).where(User.id == user_id).values(failed_login_count=func.coalesce(User.failed_login_count, 0) + 1)
    )
