"""TriggerDagRunOperator: start a run of another DAG, optionally waiting for it to finish.

The task process only asks for the run (the scheduler creates it when it records the outcome). With
`wait_for_completion` the task then reschedules itself every `poke_interval` until the run ends,
freeing its slot in between.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import pendulum

from flowctl.baseoperator import BaseOperator
from flowctl.exceptions import FailTask, RescheduleTask

XCOM_RUN_ID = "trigger_run_id"


class TriggerDagRunOperator(BaseOperator):
    template_fields = ("trigger_dag_id", "trigger_run_id", "logical_date", "conf")
    template_fields_renderers = {"conf": "json"}
    ui_color = "#ffefeb"

    def __init__(
        self,
        *,
        trigger_dag_id: str,
        trigger_run_id: str | None = None,
        conf: dict[str, Any] | None = None,
        logical_date: str | datetime | None = None,
        wait_for_completion: bool = False,
        poke_interval: float = 60,
        allowed_states: Iterable[str] = ("success",),
        failed_states: Iterable[str] = ("failed",),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.trigger_dag_id = trigger_dag_id
        self.trigger_run_id = trigger_run_id
        self.conf = conf or {}
        self.logical_date = logical_date
        self.wait_for_completion = wait_for_completion
        self.poke_interval = poke_interval
        self.allowed_states = list(allowed_states)
        self.failed_states = list(failed_states)

    def execute(self, context: dict[str, Any]) -> str:
        ti = context["ti"]
        when = _as_datetime(self.logical_date) if self.logical_date else pendulum.instance(context["logical_date"])
        run_id = self.trigger_run_id or f"manual__{when.isoformat()}"
        if ti.sensor_first_poke_at is None:  # the first go: ask for the run
            ti.request_dag_run(self.trigger_dag_id, run_id=run_id, conf=self.conf, logical_date=when)
            ti.xcom_push(XCOM_RUN_ID, run_id)
            print(f"Asked for run {run_id} of DAG {self.trigger_dag_id}")
            if not self.wait_for_completion:
                return run_id
            ti.sensor_first_poke_at = pendulum.now("UTC")
            raise RescheduleTask(pendulum.now("UTC") + timedelta(seconds=self.poke_interval))
        ti.xcom_push(XCOM_RUN_ID, run_id)
        state = ti.dag_run_state(self.trigger_dag_id, run_id)
        print(f"Run {run_id} of DAG {self.trigger_dag_id} is {state}")
        if state in self.failed_states:
            raise FailTask(f"run {run_id} of DAG {self.trigger_dag_id} ended {state}")
        if state in self.allowed_states:
            return run_id
        raise RescheduleTask(pendulum.now("UTC") + timedelta(seconds=self.poke_interval))


def _as_datetime(value: str | datetime) -> datetime:
    return pendulum.parse(value) if isinstance(value, str) else pendulum.instance(value)  # type: ignore[return-value]
