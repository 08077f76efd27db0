"""Time as an injected dependency.

Everything in this project that waits, schedules or measures asks a ``Clock``. Production
code gets ``SystemClock``; tests and the demo get ``ManualClock`` and travel through a
whole night of resets in milliseconds. The simulated gateway takes the same clock, so
time travel drives both sides of the wire at once.
"""

from __future__ import annotations

import datetime as _dt
import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """What the library needs to know about time."""

    def now(self) -> _dt.datetime:
        """The current wall-clock time, timezone-aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for intervals and deadlines)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``; a virtual clock just moves forward."""
        ...


class SystemClock:
    """The real clock. Looks the functions up at call time, so freezegun can steer it."""

    def now(self) -> _dt.datetime:
        return _dt.datetime.now(_dt.UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A virtual clock that moves only when told to, safe to share between threads.

    ``sleep`` advances time at once instead of blocking, so retry loops and pacing waits
    run instantly while tests still see the exact delays that were requested.
    """

    def __init__(self, start: _dt.datetime | None = None) -> None:
        if start is None:
            start = _dt.datetime(2026, 1, 5, 14, 30, tzinfo=_dt.UTC)
        self._now = _require_aware(start).astimezone(_dt.UTC)
        self._monotonic = 0.0
        self._lock = threading.Lock()

    def now(self) -> _dt.datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._monotonic

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (negative values are refused)."""
        if seconds < 0:
            raise ValueError(f"cannot advance a clock backwards ({seconds} s)")
        with self._lock:
            self._now += _dt.timedelta(seconds=seconds)
            self._monotonic += seconds

    def set(self, when: _dt.datetime) -> None:
        """Jump to ``when``. The monotonic reading only ever moves forward."""
        target = _require_aware(when).astimezone(_dt.UTC)
        with self._lock:
            step = (target - self._now).total_seconds()
            self._now = target
            self._monotonic += max(step, 0.0)

    def __repr__(self) -> str:
        return f"ManualClock({self.now().isoformat()})"


def _require_aware(when: _dt.datetime) -> _dt.datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"naive datetime {when!r}: pass a timezone-aware one")
    return when
