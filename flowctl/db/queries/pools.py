"""Pools: named slot limits, and how many of their slots task instances hold."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from flowctl.db.models import Pool, TaskInstance
from flowctl.state import TaskState

DEFAULT_POOL = "default_pool"
DEFAULT_POOL_SLOTS = 128


@dataclass(frozen=True, slots=True)
class PoolUsage:
    pool: str
    slots: int
    running_slots: int
    queued_slots: int
    description: str | None

    @property
    def occupied_slots(self) -> int:
        return self.running_slots + self.queued_slots

    @property
    def open_slots(self) -> int:
        return self.slots - self.occupied_slots


def ensure_default_pool(session: Session) -> None:
    if session.scalar(select(Pool.id).where(Pool.pool == DEFAULT_POOL)) is None:
        session.add(Pool(pool=DEFAULT_POOL, slots=DEFAULT_POOL_SLOTS, description="Default pool"))


def get_pool(session: Session, name: str) -> Pool | None:
    return session.scalar(select(Pool).where(Pool.pool == name))


def delete_pool(session: Session, name: str) -> bool:
    return session.execute(delete(Pool).where(Pool.pool == name)).rowcount == 1


def pool_usage(session: Session) -> list[PoolUsage]:
    """Every pool with its running and queued slot counts, from one grouped query."""
    held = {
        (pool, state): slots
        for pool, state, slots in session.execute(
            select(TaskInstance.pool, TaskInstance.state, func.sum(TaskInstance.pool_slots))
            .where(TaskInstance.state.in_([TaskState.RUNNING, TaskState.QUEUED]))
            .group_by(TaskInstance.pool, TaskInstance.state)
        )
    }
    return [
        PoolUsage(
            pool=row.pool,
            slots=row.slots,
            running_slots=int(held.get((row.pool, TaskState.RUNNING), 0)),
            queued_slots=int(held.get((row.pool, TaskState.QUEUED), 0)),
            description=row.description,
        )
        for row in session.scalars(select(Pool).order_by(Pool.pool))
    ]
