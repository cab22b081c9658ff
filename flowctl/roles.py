"""User roles and what each may do. Pure module.

Viewer reads; User also triggers, clears, marks and pauses; Op also edits connections, variables and
pools; Admin also manages users. Each role includes everything the roles before it may do.
"""

from __future__ import annotations

from enum import StrEnum

from flowctl.exceptions import InvalidInput


class Role(StrEnum):
    VIEWER = "Viewer"
    USER = "User"
    OP = "Op"
    ADMIN = "Admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def can(self, needed: Role) -> bool:
        return self.rank >= needed.rank


def parse_role(name: str) -> Role:
    for role in Role:
        if role.value.lower() == name.strip().lower():
            return role
    raise InvalidInput(f"unknown role {name!r} (expected one of {', '.join(r.value for r in Role)})")
