"""``Stream``: quotes, orders, P&L and trades over the gateway's WebSocket, kept alive.

``IbkrClient.stream()`` returns one. A reader thread owns the socket
(``ibkr_session.ws_transport``) and does everything the gateway needs (IBKR-FACTS §3a):

- ``tic`` every ``tic_interval`` seconds of the session clock (the gateway wants one a
  minute); each ``smd`` is asked again (which restarts it) 70-100 % of ``renew_after``
  seconds after it was sent (spread, so 100 conids are not renewed in one burst), before
  IBKR's silent ~15-minute end, and ``sor`` after ``orders_renew_after``;
- a watchdog on the gateway's ``hb``: no message for ``heartbeat_timeout`` seconds of the
  session clock means the socket is dead, half-open ones included;
- ``sts`` with ``authenticated=false`` or ``competing=true``, a session transition away
  from a usable state, or a new brokerage session all start a *disturbance*: the socket
  is closed and the session is probed (the manager's state machine learns the news);
- reconnecting waits for the session's own recovery: never inside the reset window, never
  while another platform holds the session (the session is re-probed on a jittered, capped
  backoff instead), and attempts in between back off the same way. Every reconnect
  restores every subscription.

No silent gaps: each disturbance, however many failed reconnects it takes, ends as ONE
``StreamGap(started, ended, reason)`` event, followed by the quotes refilled from a REST
snapshot and the orders reconciled with the live-orders list: an order whose status or
fill changed during the gap arrives as one ``OrderEvent(reconciled=True)``. Order events
are emitted only when an order's status, filled/remaining quantity or average price
changes, so the same fill seen by the list and again by ``sor`` is delivered once.
Trades are delivered once per execution id; after a reconnect the day's executions are
asked for again (``str+{"days":1}``), so one made during the gap arrives too, while those
executed before the first subscription are never events.

Merged views: ``latest(conid)`` is the ``smd`` fields merged into one ``LiveQuote`` (a
``Quote`` with ``received_at`` and ``stale``: true from the start of a gap until that
conid is fresh again); ``orders()`` is one merged row per order id, joined to our cOID.

Backpressure: undelivered quotes conflate per conid (the latest wins; ``stats.conflated``
counts the updates merged away) and P&L the same way; order, trade and gap events are
never conflated. The queue holds at most ``max_pending`` of those: a consumer that stops
reading gets ``StreamOverflowError`` once from ``events()`` (the merged views stay
complete), never unbounded memory; when it has caught up, the overflow is a
``StreamGap`` like any other and every order whose state it missed arrives once more
(``reconciled=True``). Callbacks (``on_event``, ``on_quote``, ...) see every event on the
reader thread; keep them short.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ibkr_api.models import Order, Quote, parse_number
from ibkr_session.core import AuthStatus, backoff_delay
from ibkr_session.errors import (
    CompetingSessionError,
    IbkrError,
    InvalidRequestError,
    ResetWindowError,
)
from ibkr_session.logs import get_logger
from ibkr_session.state import SessionState
from ibkr_session.ws_transport import ConnectionLostError, Connector, WsConnection

if TYPE_CHECKING:
    from ibkr_api.client import IbkrClient
    from ibkr_session.manager import SessionManager

__all__ = [
    "DEFAULT_HEARTBEAT_TIMEOUT",
    "DEFAULT_STREAM_FIELDS",
    "LiveQuote",
    "OrderEvent",
    "PnlEvent",
    "QuoteEvent",
    "Stream",
    "StreamClosedError",
    "StreamError",
    "StreamEvent",
    "StreamGap",
    "StreamOverflowError",
    "StreamStats",
    "TradeEvent",
]

log = get_logger(__name__)

DEFAULT_STREAM_FIELDS = ("31", "84", "86", "88", "85", "7059")
"""Last, bid, ask, bid size, ask size, last size."""

_S = SessionState
_WAIT_STATES = frozenset({_S.RESET_WINDOW, _S.COMPETING})
"""The session's own recovery is awaited here: no reconnect attempts at all."""
_LOST_STATES = frozenset({_S.RESET_WINDOW, _S.COMPETING, _S.UNAUTHENTICATED, _S.DISCONNECTED})
_USABLE_STATES = frozenset({_S.AUTHENTICATED, _S.STALE})
_ORDER_KEYS = ("status", "filledQuantity", "remainingQuantity", "avgPrice")
_NUMERIC_ORDER_KEYS = frozenset({"filledQuantity", "remainingQuantity", "avgPrice"})
_MAX_SEEN_TRADES = 100_000
_MAX_ORDERS = 10_000
"""Merged orders kept; beyond it the oldest finished ones are forgotten (a bot that runs
for weeks does not grow without bound)."""
_FINISHED = frozenset({"filled", "cancelled", "inactive", "rejected", "expired"})
_QUIET_TOPICS = frozenset({"tic", "ech+hb", "act", "ntf", "blt", "system"})


# -- events ---------------------------------------------------------------------------------


class StreamError(IbkrError):
    """Something the stream's consumer must know about the stream itself."""


class StreamOverflowError(StreamError):
    """The consumer stopped reading: ``dropped`` events did not fit in ``max_pending``.

    The merged views (``latest``, ``orders``) are complete; only the event log overflowed.
    """

    def __init__(self, dropped: int, max_pending: int) -> None:
        super().__init__(
            f"stream consumer fell behind: {dropped} order/trade/gap events did not fit in "
            f"the queue of {max_pending} (read events() faster, use callbacks, or read the "
            "merged views latest() and orders())"
        )
        self.dropped = dropped
        self.max_pending = max_pending


class StreamClosedError(StreamError):
    """The stream was closed; it cannot subscribe any more."""


class LiveQuote(Quote):
    """The merged quote of a conid: ``updated`` is the gateway's time of the last change,
    ``received_at`` ours (session clock), ``stale`` is true during a gap until refreshed."""

    received_at: _dt.datetime | None = None
    stale: bool = False


@dataclass(frozen=True)
class StreamGap:
    """An interval in which the stream could not deliver; sent once, when it ends."""

    started: _dt.datetime
    ended: _dt.datetime
    reason: str

    @property
    def seconds(self) -> float:
        return (self.ended - self.started).total_seconds()


@dataclass(frozen=True)
class QuoteEvent:
    """A conid's quote changed. ``changed``: the tags changed since the last delivered
    event; ``conflated``: updates merged into this one; ``refill``: from the snapshot
    after a gap."""

    conid: int
    quote: LiveQuote
    changed: frozenset[str]
    conflated: int = 0
    refill: bool = False


@dataclass(frozen=True)
class OrderEvent:
    """An order's status, fill or average price changed; ``row`` is the merged row."""

    order_id: str
    coid: str | None
    status: str | None
    filled_quantity: float | None
    remaining_quantity: float | None
    avg_price: float | None
    conid: int | None
    row: Mapping[str, Any]
    received_at: _dt.datetime
    reconciled: bool = False

    @property
    def order(self) -> Order:
        """The typed view of the merged row."""
        return Order.from_json(self.row)


@dataclass(frozen=True)
class PnlEvent:
    """P&L rows by key (``"<acct>.Core"``), merged (``dpl``, ``upl``, ``nl``, ...)."""

    rows: Mapping[str, Mapping[str, Any]]
    received_at: _dt.datetime
    conflated: int = 0


@dataclass(frozen=True)
class TradeEvent:
    """One execution, delivered once per ``execution_id``; ``coid`` is its order's cOID."""

    execution_id: str
    conid: int | None
    coid: str | None
    row: Mapping[str, Any]
    received_at: _dt.datetime


StreamEvent = StreamGap | QuoteEvent | OrderEvent | PnlEvent | TradeEvent


@dataclass
class StreamStats:
    """Counters a user (or the demo) can show."""

    messages: int = 0
    quotes: int = 0
    conflated: int = 0
    orders: int = 0
    trades: int = 0
    gaps: int = 0
    connects: int = 0
    renewals: int = 0
    tics: int = 0
    dropped: int = 0


@dataclass
class _QuoteSub:
    fields: tuple[str, ...]
    sent_at: float | None = None  # monotonic, on the current connection
    renew_at: float = math.inf


@dataclass
class _Topic:
    wanted: bool = False
    sent_at: float | None = None


@dataclass
class _Gap:
    started: _dt.datetime
    reason: str


@dataclass
class _Queue:
    """Pending events: conflating slots for quotes and P&L, never-dropped for the rest."""

    entries: deque[tuple[str, Any]] = field(default_factory=deque)
    quotes: dict[int, QuoteEvent] = field(default_factory=dict)
    pnl: PnlEvent | None = None
    kept: int = 0  # non-conflating entries
    dropped: int = 0
    dropped_reported: int = 0
    overflow_started: _dt.datetime | None = None
    delivered: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # order signatures


# -- the stream -------------------------------------------------------------------------------


DEFAULT_HEARTBEAT_TIMEOUT = 20.0
"""Seconds of silence (the gateway's ``hb`` comes about every 10 s) before a socket is
given up for dead."""


class Stream:
    """Streaming data of one ``IbkrClient`` (see the module docstring).

    ``with client.stream() as stream: ...`` or, in a hosted worker, ``stream =
    ctx.ibkr.stream()`` in ``setup`` and ``stream.latest(conid)`` in ``tick``. The reader
    thread starts with the stream (``start=False`` leaves it to ``start()``).

    Options (seconds are the session clock's unless said otherwise): ``max_pending`` order,
    trade and gap events held for ``events()``; ``heartbeat_timeout`` of silence before
    the socket is given up; ``tic_interval``; ``renew_after`` for ``smd`` and
    ``orders_renew_after`` for ``sor``; ``backoff_initial`` / ``backoff_max`` of the
    jittered reconnect backoff; ``poll``: real seconds one socket read waits;
    ``watchdog_grace``: real seconds the heartbeat deadline is held past its time (a
    lagging gateway thread under a virtual clock); ``connector``: opens the socket
    (tests pass a fake); ``rng``: the jitter's source.
    """

    def __init__(
        self,
        client: IbkrClient,
        *,
        connector: Connector | None = None,
        max_pending: int = 10_000,
        heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT,
        tic_interval: float = 50.0,
        renew_after: float = 600.0,
        orders_renew_after: float = 3600.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        poll: float = 0.05,
        watchdog_grace: float = 0.5,
        rng: random.Random | None = None,
        start: bool = True,
    ) -> None:
        for name, value in (
            ("heartbeat_timeout", heartbeat_timeout),
            ("tic_interval", tic_interval),
            ("renew_after", renew_after),
            ("orders_renew_after", orders_renew_after),
            ("backoff_initial", backoff_initial),
            ("backoff_max", backoff_max),
            ("poll", poll),
        ):
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise InvalidRequestError(f"{name} must be a positive number", field=name)
        if not (isinstance(watchdog_grace, int | float) and 0 <= watchdog_grace < math.inf):
            raise InvalidRequestError("watchdog_grace must be >= 0 seconds", field="watchdog_grace")
        if not (isinstance(max_pending, int) and max_pending >= 1):
            raise InvalidRequestError("max_pending must be at least 1", field="max_pending")
        self._client = client
        self._session: SessionManager = client.session
        self._clock = self._session.clock
        if connector is None:
            from ibkr_session.ws_transport import WebSocketConnector

            connector = WebSocketConnector(self._session)
        self._connect = connector
        self._max_pending = max_pending
        self._heartbeat_timeout = float(heartbeat_timeout)
        self._tic_interval = float(tic_interval)
        self._renew_after = float(renew_after)
        self._orders_renew_after = float(orders_renew_after)
        self._backoff_initial = float(backoff_initial)
        self._backoff_max = float(backoff_max)
        self._poll = float(poll)
        self._grace = float(watchdog_grace)
        self._rng = rng if rng is not None else random.Random()

        self._lock = threading.RLock()
        self._ready = threading.Condition(self._lock)
        self._closed = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = StreamStats()

        # what the user asked for (user threads write, the reader thread reads)
        self._quote_subs: dict[int, _QuoteSub] = {}
        self._dropped_quotes: set[int] = set()
        self._topics = {"sor": _Topic(), "spl": _Topic(), "str": _Topic()}

        # merged views
        self._rows: dict[int, dict[str, Any]] = {}
        self._received: dict[int, _dt.datetime] = {}
        self._stale: set[int] = set()
        self._orders: dict[str, dict[str, Any]] = {}
        self._order_keys: dict[str, tuple[Any, ...]] = {}
        self._pnl: dict[str, dict[str, Any]] = {}
        self._seen_trades: dict[str, None] = {}
        self._trades_since: _dt.datetime | None = None  # when trades were first asked for

        # the reader thread's own state
        self._conn: WsConnection | None = None
        self._gap: _Gap | None = None
        self._news: str | None = None  # a disturbance reported by another thread
        self._generation: int | None = None
        self._failures = 0
        self._next_attempt = -math.inf
        self._last_heard = 0.0
        self._quiet_since: float | None = None  # real time.monotonic(), see _read_one
        self._heard_at: _dt.datetime | None = None
        self._heartbeat_at: _dt.datetime | None = None
        self._last_tic = 0.0
        self._refill_due = False
        self._reconcile_due = False
        self._next_repair = -math.inf

        self._queue = _Queue()
        self._callbacks: list[tuple[type[Any] | None, Callable[[Any], None]]] = []
        self._stop_listening = self._session.on_transition(self._on_session_transition)
        if start:
            self.start()

    # -- subscriptions ------------------------------------------------------------------

    def subscribe_quotes(
        self, conids: int | str | Iterable[int | str], fields: Sequence[int | str] | None = None
    ) -> None:
        """``smd`` for each conid (fields default to last, bid, ask and sizes)."""
        ids = _conids(conids)
        tags = _fields(fields) if fields is not None else DEFAULT_STREAM_FIELDS
        with self._lock:
            self._require_open()
            for conid in ids:
                current = self._quote_subs.get(conid)
                if current is None or current.fields != tags:
                    self._quote_subs[conid] = _QuoteSub(tags)
                self._dropped_quotes.discard(conid)

    def unsubscribe_quotes(self, conids: int | str | Iterable[int | str]) -> None:
        """``umd`` for each conid; its merged quote is forgotten."""
        ids = _conids(conids)
        with self._lock:
            for conid in ids:
                sub = self._quote_subs.pop(conid, None)
                if sub is not None and sub.sent_at is not None:
                    self._dropped_quotes.add(conid)
                self._rows.pop(conid, None)
                self._received.pop(conid, None)
                self._stale.discard(conid)
                self._queue.quotes.pop(conid, None)

    def subscribe_orders(self) -> None:
        """``sor``: live order updates (fills included), merged per order id."""
        self._want("sor")

    def subscribe_pnl(self) -> None:
        """``spl``: P&L updates per account partition."""
        self._want("spl")

    def subscribe_trades(self) -> None:
        """``str``: executions, each delivered once."""
        self._want("str")

    def _want(self, topic: str) -> None:
        with self._lock:
            self._require_open()
            self._topics[topic].wanted = True

    # -- what the consumer reads ----------------------------------------------------------

    def latest(self, conid: int | str) -> LiveQuote | None:
        """The merged quote of ``conid`` (``None`` before its first data)."""
        (key,) = _conids(conid)
        with self._lock:
            return self._quote(key)

    def orders(self) -> dict[str, dict[str, Any]]:
        """Every order seen, one merged row per order id (``order_ref`` is our cOID)."""
        with self._lock:
            return {order_id: dict(row) for order_id, row in self._orders.items()}

    def pnl(self) -> dict[str, dict[str, Any]]:
        """The merged P&L rows by key."""
        with self._lock:
            return {key: dict(row) for key, row in self._pnl.items()}

    @property
    def heard_at(self) -> _dt.datetime | None:
        """When (session clock) the gateway last said anything on the socket."""
        with self._lock:
            return self._heard_at

    @property
    def heartbeat_at(self) -> _dt.datetime | None:
        """The gateway's own time on its last ``hb`` (how far the gateway has got)."""
        with self._lock:
            return self._heartbeat_at

    @property
    def in_gap(self) -> bool:
        """Whether the stream is currently unable to deliver."""
        with self._lock:
            return self._gap is not None

    def events(self, timeout: float | None = 1.0) -> Iterator[StreamEvent]:
        """Events as they come; the iteration ends after ``timeout`` real seconds without
        one (``None``: never) or when the stream is closed.

        Raises ``StreamOverflowError`` once per overflow when events were dropped because
        the consumer stopped reading.
        """
        while True:
            event = self.next_event(timeout)
            if event is None:
                return
            yield event

    def next_event(self, timeout: float | None = 1.0) -> StreamEvent | None:
        """The next event, or ``None`` after ``timeout`` real seconds / once closed."""
        with self._ready:
            while True:
                if not self._ready.wait_for(
                    lambda: bool(self._queue.entries) or self._closed or self._overflowed(),
                    timeout=timeout,
                ):
                    return None
                queue = self._queue
                if self._overflowed():
                    queue.dropped_reported = queue.dropped
                    raise StreamOverflowError(queue.dropped, self._max_pending)
                if not queue.entries:
                    return None  # closed and drained
                kind, item = queue.entries.popleft()
                if kind == "event":
                    queue.kept -= 1
                    event: StreamEvent = item
                    if isinstance(event, OrderEvent):
                        queue.delivered[event.order_id] = _order_signature(event.row)
                    if queue.kept == 0 and queue.overflow_started is not None:
                        self._resync_after_overflow()
                    return event
                if kind == "pnl":
                    pnl, queue.pnl = queue.pnl, None
                    if pnl is not None:
                        return pnl
                    continue
                pending = queue.quotes.pop(item, None)
                if pending is None:
                    continue  # unsubscribed meanwhile
                return QuoteEvent(
                    conid=pending.conid,
                    quote=self._quote(pending.conid) or pending.quote,
                    changed=pending.changed,
                    conflated=pending.conflated,
                    refill=pending.refill,
                )

    # -- callbacks ------------------------------------------------------------------------

    def on_event(self, callback: Callable[[StreamEvent], None]) -> None:
        """Call ``callback(event)`` for every event, on the reader thread."""
        self._callbacks.append((None, callback))

    def on_quote(self, callback: Callable[[QuoteEvent], None]) -> None:
        self._callbacks.append((QuoteEvent, callback))

    def on_order(self, callback: Callable[[OrderEvent], None]) -> None:
        self._callbacks.append((OrderEvent, callback))

    def on_pnl(self, callback: Callable[[PnlEvent], None]) -> None:
        self._callbacks.append((PnlEvent, callback))

    def on_trade(self, callback: Callable[[TradeEvent], None]) -> None:
        self._callbacks.append((TradeEvent, callback))

    def on_gap(self, callback: Callable[[StreamGap], None]) -> None:
        self._callbacks.append((StreamGap, callback))

    # -- life -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the reader thread (idempotent)."""
        with self._lock:
            self._require_open()
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="ibkr-stream", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop the reader thread and close the socket; pending events can still be read."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()
        self._stop.set()
        self._stop_listening()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10.0)
        self._drop_connection()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Stream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("gap" if self._gap else "live")
        return f"Stream({self._session.gateway_url!r}, {state}, quotes={len(self._quote_subs)})"

    # -- the reader thread ------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception:
                log.exception("stream.step_crashed")
                self._disturb("internal error in the stream's reader")
                self._stop.wait(self._poll)
        self._drop_connection()

    def _step(self) -> None:
        """One turn of the reader: notice news, (re)connect, repair, keep alive, read."""
        self._notice_news()
        if self._conn is None and not self._try_connect():
            self._stop.wait(self._poll)
            return
        if self._refill_due or self._reconcile_due:
            self._repair()
        if not self._send_due():
            return
        self._read_one()

    def _notice_news(self) -> None:
        state = self._session.state  # lets the clock speak: the reset window starts by it
        with self._lock:
            news, self._news = self._news, None
            in_gap = self._gap is not None and self._conn is None
        if in_gap:
            return  # the gap that is open already covers it
        if news is None and self._conn is not None:
            if state in _WAIT_STATES:
                news = f"session {state.name.lower()}"
            elif self._generation not in (None, self._session.brokerage_generation):
                news = "a new brokerage session began"
        if news is not None:
            self._disturb(news)

    def _read_one(self) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            text = conn.receive(self._poll)
        except ConnectionLostError as exc:
            self._disturb(f"connection lost: {exc.reason}")
            return
        now = self._clock.monotonic()
        if text is None:
            silence = now - self._last_heard
            if silence <= self._heartbeat_timeout:
                return
            # Silent past the deadline on the session clock. The deadline is also held for
            # ``watchdog_grace`` real seconds: a heartbeat already on its way (a gateway
            # whose thread lags a virtual clock that jumped) is not taken for death.
            real = time.monotonic()
            if self._quiet_since is None:
                self._quiet_since = real
            if real - self._quiet_since >= self._grace:
                self._disturb(f"no message from the gateway for {silence:.0f} s", since=silence)
            return
        self._quiet_since = None
        self._last_heard = now
        with self._lock:
            self._heard_at = self._clock.now()
        self.stats.messages += 1
        self._handle(text)

    # -- connecting ---------------------------------------------------------------------------

    def _try_connect(self) -> bool:
        now = self._clock.monotonic()
        if now < self._next_attempt:
            return False
        state = self._session.state
        if state is _S.RESET_WINDOW:
            return False  # the window ends by the clock; nothing to try before
        if _session_busy(self._session):
            return False  # an order question awaits its reply: send nothing over REST
        if state is _S.COMPETING and not self._session.takes_over:
            # Wait for the session's own recovery; only probe, on the backoff. (A session
            # that takes over does so in the guard of the reconnect's /tickle.)
            self._session.refresh()
            if self._session.state is _S.COMPETING:
                self._back_off("another platform holds the brokerage session")
                return False
        try:
            session_id = self._session_id()
            conn = self._connect(session_id)
        except (ResetWindowError, CompetingSessionError) as exc:
            self._back_off(str(exc))
            return False
        except IbkrError as exc:
            self._back_off(str(exc))
            return False
        with self._lock:
            self._conn = conn
            # What the session learned before this socket opened (often from our own
            # reconnecting /tickle) is behind it: the generation below and the socket's
            # own sts speak for the session from here on.
            self._news = None
            self._generation = self._session.brokerage_generation
            self._failures = 0
            self._next_attempt = -math.inf
            self._last_heard = self._last_tic = self._clock.monotonic()
            self._quiet_since = None
            for sub in self._quote_subs.values():
                sub.sent_at = None
            for topic in self._topics.values():
                topic.sent_at = None
            self._dropped_quotes.clear()
            self.stats.connects += 1
            if self._gap is not None:
                self._refill_due = bool(self._quote_subs)
                self._reconcile_due = self._topics["sor"].wanted
        log.info("stream.connected", generation=self._generation, gap=self._gap is not None)
        if not self._send_due():
            return False
        self._end_gap()
        return True

    def _session_id(self) -> str:
        """The ``/tickle`` session id, after making the brokerage session usable."""
        answer = self._session.request("POST", "/tickle")
        if self._session.state not in _USABLE_STATES:
            # The guard recovers (ssodh/init) and primes, or raises what only time or a
            # human can fix.
            self._session.ensure_ready()
            answer = self._session.request("POST", "/tickle")
        session_id = answer.get("session") if isinstance(answer, dict) else None
        if not isinstance(session_id, str) or not session_id:
            raise IbkrError("the gateway's /tickle answer carries no session id")
        return session_id

    def _back_off(self, why: str) -> None:
        delay = backoff_delay(
            self._failures, initial=self._backoff_initial, cap=self._backoff_max, rng=self._rng
        )
        self._failures += 1
        self._next_attempt = self._clock.monotonic() + delay
        log.info("stream.reconnect_later", reason=why, seconds=round(delay, 3))

    # -- disturbances and gaps ----------------------------------------------------------------

    def _on_session_transition(self, old: SessionState, new: SessionState, reason: str) -> None:
        """The session's state machine says ``/iserver`` data cannot flow: a disturbance
        (taken up by the reader thread; nothing is sent from the caller's thread)."""
        if self._closed or new not in _LOST_STATES or old not in _USABLE_STATES:
            return
        with self._lock:
            if self._news is None:
                self._news = f"session {new.name.lower()}: {reason}"

    def _disturb(self, reason: str, *, since: float = 0.0) -> None:
        """Start (or continue) a gap: close the socket, mark quotes stale, back off.

        ``since``: seconds ago the stream stopped delivering (a silent socket's last word).
        """
        with self._lock:
            first = self._gap is None
            if first:
                started = self._clock.now() - _dt.timedelta(seconds=since)
                self._gap = _Gap(started, reason)
                self._stale.update(self._rows)
        if first:
            log.warning("stream.gap_started", reason=reason)
        self._drop_connection()
        self._back_off(reason)
        if first and self._session.state not in (_S.RESET_WINDOW,):
            # Let the state machine learn what the stream saw (sts, silence) from a probe.
            with contextlib.suppress(IbkrError):
                if not _session_busy(self._session):
                    self._session.refresh()

    def _end_gap(self) -> None:
        with self._lock:
            gap, self._gap = self._gap, None
            if gap is None:
                return
            event = StreamGap(gap.started, self._clock.now(), gap.reason)
            self.stats.gaps += 1
        log.info("stream.gap_ended", reason=event.reason, seconds=round(event.seconds, 3))
        self._emit(event)
        self._repair()

    def _repair(self) -> None:
        """After a gap: quotes from a REST snapshot, orders from the live-orders list."""
        if self._clock.monotonic() < self._next_repair or _session_busy(self._session):
            return
        try:
            if self._refill_due:
                self._refill()
                self._refill_due = False
            if self._reconcile_due:
                self._reconcile()
                self._reconcile_due = False
        except IbkrError as exc:
            log.warning("stream.repair_failed", error=str(exc))
            self._next_repair = self._clock.monotonic() + self._backoff_initial * 5

    def _refill(self) -> None:
        with self._lock:
            by_fields: dict[tuple[str, ...], list[int]] = {}
            for conid, sub in self._quote_subs.items():
                by_fields.setdefault(sub.fields, []).append(conid)
        for fields, conids in by_fields.items():
            rows = self._client.get_market_snapshot(conids, fields)
            for row in rows:
                row_conid = _row_conid(row) if isinstance(row, dict) else None
                if row_conid is not None and any(tag in row for tag in fields):
                    self._merge_quote(row_conid, row, refill=True)

    def _reconcile(self) -> None:
        answer = self._client.get_orders()
        rows = answer.get("orders") if isinstance(answer, dict) else answer
        if not isinstance(rows, list):
            return
        for row in rows:
            if isinstance(row, dict):
                self._merge_order(row, reconciled=True)

    # -- sending ---------------------------------------------------------------------------

    def _send_due(self) -> bool:
        """Subscriptions not yet sent on this connection, renewals, ``tic``; False when the
        socket broke while sending."""
        conn = self._conn
        if conn is None:
            return False
        now = self._clock.monotonic()
        messages: list[str] = []
        with self._lock:
            for conid in sorted(self._dropped_quotes):
                messages.append(f"umd+{conid}+{{}}")
            self._dropped_quotes.clear()
            for conid, sub in self._quote_subs.items():
                if sub.sent_at is not None and now < sub.renew_at:
                    continue
                # Asking again restarts the subscription (and resends every field).
                messages.append(f"smd+{conid}+" + json.dumps({"fields": list(sub.fields)}))
                if sub.sent_at is not None:
                    self.stats.renewals += 1
                sub.sent_at = now
                # Renewals spread over the last 30 % of renew_after: 100 conids
                # subscribed together are not all asked again in one burst.
                sub.renew_at = now + self._renew_after * (0.7 + 0.3 * self._rng.random())
            for name, topic in self._topics.items():
                if not topic.wanted:
                    continue
                if topic.sent_at is None and name == "str" and self._trades_since is not None:
                    # Again after a reconnect: today's executions are replayed, so one
                    # made during the gap arrives (those already delivered are skipped).
                    messages.append(_TRADES_REPLAY)
                elif topic.sent_at is None:
                    messages.append(_TOPIC_ON[name])
                    if name == "str":
                        self._trades_since = self._clock.now()
                elif name == "sor" and now - topic.sent_at >= self._orders_renew_after:
                    messages += ["uor+{}", _TOPIC_ON[name]]
                    self.stats.renewals += 1
                else:
                    continue
                topic.sent_at = now
            if now - self._last_tic >= self._tic_interval:
                messages.append("tic")
                self._last_tic = now
                self.stats.tics += 1
        try:
            for message in messages:
                conn.send(message)
        except ConnectionLostError as exc:
            self._disturb(f"connection lost: {exc.reason}")
            return False
        return True

    def _drop_connection(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    # -- receiving -------------------------------------------------------------------------

    def _handle(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            log.debug("stream.unreadable", text=text[:200])
            return
        if not isinstance(message, dict):
            return
        topic = str(message.get("topic", ""))
        if topic.startswith("smd+"):
            conid = _row_conid(message) or _topic_conid(topic)
            if conid is not None and "error" not in message:
                self._merge_quote(conid, message)
        elif topic == "sor":
            for row in _rows(message.get("args")):
                self._merge_order(row)
        elif topic == "spl":
            self._merge_pnl(message.get("args"))
        elif topic == "str":
            for row in _rows(message.get("args")):
                self._merge_trade(row)
        elif topic == "sts":
            self._session_status(message.get("args"))
        elif topic == "tic" and message.get("alive") is False:
            self._disturb("gateway says the session is not alive")
        elif topic == "tic" and message.get("alive") is True:
            self._session.note_contact()  # as good as a tickle: the session is alive
        elif topic == "system" and isinstance(message.get("hb"), int | float):
            with self._lock:
                self._heartbeat_at = _dt.datetime.fromtimestamp(message["hb"] / 1000, _dt.UTC)
        elif topic not in _QUIET_TOPICS:
            log.debug("stream.ignored", topic=topic)

    def _session_status(self, args: object) -> None:
        """``sts`` is the same news as a probe answer: the session's state machine hears it
        (an ``authenticated=false`` here is a 401 for every REST call too)."""
        status = AuthStatus.from_answer(args)
        if status is None:
            return
        if not _session_busy(self._session):
            self._session.hear(status, "stream sts")
        if status.competing:
            self._disturb("gateway says competing=true")
        elif not status.authenticated:
            self._disturb("gateway says authenticated=false")

    def _merge_quote(self, conid: int, message: Mapping[str, Any], *, refill: bool = False) -> None:
        fields = {
            key: value
            for key, value in message.items()
            if key not in ("topic", "conid", "conidEx") and not key.startswith("server")
        }
        with self._lock:
            if conid not in self._quote_subs:
                return
            row = self._rows.setdefault(conid, {"conid": conid})
            changed = frozenset(
                key
                for key, value in fields.items()
                if not key.startswith("_") and row.get(key) != value
            )
            row.update(fields)
            self._received[conid] = self._clock.now()
            was_stale = conid in self._stale
            self._stale.discard(conid)
            if not changed and not was_stale:
                return
            self.stats.quotes += 1
            quote = self._quote(conid)
            if quote is None:
                return
            event = QuoteEvent(conid, quote, changed, refill=refill)
            pending = self._queue.quotes.get(conid)
            if pending is not None:
                self.stats.conflated += 1
                self._queue.quotes[conid] = QuoteEvent(
                    conid,
                    quote,
                    pending.changed | changed,
                    conflated=pending.conflated + 1,
                    refill=pending.refill or refill,
                )
            else:
                self._queue.quotes[conid] = event
                self._queue.entries.append(("quote", conid))
            self._ready.notify_all()
        self._call_back(event)

    def _merge_order(self, update: Mapping[str, Any], *, reconciled: bool = False) -> None:
        order_id = update.get("orderId", update.get("order_id"))
        if order_id is None:
            return
        key = str(order_id)
        with self._lock:
            row = self._orders.setdefault(key, {})
            row.update(update)
            signature = _order_signature(row)
            if self._order_keys.get(key) == signature:
                return
            self._order_keys[key] = signature
            self.stats.orders += 1
            if len(self._orders) > _MAX_ORDERS:
                self._forget_finished_orders()
            event = _order_event(key, row, self._clock.now(), reconciled=reconciled)
        self._emit(event)

    def _forget_finished_orders(self) -> None:
        """Drop the oldest tenth of the finished orders (lock held)."""
        finished = [
            order_id
            for order_id, row in self._orders.items()
            if str(row.get("status", "")).lower() in _FINISHED
        ]
        for order_id in finished[: max(1, len(finished) // 10)]:
            del self._orders[order_id]
            self._order_keys.pop(order_id, None)
            self._queue.delivered.pop(order_id, None)

    def _merge_pnl(self, args: object) -> None:
        if not isinstance(args, dict):
            return
        with self._lock:
            for key, row in args.items():
                if isinstance(row, dict):
                    self._pnl.setdefault(str(key), {}).update(row)
            event = PnlEvent(self.pnl(), self._clock.now())
            queue = self._queue
            if queue.pnl is not None:
                self.stats.conflated += 1
                queue.pnl = PnlEvent(event.rows, event.received_at, queue.pnl.conflated + 1)
            else:
                queue.pnl = event
                queue.entries.append(("pnl", None))
            self._ready.notify_all()
        self._call_back(event)

    def _merge_trade(self, row: Mapping[str, Any]) -> None:
        execution_id = _text(row.get("execution_id", row.get("executionId")))
        if execution_id is None:
            return
        executed = parse_number(row.get("trade_time_r"))
        with self._lock:
            if execution_id in self._seen_trades:
                return
            since = self._trades_since
            if executed is not None and since is not None and executed < _ms(since) - 1000:
                return  # executed before the subscription: history, not an event
            self._seen_trades[execution_id] = None
            if len(self._seen_trades) > _MAX_SEEN_TRADES:
                del self._seen_trades[next(iter(self._seen_trades))]
            self.stats.trades += 1
            event = TradeEvent(
                execution_id=execution_id,
                conid=_int(row.get("conid")),
                coid=_text(row.get("order_ref", row.get("cOID"))),
                row=dict(row),
                received_at=self._clock.now(),
            )
        self._emit(event)

    # -- delivery ---------------------------------------------------------------------------

    def _emit(self, event: StreamGap | OrderEvent | TradeEvent) -> None:
        """Queue a never-conflated event (bounded), then the callbacks."""
        with self._ready:
            queue = self._queue
            if queue.kept >= self._max_pending:
                if queue.overflow_started is None:
                    queue.overflow_started = self._clock.now()
                queue.dropped += 1
                self.stats.dropped += 1
                if queue.dropped == queue.dropped_reported + 1:
                    log.warning("stream.consumer_behind", max_pending=self._max_pending)
            else:
                queue.entries.append(("event", event))
                queue.kept += 1
            self._ready.notify_all()
        self._call_back(event)

    def _call_back(self, event: StreamEvent) -> None:
        for kind, callback in list(self._callbacks):
            if kind is None or isinstance(event, kind):
                try:
                    callback(event)
                except Exception:
                    log.exception("stream.callback_failed", kind=type(event).__name__)

    def _resync_after_overflow(self) -> None:
        """The consumer caught up after an overflow (lock held): the interval becomes a
        ``StreamGap`` and every order whose state it did not see arrives once more."""
        queue = self._queue
        started, queue.overflow_started = queue.overflow_started, None
        if started is None:
            return
        now = self._clock.now()
        missed = queue.dropped
        resent: list[StreamEvent] = [
            StreamGap(started, now, f"consumer fell behind: {missed} events did not fit")
        ]
        for order_id, row in self._orders.items():
            if queue.delivered.get(order_id) != _order_signature(row):
                resent.append(_order_event(order_id, row, now, reconciled=True))
        self.stats.gaps += 1
        for event in resent:
            queue.entries.append(("event", event))
            queue.kept += 1

    def _overflowed(self) -> bool:
        return self._queue.dropped > self._queue.dropped_reported

    def _quote(self, conid: int) -> LiveQuote | None:
        row = self._rows.get(conid)
        if row is None:
            return None
        quote = LiveQuote.from_json(row)
        return quote.model_copy(
            update={"received_at": self._received.get(conid), "stale": self._is_stale(conid)}
        )

    def _is_stale(self, conid: int) -> bool:
        return conid in self._stale

    def _require_open(self) -> None:
        if self._closed:
            raise StreamClosedError("the stream is closed")


_TRADES_REPLAY = 'str+{"days":1}'

_TOPIC_ON = {
    "sor": "sor+{}",
    "spl": "spl+{}",
    "str": 'str+{"realtimeUpdatesOnly":true,"days":1}',
}


def _session_busy(session: SessionManager) -> bool:
    """An order POST or question is open: nothing else may reach the gateway over REST."""
    return session.quiet


def _order_event(
    order_id: str, row: Mapping[str, Any], at: _dt.datetime, *, reconciled: bool
) -> OrderEvent:
    return OrderEvent(
        order_id=order_id,
        coid=_text(row.get("order_ref", row.get("cOID"))),
        status=_text(row.get("status", row.get("order_status"))),
        filled_quantity=parse_number(row.get("filledQuantity")),
        remaining_quantity=parse_number(row.get("remainingQuantity")),
        avg_price=parse_number(row.get("avgPrice")),
        conid=_int(row.get("conid")),
        row=dict(row),
        received_at=at,
        reconciled=reconciled,
    )


def _ms(when: _dt.datetime) -> float:
    return when.timestamp() * 1000


def _order_signature(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(
        parse_number(row.get(key)) if key in _NUMERIC_ORDER_KEYS else _text(row.get(key))
        for key in _ORDER_KEYS
    )


def _rows(args: object) -> list[Mapping[str, Any]]:
    if isinstance(args, dict):
        args = [args]
    return [row for row in args if isinstance(row, dict)] if isinstance(args, list) else []


def _row_conid(row: Mapping[str, Any]) -> int | None:
    return _int(row.get("conid", row.get("conidEx")))


def _topic_conid(topic: str) -> int | None:
    return _int(topic.partition("+")[2])


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _text(value: object) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    return text or None


def _conids(conids: int | str | Iterable[int | str]) -> list[int]:
    items: list[int | str] = [conids] if isinstance(conids, int | str) else list(conids)
    result: list[int] = []
    for item in items:
        value = _int(item)
        if value is None or value <= 0:
            raise InvalidRequestError(
                f"conids must be positive integers like 265598, got {item!r}", field="conids"
            )
        result.append(value)
    if not result:
        raise InvalidRequestError("give at least one conid", field="conids")
    return result


def _fields(fields: Sequence[int | str]) -> tuple[str, ...]:
    items = [fields] if isinstance(fields, int | str) else list(fields)
    tags = tuple(str(item).strip() for item in items)
    if not tags or not all(tag.isdigit() for tag in tags):
        raise InvalidRequestError(
            f"fields must be tags like '31' (last) or 84, got {fields!r}", field="fields"
        )
    return tuple(dict.fromkeys(tags))
