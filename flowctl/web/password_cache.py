"""API passwords checked recently, so that clients sending HTTP basic with every request do not pay for
a password hash each time (~50 ms, more on a busy machine); per process, in memory.

Entries are keyed by a salted digest of name and password (never the password itself) and hold the
user's session token at the time of the check: a changed password changes the token and ends the trust.
Concurrent first requests with the same credentials check the password once: the others wait for it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

TRUSTED_SECONDS = 60.0
MAX_ENTRIES = 10_000


class CheckedPasswords:
    def __init__(self, *, trusted_seconds: float = TRUSTED_SECONDS) -> None:
        self.trusted_seconds = trusted_seconds
        self._tokens: dict[str, tuple[str, float]] = {}  # digest -> (session token, trusted until)
        self._checks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def token(self, digest: str, *, now: float) -> str | None:
        """The session token a check of these credentials found, if that check is recent enough."""
        with self._lock:
            remembered = self._tokens.get(digest)
        return remembered[0] if remembered and remembered[1] > now else None

    def remember(self, digest: str, token: str, *, now: float) -> None:
        with self._lock:
            if len(self._tokens) >= MAX_ENTRIES:
                self._tokens.clear()
            self._tokens[digest] = (token, now + self.trusted_seconds)

    @contextmanager
    def checking(self, digest: str) -> Iterator[None]:
        """Held while these credentials are checked: a second request with them waits, then finds the
        token the first one remembered instead of hashing the password again."""
        with self._lock:
            lock = self._checks.setdefault(digest, threading.Lock())
        try:
            with lock:
                yield
        finally:
            with self._lock:
                if not lock.locked():
                    self._checks.pop(digest, None)
