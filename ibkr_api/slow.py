"""The slow pacing rows (15 minutes a request), kept without blocking a worker.

IBKR allows ``/iserver/scanner/params`` and each of ``/pa/performance``, ``/pa/summary``,
``/pa/transactions`` once per 15 minutes (IBKR-FACTS §3). Waiting for such a row inside a
call would freeze a worker's tick for up to a quarter of an hour without a word, so the
client never does:

- ``SlowRow.check()`` before sending: when the row's budget is spent it raises
  ``RateLimitedError`` with ``retry_after`` (seconds until the row has room) and nothing
  is sent;
- ``SlowRow.sent()`` / ``unsent()`` around the request: a request counts from the moment
  its answer is back (as the pacer counts), and a request that surely never left (refused
  connection, refused by the session guard, invalid) gives its place back;
- ``Cache`` keeps an answer for as long as the row forbids asking again (scanner params:
  the list of scans changes rarely; a worker asking every tick gets the cached answer).

The window is the row's ``per`` stretched by the pacer's safety (0.9), so a request this
check lets through is never held back for minutes by the session's own pacer.
"""

from __future__ import annotations

import copy
import threading
from typing import Generic, TypeVar

from ibkr_session.clock import Clock
from ibkr_session.endpoints import PACING_ROWS
from ibkr_session.errors import RateLimitedError

__all__ = ["PACER_SAFETY", "SLOW_ROW_SECONDS", "Cache", "SlowRow"]

PACER_SAFETY = 0.9
"""The fraction of a rate the session's pacer uses (``Pacer(safety=0.9)``)."""

SLOW_ROW_SECONDS = 300.0
"""A pacing row allowing one request per this long or longer is never waited for."""

T = TypeVar("T")


class SlowRow:
    """The client's own count of one slow pacing row (one request per window)."""

    def __init__(self, row_name: str, clock: Clock, *, path: str, method: str = "POST") -> None:
        row = PACING_ROWS[row_name]
        if row.rate is None:
            raise ValueError(f"pacing row {row_name!r} has no rate")
        self.name = row_name
        self.window = row.per / row.rate / PACER_SAFETY
        self._clock = clock
        self._path = path
        self._method = method
        self._last: float | None = None
        self._in_flight = False
        self._lock = threading.Lock()

    def retry_after(self) -> float:
        """Seconds until the row has room (0: it has room now)."""
        with self._lock:
            return self._retry_after()

    def _retry_after(self) -> float:
        if self._in_flight:
            return self.window
        if self._last is None:
            return 0.0
        return max(0.0, self.window - (self._clock.monotonic() - self._last))

    def take(self) -> None:
        """Claim the row for one request, or raise ``RateLimitedError`` (nothing sent)."""
        with self._lock:
            wait = self._retry_after()
            if wait > 0:
                raise RateLimitedError(
                    "paced",
                    f"{self._path} allows one request per {self.window / 60:.0f} min; "
                    f"nothing was sent, try again in {wait:.0f} s",
                    retry_after=wait,
                    method=self._method,
                    path=self._path,
                )
            self._in_flight = True

    def sent(self) -> None:
        """The request's answer (or its failure after leaving) is back: count from now."""
        with self._lock:
            self._in_flight = False
            self._last = self._clock.monotonic()

    def unsent(self) -> None:
        """The request surely never reached the gateway: the row is free again."""
        with self._lock:
            self._in_flight = False


class Cache(Generic[T]):
    """One answer, kept for ``ttl`` seconds of the clock; handed out as deep copies, so a
    caller changing its copy cannot change the next caller's."""

    def __init__(self, clock: Clock, ttl: float) -> None:
        self._clock = clock
        self._ttl = ttl
        self._value: T | None = None
        self._at: float | None = None
        self._lock = threading.Lock()

    def get(self) -> T | None:
        with self._lock:
            if self._at is None or self._clock.monotonic() - self._at >= self._ttl:
                return None
            return copy.deepcopy(self._value)

    def put(self, value: T) -> None:
        with self._lock:
            self._value = copy.deepcopy(value)
            self._at = self._clock.monotonic()

    def clear(self) -> None:
        with self._lock:
            self._value = None
            self._at = None
