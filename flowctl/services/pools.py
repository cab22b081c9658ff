"""Creating, listing and deleting pools."""

from __future__ import annotations

from sqlalchemy.orm import Session

from flowctl.db.models import Pool
from flowctl.db.queries import pools as queries
from flowctl.db.queries.log_events import record_event
from flowctl.exceptions import InvalidInput, NotFound
from flowctl.services.actor import Actor

POOL_NAME_MAX = 256


def set_pool(session: Session, name: str, slots: int, description: str | None, *, actor: Actor) -> Pool:
    """Create the pool or change its slots and description."""
    name = name.strip()
    if not name or len(name) > POOL_NAME_MAX:
        raise InvalidInput(f"pool name must be 1-{POOL_NAME_MAX} characters")
    if slots < 0:
        raise InvalidInput(f"pool {name!r}: slots must not be negative (got {slots})")
    pool = queries.get_pool(session, name)
    if pool is None:
        pool = Pool(pool=name, slots=slots, description=description)
        session.add(pool)
    else:
        pool.slots = slots
        if description is not None:
            pool.description = description
    record_event(session, "pool.set", owner=actor.name, at=actor.at, extra=f"{name}={slots}")
    return pool


def list_pools(session: Session) -> list[queries.PoolUsage]:
    return queries.pool_usage(session)


def delete_pool(session: Session, name: str, *, actor: Actor) -> None:
    if name == queries.DEFAULT_POOL:
        raise InvalidInput(f"{queries.DEFAULT_POOL} cannot be deleted (set its slots instead)")
    if not queries.delete_pool(session, name):
        raise NotFound(f"no pool {name!r}")
    record_event(session, "pool.delete", owner=actor.name, at=actor.at, extra=name)
