"""Sensors that DAG files import (PythonSensor, FileSensor, ExternalTaskSensor, ...)."""

from flowctl.sensors.base import BaseSensorOperator, PokeReturnValue
from flowctl.sensors.date_time import DateTimeSensor
from flowctl.sensors.external_task import ExternalTaskSensor
from flowctl.sensors.filesystem import FileSensor
from flowctl.sensors.http import HttpSensor
from flowctl.sensors.python import PythonSensor
from flowctl.sensors.sql import SqlSensor
from flowctl.sensors.time_delta import TimeDeltaSensor

__all__ = ["BaseSensorOperator", "PokeReturnValue", "PythonSensor"]
__all__ += ["DateTimeSensor", "ExternalTaskSensor", "FileSensor", "HttpSensor", "SqlSensor", "TimeDeltaSensor"]
