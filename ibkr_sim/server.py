"""The wire: an HTTPS/1.1 server on loopback that hands each request to a dispatcher.

A real gateway is an HTTPS server with a self-signed certificate and keep-alive
connections, so clients meet real TLS handshakes, pooled connections, read timeouts and
refused connections. This module knows nothing about IBKR: it parses requests, writes
``Reply`` objects with an exact ``Content-Length``, can drop a connection without
answering, and can stop listening (``down``) so connects are refused, then listen again
on the same port (``up``). It logs through structlog at debug level, never on stderr.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from ibkr_session.logs import get_logger
from ibkr_sim.replies import Reply

__all__ = ["HttpsServer", "IncomingRequest", "UpgradeRequest", "Upgrader"]

log = get_logger(__name__)

_HANDSHAKE_TIMEOUT = 10.0
_KEEPALIVE_IDLE = 30.0
_POLL_INTERVAL = 0.02


@dataclass(frozen=True)
class IncomingRequest:
    """A parsed request: method, decoded path, query (last value wins), raw body."""

    method: str
    path: str
    query: dict[str, str]
    body: bytes


# ``None`` means: close the connection without answering.
Dispatcher = Callable[[IncomingRequest], Reply | None]


@dataclass(frozen=True)
class UpgradeRequest:
    """A ``GET`` asking for ``Upgrade: websocket``: the socket changes hands.

    ``head`` is the request line and headers as received (CRLF-terminated, ending with
    the blank line), so a WebSocket protocol can parse and answer the handshake itself;
    ``connection`` is the TLS socket, owned by the upgrader until it returns.
    """

    path: str
    query: dict[str, str]
    head: bytes
    connection: socket.socket


# Runs on the connection's thread for the WebSocket's whole life; the connection is
# closed when it returns.
Upgrader = Callable[[UpgradeRequest], None]


class HttpsServer:
    """A threaded HTTPS server that can be taken down and brought back on the same port."""

    def __init__(
        self, dispatch: Dispatcher, context: ssl.SSLContext, upgrade: Upgrader | None = None
    ) -> None:
        self._dispatch = dispatch
        self._upgrade = upgrade
        self._context = context
        self._address: tuple[str, int] | None = None
        self._listener: _Listener | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def address(self) -> tuple[str, int]:
        if self._address is None:
            raise RuntimeError("the server has not been started")
        return self._address

    @property
    def listening(self) -> bool:
        return self._listener is not None

    def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen on ``host:port`` (0 picks a free port); return the bound address."""
        if self._listener is not None:
            raise RuntimeError("the server is already listening")
        self._listen(host, port)
        return self.address

    def down(self) -> None:
        """Stop listening and cut open connections: clients now get connection refused."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.shutdown()
            listener.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            _cut(connection)

    def up(self) -> None:
        """Listen again on the address of ``start``."""
        if self._listener is None:
            host, port = self.address
            self._listen(host, port)

    def _listen(self, host: str, port: int) -> None:
        listener = _Listener(self, host, port)
        bound_host, bound_port = listener.server_address[:2]
        self._address = (str(bound_host), int(bound_port))
        self._listener = listener
        self._thread = threading.Thread(
            target=listener.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL},
            name=f"ibkr-sim-{bound_port}",
            daemon=True,
        )
        self._thread.start()

    # -- called from connection threads ---------------------------------------------------

    def serve_connection(self, raw: socket.socket, peer: Any, listener: _Listener) -> None:
        """TLS handshake, then HTTP/1.1 requests until the client or ``down`` closes."""
        raw.settimeout(_HANDSHAKE_TIMEOUT)
        try:
            connection = self._context.wrap_socket(raw, server_side=True)
        except OSError as exc:  # ssl.SSLError included
            log.debug("sim.tls_handshake_failed", peer=peer, error=str(exc))
            raw.close()
            return
        with self._lock:
            self._connections.add(connection)
        try:
            _Handler(connection, peer, listener)
        except OSError as exc:
            log.debug("sim.connection_error", peer=peer, error=str(exc))
        finally:
            with self._lock:
                self._connections.discard(connection)
            connection.close()

    def dispatch(self, request: IncomingRequest) -> Reply | None:
        return self._dispatch(request)

    def upgrade(self, request: UpgradeRequest) -> bool:
        """Hand a WebSocket upgrade to the upgrader; ``False`` when there is none."""
        if self._upgrade is None:
            return False
        self._upgrade(request)
        return True


class _Listener(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, owner: HttpsServer, host: str, port: int) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.owner = owner
        super().__init__((host, port), _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        self.owner.serve_connection(request, client_address, self)

    def shutdown_request(self, request: Any) -> None:
        # The connection thread closed the TLS socket; the raw one was detached by it.
        pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("sim.connection_error", peer=client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = _KEEPALIVE_IDLE
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stall

    def do_GET(self) -> None:
        if "websocket" in self.headers.get("Upgrade", "").lower() and self._upgrade():
            return
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        request = IncomingRequest(
            method=self.command,
            path=unquote(parts.path),
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            body=self._read_body(),
        )
        reply = cast(_Listener, self.server).owner.dispatch(request)
        if reply is None:
            self.close_connection = True
            _cut(self.connection)
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def _upgrade(self) -> bool:
        """Give the socket to the WebSocket side; the connection ends when it is done."""
        parts = urlsplit(self.path)
        lines = [f"{self.requestline}\r\n".encode("latin-1")]
        lines += [f"{name}: {value}\r\n".encode("latin-1") for name, value in self.headers.items()]
        request = UpgradeRequest(
            path=unquote(parts.path),
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            head=b"".join([*lines, b"\r\n"]),
            connection=self.connection,
        )
        upgraded = cast(_Listener, self.server).owner.upgrade(request)
        if upgraded:
            self.close_connection = True
        return upgraded

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is not None:
            return self.rfile.read(int(length))
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        return b""

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silent: the gateway records and logs every request itself."""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("sim.http", line=format % args)


def _cut(connection: socket.socket) -> None:
    """Close a connection at once, without a TLS goodbye: the peer sees it dropped."""
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
