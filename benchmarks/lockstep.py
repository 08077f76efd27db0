"""``LockstepClock``: virtual time that several threads can share without cheating.

With a plain ``ManualClock`` a thread that sleeps moves time for everyone at once, also
while another thread's request is on its way: the gateway then sees a request arrive a
whole pacing window after it left the client, and requests that left a window apart
arrive together (a 429 no real clock would produce). Here time moves like a discrete-event
simulation: only when every registered worker sleeps, and then to the earliest wake-up.
While any worker is busy (sending, waiting for an answer) time stands still.
"""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ibkr_session.clock import ManualClock

__all__ = ["GRAIN", "LockstepClock"]

GRAIN = 1e-5
"""Seconds within which wake-ups count as simultaneous (the clock's datetimes are µs)."""


class _Sleeper:
    def __init__(self, wake: float) -> None:
        self.wake = wake
        self.done = False


class LockstepClock(ManualClock):
    """A ``ManualClock`` whose ``sleep`` waits until all workers sleep (see module doc).

    Threads that sleep on it must be registered with ``worker()`` for their whole run;
    a sleep outside any worker (no worker registered) just moves time, as ``ManualClock``.
    """

    def __init__(self, start: _dt.datetime) -> None:
        super().__init__(start)
        self._turn = threading.Condition()
        self._workers = 0
        self._sleepers: list[_Sleeper] = []

    @contextmanager
    def worker(self) -> Iterator[None]:
        """Count the calling thread as a worker while the block runs."""
        with self._turn:
            self._workers += 1
        try:
            yield
        finally:
            with self._turn:
                self._workers -= 1
                self._advance_if_all_asleep()

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._turn:
            if self._workers == 0:
                self.advance(seconds)
                return
            sleeper = _Sleeper(self.monotonic() + seconds)
            self._sleepers.append(sleeper)
            self._advance_if_all_asleep()
            while not sleeper.done:
                self._turn.wait()

    def _advance_if_all_asleep(self) -> None:
        """Called with the condition held: wake the earliest sleepers if nobody is busy."""
        if not self._sleepers or len(self._sleepers) < self._workers:
            return
        wake = min(sleeper.wake for sleeper in self._sleepers)
        self.advance(max(0.0, wake - self.monotonic()))
        for sleeper in self._sleepers:
            # Wake-ups within one grain are one instant: a worker whose float arithmetic
            # landed a hair later must not always lose the race to the others.
            if sleeper.wake <= wake + GRAIN:
                sleeper.done = True
        self._sleepers = [sleeper for sleeper in self._sleepers if not sleeper.done]
        self._turn.notify_all()
