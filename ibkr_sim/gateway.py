"""``SimulatedGateway``: a Client Portal Gateway on loopback, misbehaviours included.

Real HTTPS with a self-signed certificate, IBKR's answer shapes, and the things that make
long-running bots fail: idle expiry, the nightly reset, competing logins, priming,
pacing with a penalty box, order questions that die when another request comes between,
plus scripted faults (refused connections, stalls, failures, lost answers). Time comes
from the injected ``Clock``, so a ``ManualClock`` drives both the client and this
gateway through a whole night in milliseconds.

A request goes: scripted failure? → pacing (429, penalty box) → scripted delay → session
effects of the passing time → route (HTML 404) → session guard (401, 503, "no bridge",
"Please query /accounts first") → endpoint → scripted drop of the answer. Every request
is recorded in ``requests``. All state changes happen under one lock.

The same port serves the WebSocket ``/v1/api/ws`` (``ibkr_sim.streams``: IBKR's stream
messages on the same clock, dark when the brokerage session is; faults ``drop_streams``
and ``silence_streams``; inspection ``stream_log`` and ``open_streams``).

Where IBKR documents nothing, the simulator picks what was observed (IBKR-FACTS); the
session refusals are listed in ``ibkr_sim.guard``; besides:

- brokerage session down: ``auth/status`` says ``connected: true, authenticated: false``
  until ssodh/init; a competing login: ``competing: true, authenticated: false`` until
  ssodh/init with ``compete: true``;
- the nightly reset starts at 01:00 region-local time and lasts ``reset_minutes``;
- pacing: 429 with an empty body from the IP limiter (then the penalty box); 429
  ``{"error": "Too many history charts requests, ..."}`` from the history service (no
  penalty box);
- an unknown or invalidated reply id: HTTP 400 ``{"error": "reply id not found: ..."}``;
- ``GET /iserver/account/orders`` answers an empty list the first time in a brokerage
  session and whenever ``force=true`` (the gateway rebuilding its order cache);
- ``delay_next`` stalls *before* processing: a client that times out still changed state.
"""

from __future__ import annotations

import datetime as _dt
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from ibkr_session.clock import Clock, SystemClock
from ibkr_session.logs import get_logger
from ibkr_sim.account_endpoints import AccountEndpoints
from ibkr_sim.book import Broker
from ibkr_sim.certs import SelfSignedCert, generate_self_signed
from ibkr_sim.faults import FaultPlan
from ibkr_sim.guard import refusal_for
from ibkr_sim.market import Market
from ibkr_sim.market_endpoints import MarketEndpoints
from ibkr_sim.nightly import NightlyReset
from ibkr_sim.order_endpoints import OrderEndpoints
from ibkr_sim.pacing import HISTORY_BUSY_MESSAGE, Admission, ServerPacing
from ibkr_sim.portfolio_endpoints import PortfolioEndpoints
from ibkr_sim.reference_endpoints import ReferenceEndpoints
from ibkr_sim.refusal import Refusal
from ibkr_sim.replies import (
    Reply,
    empty_reply,
    error_reply,
    json_reply,
    not_found_reply,
    scripted_reply,
)
from ibkr_sim.routing import Call, Route, RouteTable
from ibkr_sim.server import HttpsServer, IncomingRequest
from ibkr_sim.session_endpoints import SessionEndpoints
from ibkr_sim.session_model import SessionModel
from ibkr_sim.streams import StreamFrame, StreamHub

__all__ = ["SimRequest", "SimulatedGateway"]

log = get_logger(__name__)

_API_PREFIX = "/v1/api"


@dataclass(frozen=True)
class SimRequest:
    """One request as the gateway saw it.

    ``path`` is relative to ``/v1/api`` (``/iserver/accounts``) when the request was
    under it; ``status`` is the answer's status, or the one that would have been sent
    when ``dropped`` (the connection was closed instead of answering).
    """

    time: _dt.datetime
    method: str
    path: str
    query: dict[str, str]
    status: int
    dropped: bool = False


class SimulatedGateway:
    """A simulated IBKR Client Portal Gateway serving HTTPS on loopback.

    It starts as right after a user's login (SSO and brokerage session up, not yet
    primed), unless ``logged_in=False``. ``pacing=False`` turns off the 429 limits.
    """

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        region: str = "america",
        accounts: Sequence[str] = ("U1234567",),
        seed: int = 0,
        idle_timeout: float = 360.0,
        reset_minutes: float = 5.0,
        penalty_seconds: float = 600.0,
        cash: float = 1_000_000.0,
        logged_in: bool = True,
        questions_cancel_on_other_request: bool = True,
        pacing: bool = True,
    ) -> None:
        if penalty_seconds < 0:
            raise ValueError(f"penalty_seconds must not be negative, got {penalty_seconds}")
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._lock = threading.Lock()
        self.market = Market(self.clock, seed=seed)
        self.book = Broker(self.clock, self.market, accounts=accounts, cash=cash)
        self._session = SessionModel(
            accounts=accounts,
            idle_timeout=idle_timeout,
            reset=NightlyReset(region, reset_minutes),
            logged_in=logged_in,
            clock=self.clock,
            on_brokerage_lost=self.book.reset_session,
        )
        self._pacing = ServerPacing(penalty_seconds) if pacing else None
        self._faults = FaultPlan()
        self._routes = RouteTable(self._build_routes())
        self._requests: list[SimRequest] = []
        self._certificate: SelfSignedCert = generate_self_signed()
        self._streams = StreamHub(
            self.clock,
            self._lock,
            self._session,
            self.market,
            self.book,
            accounts=accounts,
            on_handshake=self._record_handshake,
            scripted=self._scripted_handshake,
        )
        self._server = HttpsServer(self._dispatch, self._tls_context(), self._streams.serve)
        self._questions_cancel = questions_cancel_on_other_request

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0: a free port) and return the base URL."""
        self._server.start(host, port)
        log.debug("sim.started", url=self.url)
        return self.url

    def stop(self) -> None:
        """Stop listening and close every connection (WebSockets included)."""
        self._streams.close()
        self._server.down()

    def __enter__(self) -> Self:
        if not self._server.listening:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``https://HOST:PORT`` (IPv6 hosts in brackets); the API is under ``/v1/api``."""
        host, port = self._server.address
        return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"

    @property
    def fingerprint(self) -> str:
        """The certificate's ``sha256:<hex>`` fingerprint, the form a pin takes."""
        return self._certificate.fingerprint

    @property
    def certificate_pem(self) -> bytes:
        """The PEM certificate, for clients that verify against it as a CA file."""
        return self._certificate.cert_pem

    # -- a human, another platform ---------------------------------------------------------

    def login(self) -> None:
        """A user logs in at the gateway: SSO and a fresh brokerage session."""
        with self._lock:
            self._session.login()

    def logout(self) -> None:
        """The SSO session ends: every request but ``/tickle`` answers 401."""
        with self._lock:
            self._session.logout()

    def expire_brokerage(self) -> None:
        """The idle timeout strikes now: ``authenticated=false`` until ssodh/init."""
        with self._lock:
            self._session.expire_brokerage()

    def start_competing(self) -> None:
        """The user logs in on another platform: ``competing=true``, ``/iserver/*`` fails."""
        with self._lock:
            self._session.start_competing()

    def stop_competing(self) -> None:
        """The other platform lets go; ssodh/init brings our brokerage session back."""
        with self._lock:
            self._session.stop_competing()

    def set_price(self, conid: int, price: float) -> None:
        """Move an instrument's last trade to ``price`` now; resting orders it crosses
        fill at once."""
        with self._lock:
            self.market.set_price(conid, price)
            self.book.process()
        self._streams.touch(prices=True)

    # -- faults ----------------------------------------------------------------------------

    def down(self) -> None:
        """Refuse connections (the listening socket closes) until ``up()``."""
        self._server.down()

    def up(self) -> None:
        """Accept connections again, on the same port."""
        self._server.up()

    def fail_next(
        self,
        n: int,
        status: int,
        body: object = None,
        *,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next ``n`` matching requests with ``status`` without processing them.

        ``body``: ``None`` for an empty body, ``bytes``/``str`` as text, else JSON.
        ``path`` is relative to ``/v1/api``, exact or an ``fnmatch`` pattern.
        """
        with self._lock:
            self._faults.fail(n, scripted_reply(status, body), method, path)

    def delay_next(self, n: int, seconds: float, *, path: str | None = None) -> None:
        """Stall the next ``n`` matching requests ``seconds`` of real time, then serve them."""
        with self._lock:
            self._faults.delay(n, seconds, path)

    def drop_after_accept(self, n: int = 1, *, path: str | None = None) -> None:
        """Process the next ``n`` matching requests fully, then close without answering."""
        with self._lock:
            self._faults.drop(n, path)

    def drop_streams(self) -> int:
        """Cut every open WebSocket at once, without a closing handshake; returns how many."""
        return self._streams.drop()

    def silence_streams(self, seconds: float) -> int:
        """Keep every open WebSocket open but mute (no ``hb``, no data, client messages
        unread) for ``seconds`` of the clock; returns how many."""
        return self._streams.silence(seconds)

    # -- inspection ------------------------------------------------------------------------

    @property
    def stream_log(self) -> list[StreamFrame]:
        """The WebSocket text frames sent and received (the latest 50,000), oldest first."""
        return self._streams.log

    @property
    def open_streams(self) -> int:
        """How many WebSockets are open now."""
        return self._streams.open_count

    @property
    def requests(self) -> list[SimRequest]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._requests)

    def executions_by_coid(self) -> dict[str, int]:
        """Fills per cOID, as of now: a safely retried order shows exactly 1."""
        with self._lock:
            self.book.process()
            return {coid: len(fills) for coid, fills in self.book.executions_by_coid().items()}

    @property
    def authenticated(self) -> bool:
        """Whether the brokerage session is up (as ``auth/status`` would say now)."""
        with self._lock:
            return self._session.authenticated

    # -- the request path ------------------------------------------------------------------

    def _dispatch(self, incoming: IncomingRequest) -> Reply | None:
        arrived = self.clock.now()
        method = incoming.method.upper()
        path = _api_path(incoming.path)
        logged_path = path if path is not None else incoming.path
        release_slot: Callable[[], None] | None = None
        with self._lock:
            delay = self._faults.delay_for(method, logged_path)
            reply = self._faults.failure_for(method, logged_path)
            if reply is None and path is not None and self._pacing is not None:
                admission = self._pacing.admit(method, path, self.clock.monotonic())
                reply = _pacing_refusal(admission)
                if admission.holds_history_slot:
                    release_slot = self._pacing.release_history
        try:
            if delay > 0:
                time.sleep(delay)
            if reply is None:
                reply = self._process_safely(method, path, incoming)
        finally:
            if release_slot is not None:
                with self._lock:
                    release_slot()
        with self._lock:
            dropped = self._faults.drop_for(method, logged_path)
            record = SimRequest(
                arrived, method, logged_path, dict(incoming.query), reply.status, dropped
            )
            self._requests.append(record)
        log.debug("sim.request", method=method, path=logged_path, status=reply.status)
        self._streams.touch()
        return None if dropped else reply

    def _scripted_handshake(self, raw_path: str) -> int | None:
        """``fail_next(..., path="/ws")`` refuses WebSocket handshakes with its status."""
        path = _api_path(raw_path)
        with self._lock:
            reply = self._faults.failure_for("GET", path if path is not None else raw_path)
        return reply.status if reply is not None else None

    def _record_handshake(self, raw_path: str, query: dict[str, str], status: int) -> None:
        """A WebSocket handshake is a request too: ``GET /ws``, 101 or its refusal."""
        path = _api_path(raw_path)
        record = SimRequest(
            self.clock.now(), "GET", path if path is not None else raw_path, dict(query), status
        )
        with self._lock:
            self._requests.append(record)
        log.debug("sim.request", method="GET", path=record.path, status=status)

    def _process_safely(self, method: str, path: str | None, incoming: IncomingRequest) -> Reply:
        """Like a real server, a failure inside an endpoint is a 500, not a lost socket."""
        with self._lock:
            try:
                return self._process(method, path, incoming)
            except Exception:
                log.exception("sim.endpoint_failed", method=method, path=incoming.path)
                return error_reply(500, "Internal Server Error", with_status_code=False)

    def _process(self, method: str, path: str | None, incoming: IncomingRequest) -> Reply:
        if path is None:
            return not_found_reply(incoming.path)
        self._session.observe()
        self.book.process()
        found = self._routes.find(method, path)
        if found is None:
            return not_found_reply(incoming.path)
        route, params = found
        refused = refusal_for(route, self._session)
        if refused is not None:
            return refused
        if self._questions_cancel and route.cancels_questions:
            self.book.cancel_pending_questions()
        try:
            return route.handler(Call(incoming, params))
        except Refusal as refusal:
            return json_reply(refusal.body, refusal.status)

    def _build_routes(self) -> list[Route]:
        return [
            *SessionEndpoints(self._session, self.book).routes(),
            *MarketEndpoints(self.market).routes(),
            *PortfolioEndpoints(self.book).routes(),
            *OrderEndpoints(self.book, self._session).routes(),
            *ReferenceEndpoints(self.market, self.book).routes(),
            *AccountEndpoints(self.book).routes(),
        ]

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # No TLS 1.3 session tickets: clients resume nothing on loopback, and tickets that
        # arrive while a client's reader thread and writer share the socket (websockets'
        # sync client) made its opening handshake hang now and then.
        context.num_tickets = 0
        with tempfile.TemporaryDirectory(prefix="ibkr-sim-") as folder:
            cert_file, key_file = Path(folder, "cert.pem"), Path(folder, "key.pem")
            cert_file.write_bytes(self._certificate.cert_pem)
            key_file.write_bytes(self._certificate.key_pem)
            key_file.chmod(0o600)
            context.load_cert_chain(cert_file, key_file)
        return context


def _api_path(raw_path: str) -> str | None:
    """The path below ``/v1/api`` (``/tickle``), or ``None`` outside the API."""
    if raw_path.startswith(_API_PREFIX + "/"):
        return raw_path[len(_API_PREFIX) :]
    return None


def _pacing_refusal(admission: Admission) -> Reply | None:
    if admission.history_busy:
        return error_reply(429, HISTORY_BUSY_MESSAGE)
    if not admission.admitted:
        return empty_reply(429)
    return None
