"""A hostile gateway: HTTPS/1.1 on loopback written with ``ssl`` + ``socketserver`` alone.

It answers like a healthy Client Portal Gateway (IBKR-FACTS shapes, a small order book that
refuses a reused cOID as IBKR does) unless a *fault* matches the request; then it answers
with whatever the fault scripts: any status, headers and bytes, trickled in real time,
cut after the status line, cut without an answer, a gzip bomb (20 MiB), JSON nested past any
stack, a login page, a redirect, a ``Retry-After`` of 1e308... ``stall_handshake=True``
accepts TCP connections and never speaks TLS; ``trickle_handshake=True`` begins a TLS
handshake and trickles it a byte at a time.

Nothing here is shared with the client or the simulator: it is written from the facts,
so it cannot share their misunderstandings. Faults state whether the gateway *acted* on
the request before answering badly (an order booked, then the answer lost) or refused it.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import re
import socket
import socketserver
import ssl
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ibkr_sim.certs import generate_self_signed

ACCOUNT = "U1234567"
API = "/v1/api"

Predicate = Callable[["Request"], bool]


@dataclass(frozen=True)
class Request:
    """One request as the gateway read it; ``path`` is relative to ``/v1/api``."""

    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass(frozen=True)
class Reply:
    """What to write back. ``trickle=(n, seconds)`` writes n bytes per step."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = "application/json; charset=utf-8"
    trickle: tuple[int, float] | None = None
    close_after_status_line: bool = False
    close_without_answer: bool = False
    close_after: bool = False
    declare_length: bool = True


def json_reply(value: Any, status: int = 200, **headers: str) -> Reply:
    return Reply(status=status, body=json.dumps(value).encode(), headers=dict(headers))


# -- the kinds of bad answer --------------------------------------------------------------


@dataclass(frozen=True)
class BadAnswer:
    """A kind of bad answer; ``acts``: the gateway did what was asked before answering."""

    name: str
    reply: Callable[[], Reply]
    acts: bool
    slow: bool = False  # costs real time (trickles): kept out of the fast matrix


@functools.cache
def _gzip_bomb() -> bytes:
    """20 MiB of zeros (past the default 16 MiB answer limit) in ~20 KiB of gzip."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: with a gzip header
    chunk = b"\0" * 2**20
    return b"".join(packer.compress(chunk) for _ in range(20)) + packer.flush()


def _html(text: str, status: int = 200) -> Reply:
    return Reply(status=status, body=text.encode(), content_type="text/html; charset=utf-8")


_LOGIN_PAGE = (
    "<!DOCTYPE html><html><head><title>Client Portal Login</title></head><body>"
    '<form action="/sso/Login" method="post"><input name="user">'
    '<input type="password" name="password"></form></body></html>'
)
_HUGE = "9" * 4000  # parses (under Python's 4300-digit limit), overflows any float

BAD_ANSWERS: tuple[BadAnswer, ...] = (
    BadAnswer("empty-200", lambda: Reply(body=b""), acts=True),
    BadAnswer("empty-object", lambda: json_reply({}), acts=True),
    BadAnswer("empty-list", lambda: json_reply([]), acts=True),
    BadAnswer("null", lambda: Reply(body=b"null"), acts=True),
    BadAnswer("a-string", lambda: json_reply("ok"), acts=True),
    BadAnswer("a-number", lambda: json_reply(5), acts=True),
    BadAnswer("error-not-a-string", lambda: json_reply({"error": 5}), acts=True),
    BadAnswer("wrong-shapes", lambda: json_reply([{"id": 7, "message": 3}, None]), acts=True),
    BadAnswer("truncated-json", lambda: Reply(body=b'{"orders": [{"orderId'), acts=True),
    BadAnswer("not-utf8", lambda: Reply(body=b'{"a": "\xff\xfe"}'), acts=True),
    BadAnswer("nan-tokens", lambda: Reply(body=b'[{"31": NaN, "conid": Infinity}]'), acts=True),
    BadAnswer("html-200", lambda: _html("<html><body>Maintenance</body></html>"), acts=True),
    BadAnswer("html-login-page", lambda: _html(_LOGIN_PAGE), acts=False),
    BadAnswer(
        "302-to-login",
        lambda: Reply(
            status=302, headers={"Location": "/sso/Login?forwardTo=22&RL=1"}, content_type=None
        ),
        acts=False,
    ),
    BadAnswer("html-404", lambda: _html("<html><h1>404 Not Found</h1></html>", 404), acts=False),
    BadAnswer("401-empty", lambda: Reply(status=401, content_type="text/plain"), acts=False),
    BadAnswer("empty-503", lambda: Reply(status=503, content_type=None), acts=True),
    BadAnswer("500-error", lambda: json_reply({"error": "Internal Server Error"}, 500), acts=True),
    BadAnswer(
        "429-retry-after-1e308",
        lambda: Reply(status=429, headers={"Retry-After": "1e308"}),
        acts=False,
    ),
    BadAnswer(
        "429-retry-after-a-day",
        lambda: Reply(status=429, headers={"Retry-After": "86400"}),
        acts=False,
    ),
    BadAnswer(
        "429-retry-after-garbage",
        lambda: Reply(status=429, headers={"Retry-After": "-1e999, soon"}),
        acts=False,
    ),
    BadAnswer("deep-nesting", lambda: Reply(body=b"[" * 200_000 + b"]" * 200_000), acts=True),
    BadAnswer("nesting-500", lambda: Reply(body=b"[" * 500 + b"]" * 500), acts=True),
    BadAnswer(
        "int-past-4300-digits", lambda: Reply(body=b'{"conid": ' + b"9" * 5000 + b"}"), acts=True
    ),
    BadAnswer(
        "huge-ints",
        lambda: Reply(
            body=(
                f'[{{"order_id": {_HUGE}, "orderId": {_HUGE}, "conid": {_HUGE}, '
                f'"31": {_HUGE}, "totalSize": {_HUGE}, "order_ref": {_HUGE}}}]'
            ).encode()
        ),
        acts=True,
    ),
    BadAnswer(
        "gzip-bomb",
        lambda: Reply(body=_gzip_bomb(), headers={"Content-Encoding": "gzip"}),
        acts=True,
    ),
    BadAnswer(
        "brotli-unasked", lambda: Reply(body=b"xx", headers={"Content-Encoding": "br"}), acts=True
    ),
    BadAnswer("close-after-status-line", lambda: Reply(close_after_status_line=True), acts=True),
    BadAnswer("close-without-answer", lambda: Reply(close_without_answer=True), acts=True),
    BadAnswer(
        "short-body-then-close",
        lambda: Reply(
            body=b'{"a": 1}',
            headers={"Content-Length": "500"},
            close_after=True,
            declare_length=False,
        ),
        acts=True,
    ),
    BadAnswer(
        "trickled-headers",
        lambda: Reply(body=b'{"a": 1}', trickle=(8, 0.05)),
        acts=True,
        slow=True,
    ),
    BadAnswer(
        "trickled-body",
        lambda: Reply(body=b"[" + b"1," * 4000 + b"1]", trickle=(40, 0.05)),
        acts=True,
        slow=True,
    ),
)


# -- the server ---------------------------------------------------------------------------


@dataclass
class _Fault:
    matches: Predicate
    reply: Callable[[], Reply]
    acts: bool
    times: int | None


class HostileGateway:
    """Start with ``start()`` (or as a context manager); ``url`` is ``https://127.0.0.1:N``."""

    def __init__(self, *, stall_handshake: bool = False, trickle_handshake: bool = False) -> None:
        self.stall_handshake = stall_handshake
        self.trickle_handshake = trickle_handshake
        self.requests: list[Request] = []
        self.book: dict[str, dict[str, Any]] = {}  # cOID -> order
        self.placements: list[str] = []  # every cOID the book accepted, in order
        self.connections: list[str] = []  # one entry per TLS connection accepted
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._order_ids = itertools.count(1_000_000_001)
        self._server: socketserver.ThreadingTCPServer | None = None
        self._context = _server_context()
        self.url = ""

    # -- control ---------------------------------------------------------------------------

    def start(self) -> str:
        gateway = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                gateway._serve(self.request)

        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        threading.Thread(
            target=server.serve_forever, args=(0.05,), daemon=True, name="hostile"
        ).start()
        self.url = f"https://127.0.0.1:{server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> HostileGateway:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fault(
        self,
        matches: Predicate | str,
        reply: Callable[[], Reply],
        *,
        acts: bool = True,
        times: int | None = None,
    ) -> None:
        """Answer requests that ``matches`` (a predicate or a path regex) with ``reply``."""
        if isinstance(matches, str):
            pattern = re.compile(matches)
            predicate: Predicate = lambda request: pattern.fullmatch(request.path) is not None  # noqa: E731
        else:
            predicate = matches
        with self._lock:
            self._faults.append(_Fault(predicate, reply, acts, times))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def bad_answer(self, kind: BadAnswer, matches: Predicate | str) -> None:
        self.fault(matches, kind.reply, acts=kind.acts)

    def sent(self, method: str, pattern: str) -> list[Request]:
        regex = re.compile(pattern)
        return [r for r in self.requests if r.method == method and regex.fullmatch(r.path)]

    # -- one connection ----------------------------------------------------------------------

    def _serve(self, raw: socket.socket) -> None:
        if self.stall_handshake:
            self._stopping.wait(30)
            return
        if self.trickle_handshake:
            # A TLS record header announcing 16 KiB of handshake, then a byte every 50 ms
            # for 3 s: each read gets data in time, so no per-read timeout ever fires.
            with contextlib.suppress(OSError):
                raw.sendall(b"\x16\x03\x03\x40\x00")
                for _ in range(60):
                    if self._stopping.wait(0.05):
                        break
                    raw.sendall(b"\x00")
            return
        raw.settimeout(10)
        try:
            conn = self._context.wrap_socket(raw, server_side=True)
            peer = str(conn.getpeername())
        except (OSError, ssl.SSLError):
            return
        with self._lock:
            self.connections.append(peer)
        try:
            reader = conn.makefile("rb")
            while not self._stopping.is_set():
                request = _read_request(reader)
                if request is None:
                    return
                reply, close = self._answer(request)
                if not _write(conn, reply, self._stopping) or close:
                    return
        except (OSError, ssl.SSLError, ValueError):
            return
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def _answer(self, request: Request) -> tuple[Reply, bool]:
        with self._lock:
            self.requests.append(request)
            fault = next((f for f in self._faults if f.matches(request)), None)
            if fault is not None and fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
            if fault is None or fault.acts:
                normal = self._normal(request)
        if fault is None:
            return normal, False
        reply = fault.reply()
        closes = reply.close_after or reply.close_after_status_line or reply.close_without_answer
        return reply, closes

    # -- the healthy gateway -----------------------------------------------------------------

    def _normal(self, request: Request) -> Reply:
        method, path, body = request.method, request.path, request.body
        auth = {"authenticated": True, "competing": False, "connected": True, "message": ""}
        if path == "/tickle":
            tickle = {"session": "s1", "ssoExpires": 600000, "iserver": {"authStatus": auth}}
            return json_reply(tickle)
        if path.startswith("/iserver/auth/"):
            return json_reply(auth)
        if path == "/iserver/accounts":
            return json_reply({"accounts": [ACCOUNT], "selectedAccount": ACCOUNT})
        if path == "/iserver/account" and method == "POST":
            return json_reply({"set": True, "acctId": (body or {}).get("acctId")})
        if path in ("/portfolio/accounts", "/portfolio/subaccounts"):
            return json_reply([{"id": ACCOUNT, "accountId": ACCOUNT, "currency": "USD"}])
        if re.fullmatch(r"/portfolio/[^/]+/summary", path):
            value = {"amount": 1e5, "currency": "USD", "isNull": False}
            return json_reply({"netliquidation": value})
        if re.fullmatch(r"/portfolio/[^/]+/ledger", path):
            value = {"cashbalance": 1e5, "currency": "BASE", "key": "LedgerList"}
            return json_reply({"BASE": value})
        if re.fullmatch(r"/portfolio/[^/]+/positions/\d+", path):
            return json_reply([])
        if path == "/iserver/marketdata/snapshot":
            conids = request.query.get("conids", "").split(",")
            fields = request.query.get("fields", "31").split(",")
            return json_reply([{"conid": int(c), **dict.fromkeys(fields, "1.00")} for c in conids])
        if path == "/iserver/marketdata/history":
            bar = {"o": 1.0, "c": 1.0, "h": 1.0, "l": 1.0, "v": 1.0, "t": 1767625200000}
            return json_reply({"symbol": "AAPL", "data": [bar], "points": 1})
        if path == "/iserver/secdef/search":
            return json_reply([{"conid": "265598", "symbol": "AAPL", "companyName": "APPLE"}])
        if re.fullmatch(r"/iserver/contract/\d+/info", path):
            return json_reply({"con_id": 265598, "symbol": "AAPL", "exchange": "NASDAQ"})
        if path == "/iserver/account/orders":
            return json_reply({"orders": list(self.book.values()), "snapshot": True})
        if re.fullmatch(r"/iserver/account/[^/]+/orders", path) and method == "POST":
            return self._place(body)
        if (match := re.fullmatch(r"/iserver/account/([^/]+)/order/(\d+)", path)) is not None:
            return self._modify_or_cancel(method, match[1], match[2], body)
        if path.startswith("/iserver/reply/"):
            return json_reply([{"order_id": "1000000001", "order_status": "Submitted"}])
        if path == "/iserver/questions/suppress":
            return json_reply({"status": "submitted"})
        return _html("<html><h1>404 Not Found</h1></html>", 404)

    def _place(self, body: Any) -> Reply:
        order = body["orders"][0]
        coid = str(order["cOID"])
        if coid in self.book:
            text = f"Order couldn't be submitted: Local order ID={coid} is already registered."
            return json_reply({"error": text})
        order_id = next(self._order_ids)
        self.book[coid] = {
            "acct": order.get("acctId"),
            "orderId": order_id,
            "conid": order.get("conid"),
            "side": order.get("side"),
            "totalSize": order.get("quantity"),
            "price": order.get("price"),
            "orderType": order.get("orderType"),
            "status": "Submitted",
            "order_ref": coid,
        }
        self.placements.append(coid)
        return json_reply([{"order_id": str(order_id), "order_status": "Submitted"}])

    def _modify_or_cancel(self, method: str, account: str, order_id: str, body: Any) -> Reply:
        live = next((o for o in self.book.values() if str(o["orderId"]) == order_id), None)
        if live is None:
            return json_reply({"error": f"OrderID {order_id} doesn't exist"})
        if method == "DELETE":
            live["status"] = "Cancelled"
            ack = {"msg": "Request was submitted", "order_id": int(order_id), "account": account}
            return json_reply(ack)
        live.update(totalSize=body.get("quantity"), price=body.get("price"))
        return json_reply([{"order_id": order_id, "order_status": "Submitted"}])


def _server_context() -> ssl.SSLContext:
    cert = generate_self_signed(["localhost", "127.0.0.1"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as folder:
        cert_file, key_file = Path(folder, "cert.pem"), Path(folder, "key.pem")
        cert_file.write_bytes(cert.cert_pem)
        key_file.write_bytes(cert.key_pem)
        context.load_cert_chain(cert_file, key_file)
    return context


def _read_request(reader: Any) -> Request | None:
    line = reader.readline(65537)
    if not line:
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while (header := reader.readline(65537)) not in (b"\r\n", b"\n", b""):
        name, _, value = header.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    raw = reader.read(length) if length else b""
    parts = urlsplit(target)
    path = parts.path.removeprefix(API)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    body = json.loads(raw) if raw else None
    return Request(method, path, query, body)


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _write(conn: ssl.SSLSocket, reply: Reply, stopping: threading.Event) -> bool:
    """Write ``reply``; False when the connection must end (cut, or the client left)."""
    status_line = f"HTTP/1.1 {reply.status} Hostile\r\n".encode()
    if reply.close_without_answer:
        return False
    if reply.close_after_status_line:
        conn.sendall(status_line)
        return False
    headers = dict(reply.headers)
    if reply.content_type is not None:
        headers.setdefault("Content-Type", reply.content_type)
    if reply.declare_length:
        headers.setdefault("Content-Length", str(len(reply.body)))
    head = status_line + "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode() + b"\r\n"
    data = head + reply.body
    if reply.trickle is None:
        conn.sendall(data)
        return True
    size, pause = reply.trickle
    for piece in _chunks(data, size):
        if stopping.is_set():
            return False
        conn.sendall(piece)
        time.sleep(pause)
    return True
