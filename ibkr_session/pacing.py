"""Client-side pacing, so a well-behaved worker never meets a 429 or the penalty box.

The gateway answers a too-eager client with HTTP 429 and then shuts the IP out for 10-15
minutes. ``Pacer.slot(method, path)`` waits (on the injected clock) until every limit of the
table that matches the request has room, so requests leave only when the gateway will
accept them.

How the limits are kept:

- Rate limits use a *sliding window*: the last ``n`` send times of each limit are kept, and
  the next request may leave once the oldest of them has left the window. Unlike a token
  bucket refilled at the average rate, this lets a worker use the whole allowance, and
  unlike fixed windows it never lets ``2n`` requests through around a window boundary.
- ``safety`` (0.9 by default) is the fraction of each rate limit we actually use. The count
  is kept and the window is stretched by ``1 / safety``: "10 per 1 s" becomes "10 per
  1.11 s" (9/s sustained), "1 per 5 s" becomes "1 per 5.56 s". Stretching the window rather
  than shrinking the count keeps one-request limits usable (0.9 requests cannot be sent)
  and leaves every real window with room for the jitter between our send time and the
  gateway's receive time. "Permitted" in the benchmarks means this stretched rate.
- Concurrency limits (history: 5) are counted exactly and not scaled: the gateway counts
  requests in flight, which we know precisely.
- ``penalize(seconds)`` after a 429: nobody sends before then, whatever the windows say.

Thread-safety: the bookkeeping is guarded by one condition variable; a thread never holds it
while sleeping, and it re-checks every limit on the clock after each sleep, because other
threads (and, with ``ManualClock``, other sleepers) may have moved time or taken the room.
"""

from __future__ import annotations

import math
import re
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from ibkr_session.clock import Clock
from ibkr_session.logs import get_logger

__all__ = ["IBKR_LIMITS", "Limit", "Pacer"]

log = get_logger(__name__)


@dataclass(frozen=True)
class Limit:
    """One pacing rule of the gateway.

    ``method`` is an HTTP method (``None``: any); ``pattern`` is a regular expression that
    must match the whole path (relative to ``/v1/api``, without the query string).
    ``rate`` requests per ``per`` seconds, and/or at most ``concurrency`` in flight.
    """

    name: str
    method: str | None
    pattern: str
    rate: float | None = None
    per: float = 1.0
    concurrency: int | None = None
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.rate is None and self.concurrency is None:
            raise ValueError(f"limit {self.name!r} needs a rate or a concurrency")
        if self.rate is not None and not (math.isfinite(self.rate) and self.rate > 0):
            raise ValueError(f"limit {self.name!r}: rate must be positive, got {self.rate!r}")
        if not (math.isfinite(self.per) and self.per > 0):
            raise ValueError(f"limit {self.name!r}: per must be positive, got {self.per!r}")
        if self.concurrency is not None and self.concurrency < 1:
            raise ValueError(
                f"limit {self.name!r}: concurrency must be at least 1, got {self.concurrency!r}"
            )
        object.__setattr__(self, "_regex", re.compile(self.pattern))

    def matches(self, method: str, path: str) -> bool:
        """Whether a request ``method path`` counts against this limit."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self._regex.fullmatch(path.split("?", 1)[0]) is not None


IBKR_LIMITS: tuple[Limit, ...] = (
    Limit("gateway", None, r"/.*", rate=10, per=1.0),
    Limit("snapshot", "GET", r"/iserver/marketdata/snapshot", rate=10, per=1.0),
    Limit("history", "GET", r"/iserver/marketdata/history", concurrency=5),
    Limit("orders", "GET", r"/iserver/account/orders", rate=1, per=5.0),
    Limit("trades", "GET", r"/iserver/account/trades", rate=1, per=5.0),
    Limit("pnl", "GET", r"/iserver/account/pnl/partitioned", rate=1, per=5.0),
    # IBKR-FACTS §3 lists the two account lists in one row; counting them together is the
    # reading that can never earn a 429, whichever one the gateway actually applies.
    Limit("portfolio-accounts", "GET", r"/portfolio/(sub)?accounts", rate=1, per=5.0),
    Limit("tickle", "POST", r"/tickle", rate=1, per=1.0),
    Limit("sso-validate", "GET", r"/sso/validate", rate=1, per=60.0),
)
"""IBKR-FACTS §3 as data: the whole gateway's 10/s plus the per-endpoint limits."""


class _Track:
    """The live bookkeeping of one limit: recent send times and requests in flight."""

    def __init__(self, limit: Limit, safety: float) -> None:
        self.limit = limit
        self.capacity: int | None = None
        self.window = 0.0
        if limit.rate is not None:
            # A fractional rate (0.2/s) becomes one request per the matching longer window.
            self.capacity = max(1, math.floor(limit.rate))
            self.window = limit.per * self.capacity / limit.rate / safety
        self.sent: deque[float] = deque(maxlen=self.capacity or 1)
        self.in_flight = 0

    def rate_wait(self, now: float) -> float:
        """Seconds until this limit's window has room (0 when it has room now)."""
        if self.capacity is None or len(self.sent) < self.capacity:
            return 0.0
        # Measured as elapsed time, the way anyone checking the window would measure it:
        # `sent + window` can round below the true end of the window.
        return self.window - (now - self.sent[0])

    def concurrency_full(self) -> bool:
        concurrency = self.limit.concurrency
        return concurrency is not None and self.in_flight >= concurrency


class Pacer:
    """Waits before each request until every matching limit has room; see the module doc."""

    def __init__(
        self, clock: Clock, limits: Sequence[Limit] = IBKR_LIMITS, *, safety: float = 0.9
    ) -> None:
        if not (0 < safety <= 1):
            raise ValueError(f"safety must be in (0, 1], got {safety!r}")
        self._clock = clock
        self._tracks = tuple(_Track(limit, safety) for limit in limits)
        self._condition = threading.Condition()
        self._penalty_until = -math.inf

    @contextmanager
    def slot(self, method: str, path: str) -> Iterator[None]:
        """Hold a place for one request ``method path`` (send it inside the ``with``)."""
        tracks = tuple(track for track in self._tracks if track.limit.matches(method, path))
        self._acquire(tracks, method, path)
        try:
            yield
        finally:
            self._release(tracks)

    def penalize(self, seconds: float) -> None:
        """After a 429: no request leaves before ``seconds`` from now."""
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"penalty must be a non-negative number of seconds, got {seconds!r}")
        with self._condition:
            until = self._clock.monotonic() + seconds
            self._penalty_until = max(self._penalty_until, until)
        log.debug("pacing.penalized", seconds=seconds)

    def _acquire(self, tracks: tuple[_Track, ...], method: str, path: str) -> None:
        while True:
            with self._condition:
                while any(track.concurrency_full() for track in tracks):
                    self._condition.wait()
                now = self._clock.monotonic()
                wait, reason = self._longest_wait(tracks, now)
                if wait <= 0:
                    for track in tracks:
                        if track.capacity is not None:
                            track.sent.append(now)
                        if track.limit.concurrency is not None:
                            track.in_flight += 1
                    return
            log.debug("pacing.wait", method=method, path=path, seconds=wait, limit=reason)
            # At least one unit of the clock's float, or a virtual clock could never get there.
            self._clock.sleep(max(wait, math.ulp(now)))

    def _longest_wait(self, tracks: tuple[_Track, ...], now: float) -> tuple[float, str]:
        wait, reason = self._penalty_until - now, "penalty"
        for track in tracks:
            track_wait = track.rate_wait(now)
            if track_wait > wait:
                wait, reason = track_wait, track.limit.name
        return wait, reason

    def _release(self, tracks: tuple[_Track, ...]) -> None:
        with self._condition:
            for track in tracks:
                if track.limit.concurrency is not None:
                    track.in_flight -= 1
            self._condition.notify_all()
