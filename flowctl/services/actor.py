"""Who performs a user action and when: recorded in the audit trail by every service that changes state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Actor:
    name: str
    at: datetime
