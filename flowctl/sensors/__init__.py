"""Sensors that DAG files import (FileSensor, ExternalTaskSensor, ...)."""
