"""The demo's stream: ``client.stream()`` beside the worker, followed on the virtual clock.

The demo opens the stream as a bot would (quotes of its conids, its orders, its trades)
and reads the events as the run goes. The timeline shows each ``StreamGap`` (one per
disturbance: a session trouble, the nightly reset, a dropped or silent socket), the
quotes refilled after it and every fill as the stream delivers it, a fill made while the
stream was down included (it arrives after the gap, reconciled with the live orders).
The figures are checked against the simulator's book: every execution delivered once.

Virtual time. The stream's reader thread and the gateway's socket thread follow the
shared clock in real time: they answer a clock step within milliseconds, and the stream's
watchdog gives a late heartbeat ``watchdog_grace`` real seconds. A clock that raced ahead
would outrun them (a two-minute silence over before the watchdog could call it, a
reconnect minutes late), so the demo moves the clock ``STEP`` seconds at a time and after
each step holds it (``StreamWatch.catch_up``) until

- the stream has heard the gateway within its heartbeat deadline: ``STEP`` is longer than
  the deadline, so either the new reading's heartbeat arrives (milliseconds) or the
  watchdog calls a gap after its grace, which can be generous as the clock waits for it;
- in a gap the session could carry the stream again (not the reset window, not a
  competing login), the stream has reconnected, for at most ``RECONNECT_WAIT`` (its
  jittered backoff may want a later reading).
"""

from __future__ import annotations

import datetime as _dt
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ibkr_api.stream import (
    DEFAULT_HEARTBEAT_TIMEOUT,
    OrderEvent,
    QuoteEvent,
    Stream,
    StreamEvent,
    StreamGap,
    TradeEvent,
)
from ibkr_host.timeline import Timeline, format_duration
from ibkr_session.logs import get_logger
from ibkr_session.manager import SessionManager
from ibkr_session.state import SessionState
from ibkr_sim.executions import Execution

__all__ = ["STEP", "STREAM_OPTIONS", "StreamFills", "StreamWatch"]

log = get_logger(__name__)

HEARTBEAT_TIMEOUT = DEFAULT_HEARTBEAT_TIMEOUT
"""The stream's heartbeat deadline (the library's), on the session clock."""
STEP = 30.0
"""Virtual seconds the clock moves between two looks at the stream: longer than
``HEARTBEAT_TIMEOUT``, short enough for a ``tic`` a minute and ``smd`` renewals well
before the gateway's 15-minute end."""

STREAM_OPTIONS: dict[str, Any] = {
    "heartbeat_timeout": HEARTBEAT_TIMEOUT,
    # The clock waits while the watchdog holds a late heartbeat: a generous grace costs
    # real time only when the socket really is silent (once per silence), and a busy
    # machine's slow thread is never taken for a dead socket.
    "watchdog_grace": 2.0,
    # Reads and reconnect checks every 5 ms real: the clock waits for them.
    "poll": 0.005,
}
"""``Stream`` options for a clock that jumps ``STEP`` seconds; the session clock's
deadlines (``tic`` 50 s, renewals, backoff) stay the library's defaults."""

CATCH_UP_LIMIT = 10.0
"""Real seconds a step waits for the stream's heartbeat or gap at most: only a stuck
reader gets there."""
RECONNECT_WAIT = 0.25
"""Real seconds a step in a gap waits for the reconnect (milliseconds when it is due)."""
SETTLE_LIMIT = 2.0
"""Real seconds the end of the run waits for fills still on their way."""
READ_WAIT = 0.002
"""Real seconds one look at the event queue waits for an event."""
_USABLE = frozenset({SessionState.AUTHENTICATED, SessionState.STALE})
_NO_RECONNECT = frozenset({SessionState.RESET_WINDOW, SessionState.COMPETING})
"""The stream waits for the session's own recovery here, on the clock."""


@dataclass(frozen=True)
class StreamFills:
    """The book's executions as the stream delivered them (``StreamWatch.fills``)."""

    delivered: int
    once: bool
    """Every execution delivered, none twice."""
    in_gaps: int
    """Made while the stream was in a gap (delivered after it, reconciled)."""


class StreamWatch:
    """What the demo's stream delivered, and its lines on the timeline.

    It subscribes the quotes of ``symbols``, the orders and the trades. ``pass_time``
    moves the clock in ``STEP`` steps with ``catch_up`` after each; ``settle`` lets the
    last fills arrive.
    """

    def __init__(
        self,
        stream: Stream,
        session: SessionManager,
        timeline: Timeline,
        symbols: Mapping[str, int],
    ) -> None:
        self._stream = stream
        self._session = session
        self._clock = session.clock
        self._timeline = timeline
        self._symbols = {conid: symbol for symbol, conid in symbols.items()}
        self._stream.subscribe_quotes(list(self._symbols))
        self._stream.subscribe_orders()
        self._stream.subscribe_trades()
        self.gaps: list[StreamGap] = []
        self.quote_updates = 0
        self._trades: Counter[str] = Counter()  # execution id → trade events
        self._told: dict[str, tuple[str | None, float]] = {}  # order id → (status, filled)
        self._told_twice = 0
        self._refilling: dict[int, float | None] = {}  # conid → its refill, after a gap

    # -- following the clock ---------------------------------------------------------------

    def pass_time(self, advance: Callable[[float], None], seconds: float) -> None:
        """Let ``seconds`` pass through ``advance`` (the runner's keep-alive wait), ``STEP``
        at a time, catching up with the stream after each step."""
        left = seconds
        while left > 0:
            step = min(STEP, left)
            advance(step)
            self.catch_up()
            left -= step

    def catch_up(self) -> None:
        """Hold the clock until the stream has followed it (see the module docstring),
        reading its events meanwhile."""
        reading = self._clock.now()
        if not self._read_until(lambda: self._heard_or_gap(reading), CATCH_UP_LIMIT):
            log.warning("demo.stream_behind", reading=reading.isoformat())
        if self._stream.in_gap and self._session.state not in _NO_RECONNECT:
            self._read_until(lambda: not self._stream.in_gap, RECONNECT_WAIT)

    def settle(self, executions: Iterable[Execution]) -> None:
        """Read until every execution of the book was delivered (real time, bounded)."""
        wanted = {execution.execution_id for execution in executions}
        self._read_until(lambda: wanted <= set(self._trades), SETTLE_LIMIT)

    def _heard_or_gap(self, reading: _dt.datetime) -> bool:
        """The stream heard the gateway within its deadline of ``reading``, or it is in a
        gap, or it has no socket yet while the session cannot carry one."""
        stream = self._stream
        heard = stream.heard_at
        if stream.in_gap:
            return True
        if heard is None:
            return self._session.state not in _USABLE
        return (reading - heard).total_seconds() <= HEARTBEAT_TIMEOUT

    def _read_until(self, done: Callable[[], bool], limit: float) -> bool:
        """Read events until ``done()`` or ``limit`` real seconds; whether it was done."""
        deadline = time.monotonic() + limit
        while not (finished := done()) and time.monotonic() < deadline:
            self._read(READ_WAIT)
        self._read(0.0)
        return finished

    # -- the events -------------------------------------------------------------------------

    def _read(self, wait: float) -> None:
        """Take every event queued now; wait up to ``wait`` real seconds for the first."""
        while (event := self._stream.next_event(wait)) is not None:
            self._take(event)
            wait = 0.0

    def _take(self, event: StreamEvent) -> None:
        if isinstance(event, StreamGap):
            self._gap(event)
        elif isinstance(event, QuoteEvent):
            self._quote(event)
        elif isinstance(event, OrderEvent):
            self._order(event)
        elif isinstance(event, TradeEvent):
            self._trades[event.execution_id] += 1

    def _gap(self, gap: StreamGap) -> None:
        self.gaps.append(gap)
        self._refilling = dict.fromkeys(self._symbols)
        self._timeline.add(
            gap.ended,
            "stream",
            f"gap {self._timeline.span(gap.started, gap.ended)} "
            f"({format_duration(gap.seconds)}): {gap.reason}",
        )

    def _quote(self, event: QuoteEvent) -> None:
        """Counted; after a gap, one line once every conid was refilled."""
        self.quote_updates += 1
        if not (event.refill and event.conid in self._refilling):
            return
        self._refilling[event.conid] = event.quote.last
        if any(last is None for last in self._refilling.values()):
            return
        refilled = ", ".join(
            f"{self._symbols[conid]} {last:,.2f}"
            for conid, last in self._refilling.items()
            if last is not None
        )
        self._refilling = {}
        self._timeline.add(self._clock.now(), "stream", f"quotes refilled: {refilled}")

    def _order(self, event: OrderEvent) -> None:
        """A fill is an order event whose filled quantity grew; one that tells the same
        status and quantity again is a fill delivered twice."""
        filled = event.filled_quantity or 0.0
        told = (event.status, filled)
        before = self._told.get(event.order_id, (None, 0.0))
        self._told[event.order_id] = told
        if filled > 0 and told == before:
            self._told_twice += 1
        if filled <= before[1]:
            return
        after_gap = ", reconciled after the gap" if event.reconciled else ""
        self._timeline.add(
            event.received_at,
            "stream",
            f"#{event.order_id} {event.status} {filled:g} "
            f"{event.row.get('ticker', event.conid)}{after_gap}",
        )

    # -- figures ------------------------------------------------------------------------------

    def fills(self, executions: Sequence[Execution]) -> StreamFills:
        """The book's executions as the stream delivered them.

        Delivered: its trade arrived and its order's filled quantity reached the book's.
        Once: every execution's trade exactly once, no trade the book did not make, each
        order's filled quantity exactly the book's, no fill told twice.
        """
        book: dict[str, float] = {}
        for execution in executions:
            order_id = str(execution.order_id)
            book[order_id] = book.get(order_id, 0.0) + execution.quantity
        told = {order_id: filled for order_id, (_, filled) in self._told.items()}
        delivered = sum(
            1
            for execution in executions
            if self._trades[execution.execution_id]
            and told.get(str(execution.order_id), 0.0) >= book[str(execution.order_id)]
        )
        once = (
            all(self._trades[execution.execution_id] == 1 for execution in executions)
            and self._trades.total() == len(executions)
            and all(told.get(order_id) == quantity for order_id, quantity in book.items())
            and self._told_twice == 0
        )
        in_gaps = sum(1 for execution in executions if self._in_a_gap(execution.time))
        return StreamFills(delivered, once, in_gaps)

    def _in_a_gap(self, timestamp: float) -> bool:
        when = _dt.datetime.fromtimestamp(timestamp, _dt.UTC)
        return any(gap.started <= when <= gap.ended for gap in self.gaps)

    @property
    def conflated(self) -> int:
        """Quote updates merged away while the demo had not read them yet."""
        return self._stream.stats.conflated

    @property
    def in_gap(self) -> bool:
        return self._stream.in_gap
