"""The gateway's WebSocket (``wss://HOST:PORT/v1/api/ws``): streams on the injected clock.

A client connects with the cookie ``api={"session":"<session from /tickle>"}`` (without it,
or with another session's id, the handshake is refused with 401; each handshake is logged
as a ``GET /ws`` request with its status) and then meets IBKR's messages
(``ibkr_sim.ws_messages``) and IBKR's misbehaviour (IBKR-FACTS §3a):

- on connect ``system`` hello, ``act`` (accounts) and ``sts``; then ``{"topic":"system",
  "hb":<ms>}`` every ``heartbeat`` seconds of the clock, dark or not;
- ``tic`` is answered and counts as activity (the idle expiry restarts, like ``/tickle``);
  ``ech+hb`` is echoed;
- ``smd`` answers from the market with changed fields only; the first message of a conid
  not yet subscribed in this brokerage session is its pre-flight (conid only), the fields
  follow; each ``smd`` ends silently ``smd_lifetime`` seconds (15 min) after it was asked
  for (asking again restarts it and resends every field);
- ``sor`` sends the orders live or changed in the last 24 h, then every order whose row
  changed (fills included); ``spl`` the P&L rows, then the rows that changed; ``str`` the
  executions of ``days`` days (unless ``realtimeUpdatesOnly``), then each new one;
- dark: ``/iserver`` data flows only while the brokerage session is authenticated. When
  it ends (nightly reset, idle expiry, ``expire_brokerage``, a competing login, logout)
  the socket stays open, sends ``sts`` (``authenticated: false``, ``competing`` as it is)
  and every data subscription dies with the session; subscriptions asked for while dark
  are ignored. No message says the session is back: after a new brokerage session the
  client must subscribe again;
- faults: ``drop()`` cuts every socket without a closing handshake; ``silence(seconds)``
  turns the open sockets into black holes (nothing sent, what arrives is lost, no pongs)
  for that long; the gateway's ``fail_next(path="/ws")`` refuses handshakes.

Time: each socket is served by its connection thread, which waits at most ``POLL``
real seconds for a client message and then looks at the clock. Whatever is due at the
clock's reading is sent then (heartbeat, expiry, session changes, data), so a
``ManualClock`` jump shows up within milliseconds, collapsed into one step (one heartbeat
however far the clock jumped). Data (quotes, orders, P&L, trades) is recomputed only when
the clock moved or the gateway changed something (``touch``), never on a real timer.
Before answering a client message everything due is sent first, so an ``ech+hb`` answer
is a barrier: what the clock made due before it was sent precedes the echo.
"""

from __future__ import annotations

import collections
import datetime as _dt
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from websockets.http11 import Request

from ibkr_session.clock import Clock
from ibkr_session.logs import get_logger
from ibkr_sim import ws_messages as msg
from ibkr_sim.book import Broker
from ibkr_sim.market import Market
from ibkr_sim.server import UpgradeRequest
from ibkr_sim.session_model import SessionModel
from ibkr_sim.ws_wire import WsSocket, accept_websocket

__all__ = ["POLL", "THREAD_PREFIX", "WS_PATH", "StreamFrame", "StreamHub"]

log = get_logger(__name__)

WS_PATH = "/v1/api/ws"
POLL = 0.005
"""Real seconds a stream waits for a client message before looking at the clock again."""
THREAD_PREFIX = "ibkr-sim-ws-"
"""The name of a thread serving a stream starts so (``ibkr-sim-ws-3``)."""
_LOG_LIMIT = 50_000  # the stream log keeps the latest frames only
_JOIN_TIMEOUT = 5.0
_ORDERS_MEMORY = 86_400.0  # sor's first message: live orders and those changed since


@dataclass(frozen=True)
class StreamFrame:
    """One text frame on one stream: ``direction`` is ``"sent"`` (gateway → client) or
    ``"received"``; ``time`` is the injected clock's reading."""

    time: _dt.datetime
    stream: int
    direction: str
    text: str

    def json(self) -> Any:
        """The frame as JSON (``None`` for a client's plain-text command)."""
        try:
            return json.loads(self.text)
        except ValueError:
            return None


@dataclass
class _Quotes:
    conid: int
    fields: tuple[str, ...]
    started: float
    sent: dict[str, Any] = field(default_factory=dict)  # tag → value as last sent
    asked: int = 0  # times the market was asked
    complete: bool = False  # past the pre-flight (or an unknown conid: nothing to come)


@dataclass
class _Stream:
    """One open socket and what it subscribed to."""

    number: int
    wire: WsSocket
    next_heartbeat: float
    generation: int
    reported: tuple[bool, bool, bool]  # (authenticated, competing, connected) last told
    lock: threading.Lock = field(default_factory=threading.Lock)
    closed: bool = False
    closing: bool = False  # the gateway stops: say goodbye and end
    silent_until: float | None = None
    seen: tuple[_dt.datetime, int] | None = None  # (clock, version) orders etc. were for
    prices_seen: tuple[_dt.datetime, int] | None = None  # (clock, price version) of quotes
    quotes: dict[int, _Quotes] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] | None = None  # orderId → row as last sent
    pnl: dict[str, dict[str, Any]] | None = None
    trades: set[str] | None = None  # execution ids sent (or skipped as history)

    def forget_subscriptions(self) -> None:
        self.quotes.clear()
        self.orders = self.pnl = self.trades = None


class StreamHub:
    """Every WebSocket of one gateway. The gateway's lock guards its session, market and
    broker; each stream has its own lock (taken before the gateway's) so faults and
    inspection never race a stream that is sending."""

    def __init__(
        self,
        clock: Clock,
        gateway_lock: threading.Lock,
        session: SessionModel,
        market: Market,
        broker: Broker,
        *,
        accounts: Sequence[str],
        on_handshake: Callable[[str, dict[str, str], int], None] | None = None,
        scripted: Callable[[str], int | None] | None = None,
        heartbeat: float = 10.0,
        smd_lifetime: float = 900.0,
    ) -> None:
        self._clock = clock
        self._gateway_lock = gateway_lock
        self._session = session
        self._market = market
        self._broker = broker
        self._accounts = tuple(accounts)
        self._on_handshake = on_handshake
        self._scripted = scripted
        self._heartbeat = heartbeat
        self._smd_lifetime = smd_lifetime
        self._lock = threading.Lock()
        self._streams: dict[int, _Stream] = {}
        self._threads: set[threading.Thread] = set()
        self._numbers = 0
        self._version = 0
        self._price_version = 0
        self._closed = False
        self._log: collections.deque[StreamFrame] = collections.deque(maxlen=_LOG_LIMIT)

    # -- control and inspection (any thread) ------------------------------------------------

    def touch(self, *, prices: bool = False) -> None:
        """The gateway served a request (orders, P&L and trades may have changed) or,
        with ``prices``, a price was set (quotes changed too): recompute what may have."""
        with self._lock:
            self._version += 1
            self._price_version += int(prices)

    def drop(self) -> int:
        """Cut every open socket without a closing handshake; returns how many."""
        streams = self._open()
        for stream in streams:
            with stream.lock:
                stream.closed = True
                stream.wire.abort()
        log.debug("sim.streams_dropped", count=len(streams))
        return len(streams)

    def silence(self, seconds: float) -> int:
        """Mute every open socket for ``seconds`` of the clock; returns how many."""
        if seconds < 0:
            raise ValueError(f"seconds must not be negative, got {seconds}")
        until = self._clock.monotonic() + seconds
        streams = self._open()
        for stream in streams:
            with stream.lock:
                stream.silent_until = until
        log.debug("sim.streams_silenced", count=len(streams), seconds=seconds)
        return len(streams)

    @property
    def log(self) -> list[StreamFrame]:
        """The latest frames sent and received (50,000 at most), oldest first."""
        with self._lock:
            return list(self._log)

    @property
    def open_count(self) -> int:
        return len(self._open())

    def close(self) -> None:
        """Close every stream (each says goodbye from its own thread: an SSL socket is
        never written by two threads) and wait for their threads."""
        with self._lock:
            self._closed = True
            streams = list(self._streams.values())
            threads = list(self._threads)
        for stream in streams:
            with stream.lock:
                stream.closing = True
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(_JOIN_TIMEOUT)
        for stream in streams:
            stream.wire.abort()  # one that did not answer in time

    # -- a connection's thread -------------------------------------------------------------

    def serve(self, upgrade: UpgradeRequest) -> None:
        """Run one WebSocket, on the connection's thread, until it closes.

        The thread is remembered (until it has ended) so that ``close`` can wait for it.
        """
        thread = threading.current_thread()
        with self._lock:
            if self._closed:
                return
            self._threads = {t for t in self._threads if t.is_alive()} | {thread}

        def answering(status: int) -> None:
            if self._on_handshake is not None:
                self._on_handshake(upgrade.path, upgrade.query, status)

        wire = accept_websocket(
            upgrade.connection,
            upgrade.head,
            lambda request: self._refusal(upgrade.path, request),
            answering,
        )
        if wire is None:
            return
        stream = self._open_stream(wire)
        if stream is None:
            return
        try:
            self._run(stream)
        finally:
            with self._lock:
                self._streams.pop(stream.number, None)
            wire.abort()

    def _refusal(self, path: str, request: Request) -> int | None:
        """The status refusing this handshake: a scripted failure (``fail_next``), a
        wrong path (404), no or another session's cookie (401); ``None`` accepts it."""
        scripted = self._scripted(path) if self._scripted is not None else None
        if scripted is not None:
            return scripted
        if path != WS_PATH:
            return HTTPStatus.NOT_FOUND
        cookie = msg.session_cookie(request.headers.get_all("Cookie"))
        with self._gateway_lock:
            session = self._session
            if not session.sso or cookie is None or cookie != session.sso_session_id:
                log.debug("sim.ws_refused", cookie_present=cookie is not None)
                return HTTPStatus.UNAUTHORIZED
        return None

    def _open_stream(self, wire: WsSocket) -> _Stream | None:
        with self._gateway_lock:
            self._session.catch_up()
            state = self._state()
            generation = self._session.generation
            accounts = self._broker.iserver_accounts(self._session.selected_account)
            server_info = self._session.auth_status().get("serverInfo")
        with self._lock:
            if self._closed:
                wire.abort()
                return None
            self._numbers += 1
            stream = _Stream(
                number=self._numbers,
                wire=wire,
                next_heartbeat=self._clock.monotonic() + self._heartbeat,
                generation=generation,
                reported=state,
            )
            self._streams[stream.number] = stream
        threading.current_thread().name = f"{THREAD_PREFIX}{stream.number}"
        log.debug("sim.stream_opened", stream=stream.number)
        with stream.lock:
            self._send(stream, msg.hello())
            if state[2]:
                self._send(stream, msg.act(accounts))
            self._send(stream, _status(state, server_info))
        return stream

    def _run(self, stream: _Stream) -> None:
        while True:
            with stream.lock:
                muted = self._muted(stream)  # pongs too: silence is a half-open socket
            received = stream.wire.receive(POLL, mute=muted)
            if received is None:
                return
            with stream.lock:
                if stream.closed:
                    return
                if stream.closing:
                    stream.wire.close()
                    return
                for text in received:
                    self._record(stream, "received", text)
                    if self._muted(stream):
                        continue  # a black hole: what arrives while mute is lost
                    self._update(stream)
                    self._answer(stream, msg.parse_command(text))
                self._update(stream)

    # -- what a stream sends (under the stream's lock) -------------------------------------

    def _muted(self, stream: _Stream) -> bool:
        if stream.silent_until is None:
            return False
        if self._clock.monotonic() < stream.silent_until:
            return True
        stream.silent_until = None
        return False

    def _update(self, stream: _Stream) -> None:
        """Send whatever the clock and the gateway made due since the last look."""
        if self._muted(stream) or stream.closed:
            return
        outgoing: list[dict[str, Any]] = []
        with self._lock:
            version, price_version = self._version, self._price_version
        with self._gateway_lock:
            now, monotonic = self._session.catch_up()
            state = self._state()
            dark = not state[0] or self._session.in_reset()
            if dark or self._session.generation != stream.generation:
                stream.forget_subscriptions()
                stream.generation = self._session.generation
            if state != stream.reported:
                if not state[0]:  # bad news only: IBKR sends no "restored"
                    outgoing.append(_status(state, self._session.auth_status().get("serverInfo")))
                stream.reported = state
            self._expire_quotes(stream, monotonic)
            if not dark:
                books = stream.seen != (now, version)
                prices = stream.prices_seen != (now, price_version)
                stream.seen, stream.prices_seen = (now, version), (now, price_version)
                outgoing += self._data(stream, now, prices=prices, books=books)
        if monotonic >= stream.next_heartbeat:
            outgoing.insert(0, msg.heartbeat(_ms(now)))
            stream.next_heartbeat = monotonic + self._heartbeat
        for message in outgoing:
            self._send(stream, message)

    def _expire_quotes(self, stream: _Stream, monotonic: float) -> None:
        for conid, quotes in list(stream.quotes.items()):
            if monotonic - quotes.started >= self._smd_lifetime:
                del stream.quotes[conid]  # silently, as IBKR does
                log.debug("sim.smd_ended", stream=stream.number, conid=conid)

    def _data(
        self, stream: _Stream, now: _dt.datetime, *, prices: bool, books: bool
    ) -> list[dict[str, Any]]:
        """What changed: quotes when ``prices`` moved (or still owe their fields); orders,
        P&L and trades when anything moved (``books``). Under the gateway lock."""
        out: list[dict[str, Any]] = []
        for quotes in stream.quotes.values():
            if prices or not quotes.complete:
                update = self._quote_update(quotes, now)
                if update is not None:
                    out.append(update)
        if not books:
            return out
        if stream.orders is not None or stream.pnl is not None or stream.trades is not None:
            self._broker.process()
        if stream.orders is not None:
            changed = _changed_orders(stream.orders, self._broker.orders()["orders"])
            if changed:
                out.append(msg.orders(changed))
        if stream.pnl is not None:
            rows = _changed_rows(stream.pnl, self._pnl_rows())
            if rows:
                out.append(msg.pnl(rows))
        if stream.trades is not None:
            fresh = [t for t in self._broker.trades() if t["execution_id"] not in stream.trades]
            stream.trades.update(t["execution_id"] for t in fresh)
            if fresh:
                out.append(msg.trades(fresh))
        return out

    def _quote_update(self, quotes: _Quotes, now: _dt.datetime) -> dict[str, Any] | None:
        """The fields that changed since last sent (the first time: whatever the market
        has, only the conid during the pre-flight); ``None`` when nothing changed."""
        row = self._market.snapshot_fields(quotes.conid, quotes.fields)
        quotes.asked += 1
        first = quotes.asked == 1
        quotes.complete = "server_id" in row or quotes.asked > 1
        changed = {
            tag: row[tag]
            for tag in quotes.fields
            if tag in row and quotes.sent.get(tag) != row[tag]
        }
        if not changed and not first:
            return None
        quotes.sent.update(changed)
        header: dict[str, Any] = {
            "conid": quotes.conid,
            "conidEx": str(quotes.conid),
            "_updated": _ms(now),
        }
        if "server_id" in row:
            header["server_id"] = row["server_id"]
        return msg.market_data(quotes.conid, {**header, **changed})

    # -- what a client asks ----------------------------------------------------------------

    def _answer(self, stream: _Stream, command: msg.Command) -> None:
        topic = command.topic
        if topic == "tic":
            with self._gateway_lock:
                self._session.observe()
                answer = msg.tic_answer(
                    alive=self._session.sso,
                    session_id=self._session.sso_session_id,
                    last_accessed_ms=_ms(self._session.last_request_at),
                )
            self._send(stream, answer)
        elif topic == "ech":
            self._send(stream, msg.echo())
        elif topic in ("umd", "uor", "upl", "utr"):
            self._unsubscribe(stream, command)
        elif topic in ("smd", "sor", "spl", "str"):
            self._subscribe(stream, command)
        else:
            log.debug("sim.ws_ignored", stream=stream.number, topic=topic)

    def _unsubscribe(self, stream: _Stream, command: msg.Command) -> None:
        if command.topic == "umd" and command.conid is not None:
            stream.quotes.pop(command.conid, None)
        elif command.topic == "uor":
            stream.orders = None
        elif command.topic == "upl":
            stream.pnl = None
        elif command.topic == "utr":
            stream.trades = None

    def _subscribe(self, stream: _Stream, command: msg.Command) -> None:
        out: list[dict[str, Any]] = []
        with self._gateway_lock:
            if not self._session.authenticated or self._session.in_reset():
                log.debug("sim.ws_dark_subscription", stream=stream.number, topic=command.topic)
                return
            now, monotonic = self._clock.now(), self._clock.monotonic()
            self._broker.process()
            if command.topic == "smd":
                quotes = _quotes_for(command, monotonic)
                if quotes is None:
                    return
                stream.quotes[quotes.conid] = quotes
                update = self._quote_update(quotes, now)
                if update is not None:
                    out.append(update)
            elif command.topic == "sor":
                stream.orders = {}
                recent = _ms(now) - _ORDERS_MEMORY * 1000
                rows = [
                    r
                    for r in self._broker.orders()["orders"]
                    if r["status"] in ("PreSubmitted", "Submitted")
                    or r["lastExecutionTime_r"] >= recent
                ]
                stream.orders.update({r["orderId"]: r for r in rows})
                out.append(msg.orders(rows))
            elif command.topic == "spl":
                stream.pnl = dict(self._pnl_rows())
                out.append(msg.pnl(stream.pnl))
            elif command.topic == "str":
                out += self._subscribe_trades(stream, command.args)
        for message in out:
            self._send(stream, message)

    def _subscribe_trades(self, stream: _Stream, args: Mapping[str, Any]) -> list[dict[str, Any]]:
        """``str``: the executions of the last ``days`` days (today's by default) first,
        unless ``realtimeUpdatesOnly``; then each new one."""
        days = args.get("days")
        rows = self._broker.trades(days=days if isinstance(days, int) else None)
        stream.trades = {t["execution_id"] for t in rows}
        if args.get("realtimeUpdatesOnly") is True:
            return []
        return [msg.trades(rows)]

    def _pnl_rows(self) -> dict[str, dict[str, Any]]:
        """``{"<acct>.Core": row}`` as ``/iserver/account/pnl/partitioned`` lists it (read
        from the portfolios: the endpoint's empty first answer is the endpoint's own)."""
        return {f"{a}.Core": self._broker.portfolio(a).pnl_row() for a in self._accounts}

    # -- helpers ---------------------------------------------------------------------------

    def _state(self) -> tuple[bool, bool, bool]:
        session = self._session
        return (session.authenticated, session.competing, session.sso)

    def _send(self, stream: _Stream, message: Mapping[str, Any]) -> None:
        text = msg.encode(message)
        if stream.wire.send_text(text):
            self._record(stream, "sent", text)

    def _record(self, stream: _Stream, direction: str, text: str) -> None:
        frame = StreamFrame(self._clock.now(), stream.number, direction, text)
        with self._lock:
            self._log.append(frame)

    def _open(self) -> list[_Stream]:
        with self._lock:
            return [s for s in self._streams.values() if not s.closed]


def _status(state: tuple[bool, bool, bool], server_info: object) -> dict[str, Any]:
    info = server_info if isinstance(server_info, Mapping) else {}
    return msg.status(
        authenticated=state[0], competing=state[1], connected=state[2], server_info=info
    )


def _quotes_for(command: msg.Command, monotonic: float) -> _Quotes | None:
    if command.conid is None:
        return None
    raw = command.args.get("fields", [])
    if not isinstance(raw, list):
        return None
    fields = tuple(dict.fromkeys(str(tag) for tag in raw))
    return _Quotes(command.conid, fields, monotonic)


def _changed_orders(
    sent: dict[int, dict[str, Any]], rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    changed = [r for r in rows if sent.get(r["orderId"]) != r]
    sent.update({r["orderId"]: r for r in changed})
    return changed


def _changed_rows(
    sent: dict[str, dict[str, Any]], rows: Mapping[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    changed = {key: row for key, row in rows.items() if sent.get(key) != row}
    sent.update(changed)
    return changed


def _ms(when: _dt.datetime) -> int:
    return int(when.timestamp() * 1000)
