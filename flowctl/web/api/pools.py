"""`/pools`: list, read, create, change and delete pools, with the slots their task instances hold."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from flowctl.db.queries import listing
from flowctl.db.queries.pools import PoolUsage
from flowctl.exceptions import AlreadyExists, InvalidInput, NotFound
from flowctl.roles import Role
from flowctl.web import db
from flowctl.web.api import api_blueprint, arguments, require_api_role

POOL_ORDER = {"name": "pool", "slots": "slots", "description": "description"}


@api_blueprint.get("/pools")
@require_api_role(Role.VIEWER)
def get_pools() -> Any:
    from flowctl.services.pools import list_pools

    values = arguments.query()
    page = arguments.page(values)
    order_by = page.order_by or "name"
    attribute = POOL_ORDER.get(order_by.removeprefix("-"))
    if attribute is None:
        raise InvalidInput(f"cannot order pools by {order_by!r}: expected one of {', '.join(sorted(POOL_ORDER))}")

    def sort_key(pool: PoolUsage) -> tuple[Any, ...]:
        value = getattr(pool, attribute)
        return (value is None, "" if value is None else value, pool.pool)

    pools = sorted(list_pools(db.session()), key=sort_key, reverse=order_by.startswith("-"))
    shown = pools[page.offset : page.offset + page.limit]
    scheduled = listing.scheduled_pool_slots(db.session())
    return jsonify({"pools": [pool_json(pool, scheduled) for pool in shown], "total_entries": len(pools)})


@api_blueprint.post("/pools")
@require_api_role(Role.OP)
def post_pool() -> Any:
    from flowctl.db.queries.pools import get_pool
    from flowctl.services.pools import set_pool

    data = arguments.body("NewPool")
    session = db.session()
    if get_pool(session, data["name"].strip()) is not None:
        raise AlreadyExists(f"pool {data['name']!r} already exists")
    pool = set_pool(session, data["name"], int(data["slots"]), data.get("description"), actor=arguments.actor())
    db.commit()
    return jsonify(_pool_json(pool.pool))


@api_blueprint.get("/pools/<pool_name>")
@require_api_role(Role.VIEWER)
def get_pool(pool_name: str) -> Any:
    return jsonify(_pool_json(pool_name))


@api_blueprint.patch("/pools/<pool_name>")
@require_api_role(Role.OP)
def patch_pool(pool_name: str) -> Any:
    from flowctl.db.queries.pools import get_pool as stored
    from flowctl.services.pools import set_pool

    data = arguments.body("PoolUpdate")
    if data.get("name", pool_name) != pool_name:
        raise InvalidInput("a pool cannot be renamed: name must match the pool in the path")
    changes = arguments.masked(data, arguments.query()["update_mask"], {"slots", "description", "include_deferred"})
    session = db.session()
    pool = stored(session, pool_name)
    if pool is None:
        raise NotFound(f"no pool {pool_name!r}")
    if "slots" in changes or "description" in changes:
        slots = int(changes.get("slots", pool.slots))
        set_pool(session, pool_name, slots, changes.get("description"), actor=arguments.actor())
        db.commit()
    return jsonify(_pool_json(pool_name))


@api_blueprint.delete("/pools/<pool_name>")
@require_api_role(Role.OP)
def delete_pool(pool_name: str) -> Any:
    from flowctl.services.pools import delete_pool as delete

    delete(db.session(), pool_name, actor=arguments.actor())
    db.commit()
    return "", 204


def _pool_json(name: str) -> dict[str, Any]:
    from flowctl.services.pools import list_pools

    session = db.session()
    for pool in list_pools(session):
        if pool.pool == name:
            return pool_json(pool, listing.scheduled_pool_slots(session))
    raise NotFound(f"no pool {name!r}")


def pool_json(pool: PoolUsage, scheduled: dict[str, int]) -> dict[str, Any]:
    return {
        "name": pool.pool,
        "slots": pool.slots,
        "occupied_slots": pool.occupied_slots,
        "running_slots": pool.running_slots,
        "queued_slots": pool.queued_slots,
        "scheduled_slots": scheduled.get(pool.pool, 0),
        "deferred_slots": 0,
        "open_slots": pool.open_slots,
        "description": pool.description,
        "include_deferred": False,
    }
