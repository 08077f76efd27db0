"""Fakes for the stream's unit tests: a socket, a gateway that hands them out, a session
and a client. The stream is driven step by step (``start=False``, ``pump``), on a
``ManualClock``, so every test is deterministic."""

from __future__ import annotations

import datetime as dt
import json
from collections import deque
from collections.abc import Callable
from typing import Any, cast

from ibkr_api.stream import Stream, StreamEvent
from ibkr_session import ManualClock
from ibkr_session.errors import GatewayUnreachableError, ResetWindowError
from ibkr_session.state import SessionState
from ibkr_session.ws_transport import ConnectionLostError

START = dt.datetime(2026, 1, 5, 15, 0, tzinfo=dt.UTC)


class FakeSocket:
    """One WebSocket: ``push`` what the gateway says, read ``sent`` for what we said."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.inbox: deque[str] = deque()
        self.sent: list[str] = []
        self.closed = False
        self.broken = False

    def push(self, message: dict[str, Any]) -> None:
        self.inbox.append(json.dumps(message))

    def send(self, text: str) -> None:
        if self.closed or self.broken:
            raise ConnectionLostError("connection closed")
        self.sent.append(text)

    def receive(self, timeout: float) -> str | None:
        if self.broken:
            raise ConnectionLostError("connection reset")
        if self.closed:
            raise ConnectionLostError("connection closed")
        return self.inbox.popleft() if self.inbox else None

    def close(self) -> None:
        self.closed = True


class FakeGateway:
    """The connector: every call opens a new ``FakeSocket`` (or fails while ``down``)."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.sockets: list[FakeSocket] = []
        self.attempts: list[float] = []
        self.down = False

    def __call__(self, session_id: str) -> FakeSocket:
        self.attempts.append(self.clock.monotonic())
        if self.down:
            raise GatewayUnreachableError("connection refused")
        sock = FakeSocket(session_id)
        sock.push({"topic": "system", "success": "user1"})
        self.sockets.append(sock)
        return sock

    @property
    def current(self) -> FakeSocket:
        return self.sockets[-1]


class FakeSession:
    """What the stream uses of a ``SessionManager``; ``state`` is set by the test."""

    gateway_url = "https://localhost:5000"
    takes_over = False

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self._state = SessionState.AUTHENTICATED
        self.brokerage_generation = 1
        self.requests: list[tuple[str, str]] = []
        self.refreshes = 0
        self.listeners: list[Callable[[SessionState, SessionState, str], None]] = []
        self.quiet = False
        self.heard: list[tuple[bool, bool]] = []
        self.contacts = 0

    @property
    def state(self) -> SessionState:
        return self._state

    def set_state(self, new: SessionState, reason: str = "test") -> None:
        old, self._state = self._state, new
        for listener in self.listeners:
            listener(old, new, reason)

    def on_transition(
        self, callback: Callable[[SessionState, SessionState, str], None]
    ) -> Callable[[], None]:
        self.listeners.append(callback)
        return lambda: self.listeners.remove(callback)

    def hear(self, status: Any, source: str) -> SessionState:
        self.heard.append((status.authenticated, status.competing))
        return self._state

    def note_contact(self) -> None:
        self.contacts += 1

    def ensure_ready(self) -> None:
        self.request("GET", "/iserver/accounts")

    def refresh(self) -> SessionState:
        self.refreshes += 1
        return self._state

    def request(self, method: str, path: str, **_: Any) -> Any:
        self.requests.append((method, path))
        if self._state is SessionState.RESET_WINDOW:
            raise ResetWindowError(
                "window", retry_after=60.0, resumes_at=self.clock.now() + dt.timedelta(minutes=1)
            )
        if path == "/tickle":
            return {"session": f"sess{self.brokerage_generation}", "iserver": {}}
        return {}


class FakeClient:
    """``session`` plus the two REST reads a stream repairs gaps with."""

    def __init__(self, clock: ManualClock) -> None:
        self.session = FakeSession(clock)
        self.prices: dict[int, dict[str, str]] = {}
        self.live_orders: list[dict[str, Any]] = []
        self.snapshots: list[list[int]] = []
        self.order_reads = 0

    def get_market_snapshot(self, conids: list[int], fields: Any = None) -> list[Any]:
        self.snapshots.append(list(conids))
        return [{"conid": conid, **self.prices.get(conid, {})} for conid in conids]

    def get_orders(self) -> Any:
        self.order_reads += 1
        return {"orders": [dict(order) for order in self.live_orders], "snapshot": True}


class Rig:
    """A stream over the fakes, pumped by hand."""

    def __init__(self, **options: Any) -> None:
        self.clock = ManualClock(START)
        self.client = FakeClient(self.clock)
        self.session = self.client.session
        self.gateway = FakeGateway(self.clock)
        options.setdefault("poll", 0.001)
        options.setdefault("watchdog_grace", 0.0)
        self.stream = Stream(cast(Any, self.client), connector=self.gateway, start=False, **options)

    def pump(self, steps: int = 3) -> None:
        for _ in range(steps):
            self.stream._step()

    def advance(self, seconds: float, *, step: float = 1.0, heartbeat: bool = True) -> None:
        """Let ``seconds`` pass, pumping each ``step``; the gateway beats every 10 s."""
        elapsed = 0.0
        while elapsed < seconds:
            self.clock.advance(step)
            elapsed += step
            beat = int(self.clock.monotonic()) // 10 != int(self.clock.monotonic() - step) // 10
            if heartbeat and self.gateway.sockets and beat:
                sock = self.gateway.current
                if not sock.closed:
                    sock.push({"topic": "system", "hb": 1})
            self.pump(2)

    def drain(self) -> list[StreamEvent]:
        events = []
        while (event := self.stream.next_event(0)) is not None:
            events.append(event)
        return events


def smd(conid: int, **fields: str) -> dict[str, Any]:
    return {"topic": f"smd+{conid}", "conid": conid, "server_id": "q0", **fields}


def sor(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"topic": "sor", "args": list(rows)}


def test_the_fake_gateway_says_hello_on_connect() -> None:
    rig = Rig()
    rig.pump()
    assert rig.gateway.current.session_id == "sess1"
    assert rig.gateway.current.inbox == deque()  # the hello was read
