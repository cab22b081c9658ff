"""Every error flowctl raises on purpose derives from FlowctlError.

The CLI turns a FlowctlError into one line on stderr and exit code 1; anything
else is a bug. Pure module: imports nothing from flowctl.
"""

from __future__ import annotations


class FlowctlError(Exception):
    """Base of every flowctl error; its message is shown to the user as is."""


class ConfigError(FlowctlError):
    """A configuration value is missing or malformed."""


class DatabaseError(FlowctlError):
    """The metadata DB cannot be reached, is not initialised, or is at the wrong revision."""


class NotFound(FlowctlError):
    """A named thing (DAG, run, connection, user...) does not exist."""


class AlreadyExists(FlowctlError):
    """Creating something whose id is taken."""


class InvalidInput(FlowctlError):
    """A value given by the user is malformed (URI, JSON, date, role...)."""


class SkipTask(FlowctlError):
    """Raised inside a task: mark this task instance skipped."""


class FailTask(FlowctlError):
    """Raised inside a task: fail this task instance without retrying."""


class SensorTimeout(FailTask):
    """A sensor's timeout elapsed: the task fails without retrying."""


class DagCycleError(FlowctlError):
    """The DAG's dependencies form a cycle."""


class DuplicateTaskIdError(FlowctlError):
    """Two tasks in one DAG share a task_id."""


class DagDefinitionError(FlowctlError):
    """A DAG or task is defined wrongly (bad id, unknown argument, bad dependency...): an import error."""


class ParamValidationError(InvalidInput):
    """Params or trigger conf do not satisfy the DAG's Param schemas."""


class RescheduleTask(FlowctlError):
    """Raised by a sensor in reschedule mode: free the slot and poke again at `reschedule_at`."""

    def __init__(self, reschedule_at: object) -> None:
        super().__init__(f"reschedule at {reschedule_at}")
        self.reschedule_at = reschedule_at


class InvalidSchedule(FlowctlError):
    """A DAG's schedule (cron, preset, timedelta) or the time zone it is evaluated in cannot be used."""


class TemplateRenderError(FlowctlError):
    """A task's template field failed to render; the message names the task, the field and the error."""


class NotificationError(FlowctlError):
    """An alert email could not be sent; the message says why in one line."""
