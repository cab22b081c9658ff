"""Sensors that DAG files import (PythonSensor, FileSensor, ExternalTaskSensor, ...)."""

from flowctl.sensors.base import BaseSensorOperator, PokeReturnValue
from flowctl.sensors.python import PythonSensor

__all__ = ["BaseSensorOperator", "PokeReturnValue", "PythonSensor"]
