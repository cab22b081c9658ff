"""Task log files (where each try's log lives, appending, reading, following) and secret masking.

No DB and no web here: the task process, the supervisor and the webserver all build on these.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import io
import logging
import os
import re
import sys
import threading
import time
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from flowctl.db.secrets import MASK, is_sensitive_name
from flowctl.exceptions import InvalidInput, NotFound

ID_MAX_LENGTH = 250
READ_CHUNK_BYTES = 1 << 20
# A value this common would mask half of every log, and is no secret anyway.
_TOO_COMMON_TO_MASK = frozenset(
    {"true", "false", "none", "null", "undefined", "admin", "root", "user", "guest", "test", "default"}
    | {"localhost", "password", "secret", "postgres", "mysql", "sqlite"}
)
_SECRET_MIN_LENGTH = 4
_MAX_NESTING = 32
# A line longer than this is masked and written without waiting for its newline.
_MAX_PENDING_CHARS = 1 << 20


# --- where a try's log lives ---------------------------------------------------------------------


def task_log_path(base: Path, *, dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int) -> Path:
    """`base/dag_id=../run_id=../task_id=..[/map_index=..]/attempt=N.log`; every part checked first."""
    for kind, value in (("dag_id", dag_id), ("run_id", run_id), ("task_id", task_id)):
        check_path_id(kind, value)
    if type(map_index) is not int or map_index < -1:
        raise InvalidInput(f"map_index must be an integer >= -1, got {map_index!r}")
    if type(try_number) is not int or try_number < 1:
        raise InvalidInput(f"try_number must be an integer >= 1, got {try_number!r}")
    folder = Path(base) / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
    if map_index >= 0:
        folder /= f"map_index={map_index}"
    return folder / f"attempt={try_number}.log"


def resolve_inside(base: Path, path: Path) -> Path:
    """`path` (relative paths count from `base`) resolved through symlinks, if it stays inside `base`."""
    root = Path(base).resolve()
    resolved = (root / path).resolve()
    if not resolved.is_relative_to(root):
        raise InvalidInput("log path is outside the logs folder")
    return resolved


def check_path_id(kind: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{kind} must be a non-empty string")
    if len(value) > ID_MAX_LENGTH:
        raise InvalidInput(f"{kind} is longer than {ID_MAX_LENGTH} characters")
    if value in (".", "..") or "/" in value or "\\" in value:
        raise InvalidInput(f"{kind} {value!r} cannot be used in a log path")
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise InvalidInput(f"{kind} {value!r} contains a control character")


# --- masking -------------------------------------------------------------------------------------


class SecretMasker:
    """Replaces every known secret (and its URL-encoded forms) with `***` in text and in structures."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._longest_first: tuple[str, ...] = ()
        self.add_all(secrets)

    def add(self, value: str | None) -> None:
        """Mask `value` from now on; short or common values are ignored, multi-line ones also per line."""
        self.add_all((value,))

    def add_all(self, values: Iterable[str | None]) -> None:
        """`add` for many values, sorting the secrets once (a masker of every known secret has hundreds)."""
        kept: set[str] = set()
        for value in values:
            if isinstance(value, str):
                kept |= _forms_worth_masking(value)
        with self._lock:
            if kept <= self._secrets:
                return
            self._secrets |= kept
            self._longest_first = tuple(sorted(self._secrets, key=lambda s: (-len(s), s)))

    def mask(self, text: str) -> str:
        """`text` with each secret replaced by `***`, longest secret first."""
        ordered = self._longest_first
        # One `in` per secret is much cheaper than running the alternation over text that holds none.
        present = tuple(secret for secret in ordered if secret in text)
        if not present:
            return text
        return _alternation(present).sub(MASK, text)

    def mask_value(self, value: Any, _depth: int = 0) -> Any:
        """A copy of `value` with secrets masked in every string (dict keys too), and sensitive dict keys'
        values hidden."""
        if _depth > _MAX_NESTING:
            return MASK
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, dict):
            masked = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    masked[key] = self.mask_value(item, _depth + 1)
                else:  # a secret may be a key too
                    masked[self.mask(key)] = MASK if is_sensitive_name(key) else self.mask_value(item, _depth + 1)
            return masked
        if isinstance(value, list | tuple | set | frozenset):
            items = [self.mask_value(item, _depth + 1) for item in value]
            if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple keeps its type
                return type(value)(*items)
            for kind in (list, tuple, frozenset, set):
                if isinstance(value, kind):
                    return kind(items)
        return value

    def mask_cut(self, text: str) -> str:
        """`mask` for the start of a longer text: its last characters, where a secret may have been cut in two
        (and so not be recognised), are left out too."""
        longest = len(self._longest_first[0]) if self._longest_first else 0
        return self.mask(text[: max(len(text) - longest + 1, 0)] if longest > 1 else text)


def _forms_worth_masking(value: str) -> set[str]:
    """`value`, each of its lines, and their URL-encoded forms, less those too short or common to mask."""
    plain = {value, *(line.strip() for line in value.splitlines())}
    encoded = {urllib.parse.quote(c, safe="") for c in plain} | {urllib.parse.quote_plus(c, safe="") for c in plain}
    return {c for c in plain | encoded if _worth_masking(c)}


def _worth_masking(candidate: str) -> bool:
    stripped = candidate.strip()
    return len(stripped) >= _SECRET_MIN_LENGTH and stripped.lower() not in _TOO_COMMON_TO_MASK


@functools.lru_cache(maxsize=128)
def _alternation(secrets_longest_first: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(secret) for secret in secrets_longest_first))


class MaskingWriter(io.TextIOBase):
    """A text stream (for `sys.stdout`/`sys.stderr` of a task) that masks each whole line before writing.

    `raw` is a text stream or a binary file descriptor; a partial line waits for its newline or `flush()`.
    """

    def __init__(self, raw: TextIO | BinaryIO | int, masker: SecretMasker) -> None:
        super().__init__()
        self._raw = raw
        self._masker = masker
        self._pending = ""
        self._lock = threading.RLock()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._raw, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str:  # type: ignore[override]
        return getattr(self._raw, "errors", None) or "replace"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if self.closed:
            raise ValueError("write to a closed MaskingWriter")
        with self._lock:
            self._pending += text
            cut = self._pending.rfind("\n") + 1
            if cut == 0 and len(self._pending) > _MAX_PENDING_CHARS:
                cut = len(self._pending)
            if cut:
                complete, self._pending = self._pending[:cut], self._pending[cut:]
                self._write_raw(self._masker.mask(complete))
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                partial, self._pending = self._pending, ""
                self._write_raw(self._masker.mask(partial))
            if not isinstance(self._raw, int):
                self._raw.flush()

    def close(self) -> None:
        """Flush what is pending; the underlying stream or descriptor stays open (it is not ours)."""
        if not self.closed:
            try:
                self.flush()
            finally:
                super().close()

    def fileno(self) -> int:
        return self._raw if isinstance(self._raw, int) else self._raw.fileno()

    def isatty(self) -> bool:
        return os.isatty(self._raw) if isinstance(self._raw, int) else self._raw.isatty()

    def _write_raw(self, text: str) -> None:
        if isinstance(self._raw, int):
            data = memoryview(text.encode("utf-8", errors="replace"))
            while data:
                data = data[os.write(self._raw, data) :]
        elif isinstance(self._raw, io.RawIOBase | io.BufferedIOBase):
            self._raw.write(text.encode("utf-8", errors="replace"))
        else:
            self._raw.write(text)  # type: ignore[call-overload]


class MaskingFilter(logging.Filter):
    """Masks a record's message, traceback and stack in place, so every handler after it sees `***`."""

    def __init__(self, masker: SecretMasker) -> None:
        super().__init__()
        self._masker = masker

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # bad %-args: keep everything, masked, for the handler to show
            message = f"{record.msg} {record.args!r}"
        record.msg = self._masker.mask(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._masker.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self._masker.mask(record.stack_info)
        return True


# --- writing and reading log files ---------------------------------------------------------------


def append_line(path: Path, text: str) -> None:
    """Append `text` as one line (e.g. the supervisor's "killed by SIGKILL"), creating the file if need be."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = text if text.endswith("\n") else text + "\n"
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line.encode("utf-8", errors="replace"))
    finally:
        os.close(descriptor)


def read_log(path: Path, *, offset: int = 0, limit: int | None = None) -> tuple[str, int]:
    """The text from byte `offset` (at most `limit` bytes) and the offset to read from next.

    A multi-byte character cut at the end is left for the next read; invalid bytes become U+FFFD.
    """
    if offset < 0:
        raise InvalidInput(f"offset must be >= 0, got {offset}")
    if limit is not None and limit < 0:
        raise InvalidInput(f"limit must be >= 0, got {limit}")
    try:
        with open(path, "rb") as file:
            file.seek(offset)
            data = file.read(-1 if limit is None else limit)
    except FileNotFoundError:
        raise NotFound(f"no log file {Path(path).name} for this try yet") from None
    # An incremental decoder holds back an unfinished character (a writer may be mid-character).
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    text = decoder.decode(data, final=False)
    unfinished, _ = decoder.getstate()
    return text, offset + len(data) - len(unfinished)


def follow(path: Path, *, offset: int = 0, poll: float = 0.2, stop: Callable[[], bool]) -> Iterator[str]:
    """Yield text appended to `path` as it appears; once `stop()` is true, yield what is left and end.

    A file that does not exist yet counts as empty.
    """
    while True:
        stopping = stop()
        while True:
            try:
                text, offset = read_log(path, offset=offset, limit=READ_CHUNK_BYTES)
            except NotFound:
                text = ""
            if not text:
                break
            yield text
        if stopping:
            return
        time.sleep(poll)


@contextlib.contextmanager
def tee_output(path: Path) -> Iterator[None]:
    """While the block runs, what goes to sys.stdout and the log records also go to `path` (for tries run
    in this process, e.g. `dags test`, so their logs exist like any other try's)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        previous = sys.stdout
        sys.stdout = _Tee(previous, handle)
        handler = logging.StreamHandler(handle)
        handler.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s %(name)s - %(message)s"))
        logging.getLogger().addHandler(handler)
        try:
            yield
        finally:
            logging.getLogger().removeHandler(handler)
            sys.stdout = previous


class _Tee(io.TextIOBase):
    def __init__(self, *streams: Any) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()
