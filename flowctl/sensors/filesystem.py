"""FileSensor: wait for a file, a non-empty folder, or anything matching a glob pattern to exist."""

from __future__ import annotations

import glob
import logging
import os
from typing import Any

from flowctl.exceptions import FailTask
from flowctl.sensors.base import BaseSensorOperator

log = logging.getLogger(__name__)


class FileSensor(BaseSensorOperator):
    """Done when `filepath` (templated; may be a glob pattern) matches a file, or a folder holding at least
    one file (directly or in a subfolder). Without `fs_conn_id` the path must be absolute; with one, it
    is relative to the `path` in that `fs` connection's extra (`{"path": "/data/incoming"}`).
    `recursive=True` lets `**` in the pattern match any depth of folders."""

    template_fields = ("filepath",)
    ui_color = "#91818a"

    def __init__(self, *, filepath: str, fs_conn_id: str | None = None, recursive: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.filepath = filepath
        self.fs_conn_id = fs_conn_id
        self.recursive = recursive

    def poke(self, context: dict[str, Any]) -> bool:
        pattern = self._pattern()
        log.info("Poking for a file matching %s", pattern)
        for path in sorted(glob.glob(pattern, recursive=self.recursive)):
            if os.path.isfile(path):
                log.info("Found file %s", path)
                return True
            if os.path.isdir(path) and _holds_a_file(path):
                log.info("Found folder %s, which holds files", path)
                return True
        return False

    def _pattern(self) -> str:
        if self.fs_conn_id is None:
            if not os.path.isabs(self.filepath):
                raise FailTask(
                    f"sensor {self.task_id!r}: filepath {self.filepath!r} is relative; "
                    "give an absolute path, or fs_conn_id naming an `fs` connection with the base path"
                )
            return self.filepath
        from flowctl.hooks.base import BaseHook

        base = BaseHook.get_connection(self.fs_conn_id).extra_dejson.get("path", "")
        return os.path.join(base, self.filepath)


def _holds_a_file(folder: str) -> bool:
    return any(files for _, _, files in os.walk(folder))
