"""Client-side pacing, so a well-behaved worker (or a fleet of them) never meets a 429.

The gateway answers a too-eager client with HTTP 429 and then shuts the IP out for 10-15
minutes. ``Pacer.slot(method, path)`` waits until every pacing row the request counts
against (``ibkr_session.endpoints``: the gateway's 10/s and the endpoint's own row) has
room, so requests leave only when the gateway will accept them.

How the limits are kept (the counting itself is ``coordination.Coordinator.take_slot``, so
threads, processes and machines sharing a coordinator share one count):

- Rate rows are *sliding windows* counted **until the answer is back**: a request holds its
  place from the grant until ``window`` seconds after its answer. The gateway counts at
  arrival, somewhere between our send and its answer; counting from the grant let the
  first requests of a burst (slow: new TLS connections) and the eleventh (fast: a warm
  connection) land in one gateway-second.
- ``safety`` (0.9 by default) is the fraction of each rate we use: the window is stretched
  by ``1 / safety`` ("10 per 1 s" becomes "10 per 1.11 s"), which keeps one-request rows
  usable and leaves room for clock jitter. A manager that must make do with its part of
  the limits (coordination degraded) gets it from the coordinator, which splits each row.
- Concurrency rows (history: 5) count requests in flight, exactly.
- ``penalize(seconds)`` after a 429: nobody sends before then, whatever the windows say.
- ``max_wait``: a request that would have to wait longer (the penalty box, a 15-minute
  row) is refused at once with ``RateLimitedError`` (``retry_after`` says when), nothing
  sent: a worker is never blocked for minutes unannounced.
- Older waiters first, across processes: every waiter of a full row wakes when it has
  room, and the first store update wins. Between processes (a file or Redis coordinator,
  real time) a waiter therefore wakes a little later the less it has waited
  (``defer_for``: up to ``MAX_DEFER`` s, nothing once it has waited ``max_wait``), so the
  one that waited longest is first in line. A heuristic, not a queue: it makes losing
  race after race past ``max_wait`` unlikely, not impossible.

Waits for the clock go through ``clock.sleep`` (virtual time makes tests exact); waits for
a request in flight (its answer, not the clock, frees the place) are real-time waits on a
condition that local answers notify.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from ibkr_session.clock import Clock
from ibkr_session.coordination import Budget, Coordinator, Grant, MemoryStore, Wait
from ibkr_session.endpoints import PACING_ROWS, PacingRow, endpoint_for
from ibkr_session.errors import RateLimitedError
from ibkr_session.logs import get_logger

__all__ = ["MAX_DEFER", "MAX_PENALTY", "PACING_REFUSAL", "Pacer", "budget_of", "defer_for"]

log = get_logger(__name__)

PACING_REFUSAL = "pacing"
"""``RateLimitedError.code`` when this pacer refused a wait: nothing was sent (a 429 from
the gateway has code 429)."""

MAX_PENALTY = 900.0
"""The longest penalty believed (IBKR's box is 10-15 minutes): a wild ``Retry-After``
cannot stop a worker for a day."""


_CLOCK_GRAIN = 5e-6

MAX_DEFER = 0.05
"""Seconds a fresh waiter lets older ones go first (at most a fifth of its wait)."""


def defer_for(wait: float, waited: float, max_wait: float) -> float:
    """How much later than ``wait`` a waiter that has ``waited`` already should wake."""
    if not math.isfinite(max_wait):
        return 0.0
    fresh = max(0.0, 1.0 - waited / max_wait)
    return min(MAX_DEFER, wait / 5) * fresh


def budget_of(row: PacingRow, *, safety: float = 1.0) -> Budget:
    """The budget that keeps ``row`` with ``safety`` (a manager alone in degraded mode gets
    its share from the coordinator, not here)."""
    if row.rate is None:
        return Budget(row.name, concurrency=row.concurrency)
    # A fractional rate (0.2/s) becomes one request per the matching longer window.
    capacity = max(1, math.floor(row.rate))
    window = row.per * capacity / row.rate / safety
    return Budget(row.name, capacity=capacity, window=window, concurrency=row.concurrency)


class Pacer:
    """Waits before each request until every row it counts against has room."""

    def __init__(
        self,
        clock: Clock,
        coordinator: Coordinator | None = None,
        *,
        rows: Mapping[str, PacingRow] = PACING_ROWS,
        safety: float = 0.9,
        max_wait: float = math.inf,
    ) -> None:
        if not (0 < safety <= 1):
            raise ValueError(f"safety must be in (0, 1], got {safety!r}")
        if not max_wait > 0:
            raise ValueError(f"max_wait must be positive, got {max_wait!r}")
        self._clock = clock
        if coordinator is None:
            coordinator = Coordinator(MemoryStore(), namespace="local")
            coordinator.use_clock(lambda: clock.now().timestamp())
        self._coordinator = coordinator
        self._rows = dict(rows)
        self._safety = safety
        self._max_wait = max_wait
        self._budgets: dict[str, tuple[Budget, ...]] = {}
        self._answers = threading.Condition()

    @property
    def coordinator(self) -> Coordinator:
        return self._coordinator

    @contextmanager
    def slot(
        self,
        method: str,
        path: str,
        *,
        opens_question: bool = False,
        max_wait: float | None = None,
    ) -> Iterator[Grant]:
        """Hold a place for one request ``method path`` (send it inside the ``with``).

        ``opens_question``: an order that may come back as a question; it waits until no
        other manager's request is in flight and keeps everyone else's out until the
        question is answered (the session releases the hold). ``max_wait`` overrides the
        pacer's for this request (the keep-alive waits little). The ``Grant`` it yields
        carries the shared session's news (generation, what another manager learned).
        """
        budgets = self._budgets_for(method, path)
        limit = self._max_wait if max_wait is None else max_wait
        grant = self._acquire(budgets, method, path, opens_question, limit)
        try:
            yield grant
        finally:
            self._coordinator.finish_slot(grant, self._wall())
            with self._answers:
                self._answers.notify_all()

    def penalize(self, seconds: float) -> None:
        """After a 429: no request leaves before ``seconds`` from now (at most 15 min)."""
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"penalty must be a non-negative number of seconds, got {seconds!r}")
        seconds = min(seconds, MAX_PENALTY)
        self._coordinator.penalize(self._wall() + seconds)
        log.info("pacing.penalized", seconds=seconds)

    def _budgets_for(self, method: str, path: str) -> tuple[Budget, ...]:
        row = endpoint_for(method, path)
        budgets = self._budgets.get(row.name)
        if budgets is None:
            budgets = tuple(
                budget_of(self._rows[pacing.name], safety=self._safety)
                for pacing in row.pacing_rows
                if pacing.name in self._rows
            )
            self._budgets[row.name] = budgets
        return budgets

    def _acquire(
        self,
        budgets: tuple[Budget, ...],
        method: str,
        path: str,
        opens_question: bool,
        max_wait: float,
    ) -> Grant:
        started = self._clock.monotonic()
        while True:
            now = self._wall()
            result = self._coordinator.take_slot(budgets, now, opens_question=opens_question)
            if isinstance(result, Grant):
                return result
            self._refuse_if_too_long(result, started, max_wait, method, path)
            log.debug(
                "pacing.wait", method=method, path=path, seconds=result.seconds, limit=result.reason
            )
            if result.in_flight:
                with self._answers:
                    self._answers.wait(result.seconds)
            else:
                # A grain more than asked: wall readings are datetimes (µs) turned into
                # epoch floats, and a window must never end a hair early.
                later = 0.0
                if self._coordinator.crosses_processes:
                    waited = self._clock.monotonic() - started
                    later = defer_for(result.seconds, waited, max_wait)
                self._clock.sleep(result.seconds + _CLOCK_GRAIN + later)

    def _refuse_if_too_long(
        self, wait: Wait, started: float, max_wait: float, method: str, path: str
    ) -> None:
        waited = self._clock.monotonic() - started
        if wait.in_flight or waited + wait.seconds <= max_wait:
            return
        raise RateLimitedError(
            PACING_REFUSAL,
            f"client-side pacing: {wait.reason} has no room for {wait.seconds:.1f} s; "
            "nothing was sent",
            retry_after=wait.seconds,
            method=method,
            path=path,
        )

    def _wall(self) -> float:
        """Shared time (``Coordinator.now``): windows are counted in it; waits are slept
        on this pacer's clock, which runs at its speed."""
        return self._coordinator.now()
