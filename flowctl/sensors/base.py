"""BaseSensorOperator: poke until a condition holds, in `poke` mode (holding a slot) or `reschedule`
mode (freeing it between pokes), with a timeout counted from the first poke."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pendulum

from flowctl.baseoperator import BaseOperator
from flowctl.exceptions import DagDefinitionError, RescheduleTask, SensorTimeout, SkipTask

MODES = ("poke", "reschedule")


@dataclass(frozen=True, slots=True)
class PokeReturnValue:
    """What `poke` may return instead of a bool: whether it is done, and a value for XCom."""

    is_done: bool
    xcom_value: Any = None

    def __bool__(self) -> bool:
        return self.is_done


class BaseSensorOperator(BaseOperator):
    ui_color = "#e6f1f2"
    is_sensor = True

    def __init__(
        self,
        *,
        poke_interval: timedelta | float = 60,
        timeout: timedelta | float = timedelta(days=7),
        soft_fail: bool = False,
        mode: str = "poke",
        exponential_backoff: bool = False,
        max_wait: timedelta | float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.poke_interval = _seconds(poke_interval)
        self.timeout = _seconds(timeout)
        self.soft_fail = soft_fail
        self.mode = mode
        self.exponential_backoff = exponential_backoff
        self.max_wait = None if max_wait is None else _seconds(max_wait)

    def validate(self) -> None:
        super().validate()
        if self.mode not in MODES:
            raise DagDefinitionError(f"sensor {self.task_id!r}: mode {self.mode!r} is not poke or reschedule")
        if self.poke_interval < 0 or self.timeout < 0:
            raise DagDefinitionError(f"sensor {self.task_id!r}: poke_interval and timeout must not be negative")

    def poke(self, context: dict[str, Any]) -> bool | PokeReturnValue:
        raise NotImplementedError(f"{type(self).__name__} must implement poke(context)")

    def interval_after(self, pokes: int) -> float:
        """Seconds to wait after the `pokes`-th poke: fixed, or doubling with exponential_backoff."""
        if not self.exponential_backoff:
            return self.poke_interval
        wait = self.poke_interval * (2 ** max(pokes - 1, 0))
        return min(wait, self.max_wait) if self.max_wait is not None else wait

    def execute(self, context: dict[str, Any]) -> Any:
        ti = context.get("ti")
        first_poke_at: datetime = getattr(ti, "sensor_first_poke_at", None) or pendulum.now("UTC")
        if ti is not None:
            ti.sensor_first_poke_at = first_poke_at  # reported back, so reschedules keep counting from it
        pokes = getattr(ti, "sensor_pokes", 0)
        while True:
            result = self.poke(context)
            pokes += 1
            if result:
                return result.xcom_value if isinstance(result, PokeReturnValue) else None
            waited = (pendulum.now("UTC") - first_poke_at).total_seconds()
            if waited >= self.timeout:
                message = f"sensor {self.task_id!r} timed out after {waited:.0f}s (timeout {self.timeout:.0f}s)"
                raise SkipTask(message) if self.soft_fail else SensorTimeout(message)
            wait = min(self.interval_after(pokes), max(self.timeout - waited, 0))
            if self.mode == "reschedule":
                raise RescheduleTask(pendulum.now("UTC") + timedelta(seconds=wait))
            time.sleep(wait)


def _seconds(value: timedelta | float) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
