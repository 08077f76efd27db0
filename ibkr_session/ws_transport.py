"""The gateway's WebSocket (``wss://host:port/v1/api/ws``): the second transport.

It rides the same sessions as REST (IBKR-FACTS §3a) and obeys the same trust rules
(DESIGN §5), decided once by ``tls.decide_trust`` for the manager:

- loopback gateway: the self-signed certificate is accepted, quietly;
- ``pin=``: the handshake is unverified but the certificate's SHA-256 fingerprint must
  match, checked on every new connection before a single frame is read; a mismatch is
  ``GatewayUnreachableError`` (surely nothing sent), as for REST;
- ``verify=<CA file>`` / ``verify=True``: ordinary chain and hostname verification;
- ``insecure=True``: unverified (the manager already logged that choice).

The socket is authenticated by the cookie ``api={"session":"<session from /tickle>"}``.
``websockets``' own keep-alive pings are off: time is the session's clock, and the
stream's watchdog on the gateway's ``hb`` decides when a socket is dead, half-open ones
included. Proxies from the environment are ignored (a proxy would bypass the pin).

``WsConnection`` is the seam the stream talks to: ``receive(timeout)`` returns one text
message or ``None`` when none came within ``timeout`` real seconds, and raises
``ConnectionLostError`` once the socket is closed or broken; ``send`` raises it too.
Only the stream's reader thread touches a connection (``close`` may come from anywhere).
"""

from __future__ import annotations

import hashlib
import json
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import websockets.exceptions
import websockets.sync.client

from ibkr_session.errors import GatewayUnreachableError
from ibkr_session.logs import get_logger
from ibkr_session.tls import (
    PinnedAdapter,
    TrustDecision,
    parse_gateway_url,
)

if TYPE_CHECKING:
    from ibkr_session.manager import SessionManager

__all__ = [
    "WS_PATH",
    "ConnectionLostError",
    "Connector",
    "WebSocketConnector",
    "WsConnection",
    "session_cookie",
    "ssl_context",
    "trust_of",
    "websocket_url",
]

log = get_logger(__name__)

WS_PATH = "/v1/api/ws"
MAX_MESSAGE = 4 << 20
"""A full ``sor`` snapshot of a busy account is large; 4 MiB is ample and still bounded."""
MAX_QUEUE = 4096
"""Messages buffered ahead of the reader; beyond it the socket is not read (TCP pushes
back), so a stalled reader never means unbounded memory."""


class ConnectionLostError(Exception):
    """The WebSocket closed or broke; ``reason`` says how (for the gap it starts)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WsConnection(Protocol):
    """One open WebSocket, as the stream's reader thread uses it."""

    def send(self, text: str) -> None:
        """Send one text frame; ``ConnectionLostError`` if the socket is gone."""
        ...

    def receive(self, timeout: float) -> str | None:
        """One text message, or ``None`` after ``timeout`` real seconds without one."""
        ...

    def close(self) -> None:
        """Close (best effort, never raises)."""
        ...


Connector = Callable[[str], WsConnection]
"""Opens a connection authenticated by the given ``/tickle`` session id."""


def websocket_url(gateway_url: str) -> str:
    """``https://host:port`` (as the manager has it) → ``wss://host:port/v1/api/ws``."""
    address = parse_gateway_url(gateway_url)
    return "wss://" + address.root[len("https://") :] + WS_PATH


def session_cookie(session_id: str) -> str:
    """The ``Cookie`` header value the gateway's WebSocket checks."""
    return "api=" + json.dumps({"session": session_id}, separators=(",", ":"))


def ssl_context(trust: TrustDecision) -> tuple[ssl.SSLContext, str | None]:
    """The REST trust decision as an ``SSLContext`` plus the pinned fingerprint (hex) that
    every connection must present, or ``None`` when no pin applies."""
    fingerprint = getattr(trust.adapter, "_fingerprint", None)
    if isinstance(trust.adapter, PinnedAdapter) and isinstance(fingerprint, str):
        return _unverified(), fingerprint
    if isinstance(trust.verify, str):
        return ssl.create_default_context(cafile=trust.verify), None
    if trust.verify is True:
        return ssl.create_default_context(), None
    # Loopback, or insecure=True (already logged when it was decided).
    return _unverified(), None


def trust_of(manager: SessionManager) -> TrustDecision:
    """The manager's trust decision: the socket trusts exactly what REST trusts."""
    return manager.trust


def _unverified() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class WebSocketConnector:
    """Opens ``wss://.../v1/api/ws`` connections for one manager (a ``Connector``)."""

    def __init__(self, manager: SessionManager, *, open_timeout: float = 10.0) -> None:
        self.url = websocket_url(manager.gateway_url)
        self._context, self._fingerprint = ssl_context(trust_of(manager))
        self._open_timeout = open_timeout

    def __call__(self, session_id: str) -> WsConnection:
        try:
            opened = websockets.sync.client.connect(
                self.url,
                ssl=self._context,
                additional_headers={"Cookie": session_cookie(session_id)},
                proxy=None,
                compression=None,
                open_timeout=self._open_timeout,
                ping_interval=None,
                ping_timeout=None,
                close_timeout=1.0,
                max_size=MAX_MESSAGE,
                max_queue=MAX_QUEUE,
            )
            # Entered once, closed by ``_Client.close``: the connection outlives this call.
            connection = opened.__enter__()
        except (OSError, websockets.exceptions.WebSocketException, TimeoutError) as exc:
            raise GatewayUnreachableError(
                f"cannot open the WebSocket {self.url}: {_describe(exc)}"
            ) from exc
        if self._fingerprint is not None:
            self._check_pin(connection)
        log.debug("stream.ws_open", url=self.url)
        return _Client(connection)

    def _check_pin(self, connection: websockets.sync.client.ClientConnection) -> None:
        sock = connection.socket
        der = sock.getpeercert(binary_form=True) if isinstance(sock, ssl.SSLSocket) else None
        seen = hashlib.sha256(der).hexdigest() if der else None
        if seen != self._fingerprint:
            connection.close()
            raise GatewayUnreachableError(
                f"the WebSocket {self.url} presented certificate sha256:{seen}, not the "
                f"pinned sha256:{self._fingerprint}; nothing was sent"
            )


class _Client:
    """``WsConnection`` over ``websockets``' sync client."""

    def __init__(self, connection: websockets.sync.client.ClientConnection) -> None:
        self._connection = connection

    def send(self, text: str) -> None:
        try:
            self._connection.send(text)
        except (OSError, websockets.exceptions.WebSocketException) as exc:
            raise ConnectionLostError(_describe(exc)) from exc

    def receive(self, timeout: float) -> str | None:
        try:
            message = self._connection.recv(timeout=timeout)
        except TimeoutError:
            return None
        except (OSError, websockets.exceptions.WebSocketException) as exc:
            raise ConnectionLostError(_describe(exc)) from exc
        return message if isinstance(message, str) else message.decode("utf-8", "replace")

    def close(self) -> None:
        try:
            self._connection.close()
        except Exception as exc:  # closing a broken socket may fail in many ways
            log.debug("stream.ws_close_failed", error=str(exc))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, websockets.exceptions.ConnectionClosed):
        return "connection closed" + (f" ({exc.rcvd.code})" if exc.rcvd is not None else "")
    if isinstance(exc, websockets.exceptions.InvalidStatus):
        return f"handshake refused with HTTP {exc.response.status_code}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
