"""How far to trust the gateway's certificate (DESIGN §5), decided once per manager.

The Client Portal Gateway serves HTTPS with a self-signed certificate, so ordinary
verification always fails against it. The rules:

- loopback gateway (``localhost``, ``127.0.0.0/8``, ``::1``): traffic never leaves the
  machine, so the certificate is accepted without verification *and without a warning*
  (only for this adapter's connections: no global warning filter is touched);
- any other host: the certificate must match a pinned fingerprint (``pin="sha256:<hex>"``,
  checked by urllib3's ``assert_fingerprint`` on every new connection) or chain to a given
  CA file (``verify=...``); otherwise ``InsecureGatewayError`` before anything is sent;
- ``insecure=True`` is the explicit escape; it is logged as a warning and urllib3 keeps
  warning on each connection.

A pin given for a loopback gateway is still checked. ``fetch_fingerprint`` reads the
fingerprint to pin (the CLI's ``ibkr pin URL``).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import ipaddress
import os
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from ibkr_session.errors import GatewayUnreachableError, InsecureGatewayError, InvalidRequestError
from ibkr_session.logs import get_logger

if TYPE_CHECKING:
    from urllib3._base_connection import BaseHTTPConnection

__all__ = [
    "GatewayAddress",
    "RequestWatch",
    "TrustDecision",
    "decide_trust",
    "fetch_fingerprint",
    "is_loopback",
    "parse_gateway_url",
    "parse_pin",
    "redact_url",
    "watching",
]

log = get_logger(__name__)

API_PREFIX = "/v1/api"
POOL_SIZE = 10
"""Connections kept per manager: room for the 5 concurrent history requests and more."""

_HEX_PIN = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class GatewayAddress:
    """Where the gateway is: ``root`` is ``https://host:port``, ``api_base`` adds /v1/api."""

    root: str
    api_base: str
    host: str
    port: int


def parse_gateway_url(url: str) -> GatewayAddress:
    """Normalise ``https://host:port`` (a trailing ``/`` or ``/v1/api`` is tolerated).

    Parsed once and strictly, so the host checked here (loopback or not) is the host
    connected to: no userinfo (``user:pass@``), no backslash, nothing outside printable
    ASCII, a host of letters, digits, dots and dashes (or a bracketed IPv6 address) and an
    optional numeric port; and urllib3's own parser must read the same host and port.
    Anything two URL parsers could read differently is refused, credentials redacted.
    """
    if not isinstance(url, str) or not url.strip():
        raise InvalidRequestError(f"gateway_url must be a URL, got {url!r}", field="gateway_url")
    text = url.strip()
    shown = redact_url(text)
    if not (text.isascii() and text.isprintable()) or "\\" in text or " " in text:
        raise InvalidRequestError(
            f"gateway_url must be printable ASCII without backslashes or spaces, got {shown!r}",
            field="gateway_url",
        )
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        parts = urlsplit("")
    if parts.scheme.lower() != "https" or not parts.netloc:
        raise InvalidRequestError(
            f"gateway_url must look like https://localhost:5000, got {shown!r} "
            "(the Client Portal Gateway only speaks HTTPS)",
            field="gateway_url",
        )
    if "@" in parts.netloc:
        raise InvalidRequestError(
            f"gateway_url must not carry credentials (user:password@), got {shown!r}; "
            "the gateway's login happens in its browser page",
            field="gateway_url",
        )
    netloc = _NETLOC.fullmatch(parts.netloc)
    if netloc is None or not _valid_host(netloc["host"]):
        raise InvalidRequestError(
            f"gateway_url must name a host and an optional port, got {shown!r}",
            field="gateway_url",
        )
    path = parts.path.rstrip("/")
    if path.endswith(API_PREFIX):
        path = path[: -len(API_PREFIX)]
    if path or parts.query or parts.fragment or text.endswith(("?", "#")):
        raise InvalidRequestError(
            f"gateway_url must not carry a path or query beyond /v1/api, got {shown!r}",
            field="gateway_url",
        )
    port = int(netloc["port"]) if netloc["port"] else 443
    if not 0 < port < 65536:
        raise InvalidRequestError(f"bad port in gateway_url {shown!r}", field="gateway_url")
    host = netloc["host"]
    _same_for_urllib3(text, host, port, shown)
    root = f"https://{parts.netloc}"
    return GatewayAddress(root=root, api_base=root + API_PREFIX, host=host.strip("[]"), port=port)


_NETLOC = re.compile(
    r"(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])"
    r"(?::(?P<port>[0-9]{1,5}))?"
)
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")


def _valid_host(host: str) -> bool:
    if host.startswith("["):
        try:
            return ipaddress.ip_address(host[1:-1]).version == 6
        except ValueError:
            return False
    return ".." not in host


def _same_for_urllib3(url: str, host: str, port: int, shown: str) -> None:
    """The connection is made by urllib3: it must read the URL exactly as checked."""
    try:
        theirs = parse_url(url)
    except LocationParseError:
        theirs = None
    if (
        theirs is None
        or (theirs.host or "").strip("[]").lower() != host.strip("[]").lower()
        or (theirs.port or 443) != port
        or theirs.auth is not None
    ):
        raise InvalidRequestError(
            f"gateway_url {shown!r} is ambiguous: URL parsers disagree on its host",
            field="gateway_url",
        )


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` part replaced by ``***@``, for messages and logs."""
    return _USERINFO.sub(r"\1***@", url)


def is_loopback(host: str) -> bool:
    """The literal name ``localhost``, a 127.0.0.0/8 address, or ``::1``.

    Only literals: ``*.localhost`` or any other name can be mapped anywhere by a resolver,
    and trust must not depend on what a resolver says.
    """
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def parse_pin(pin: str) -> str:
    """``"sha256:AB:CD:..."`` (any case, colons optional) → 64 lowercase hex digits."""
    text = pin.strip() if isinstance(pin, str) else ""
    if text.lower().startswith("sha256:"):
        text = text[len("sha256:") :]
    digits = text.replace(":", "").lower()
    if not _HEX_PIN.fullmatch(digits):
        raise InvalidRequestError(
            f"pin must be 'sha256:' followed by 64 hex digits (from `ibkr pin URL`), got {pin!r}",
            field="pin",
        )
    return digits


@dataclass(frozen=True)
class TrustDecision:
    """The adapter to mount for the gateway and the ``verify`` value requests must use."""

    adapter: HTTPAdapter
    verify: bool | str


def decide_trust(
    address: GatewayAddress,
    *,
    pin: str | None = None,
    verify: str | os.PathLike[str] | bool | None = None,
    insecure: bool = False,
) -> TrustDecision:
    """Apply the rules of the module docstring; raise before any connection is made."""
    if pin is not None and verify not in (None, False):
        raise InvalidRequestError("give either pin or verify, not both", field="pin")
    if pin is not None:
        fingerprint = parse_pin(pin)
        # The fingerprint replaces chain verification, which a self-signed cert would fail.
        return TrustDecision(PinnedAdapter(fingerprint), False)
    if isinstance(verify, str | os.PathLike):
        ca_file = os.fspath(verify)
        if not os.path.exists(ca_file):
            raise InvalidRequestError(f"CA file {ca_file!r} does not exist", field="verify")
        return TrustDecision(_pooled_adapter(), ca_file)
    if verify is True:
        return TrustDecision(_pooled_adapter(), True)
    if is_loopback(address.host):
        return TrustDecision(LoopbackAdapter(), False)
    if insecure:
        log.warning(
            "session.tls_insecure",
            gateway_url=address.root,
            detail="certificate NOT verified (insecure=True); pin it with `ibkr pin URL`",
        )
        return TrustDecision(_pooled_adapter(), False)
    raise InsecureGatewayError(
        f"{address.root} is not on this machine, so its certificate must be trusted "
        f"explicitly: run `ibkr pin {address.root}` and pass pin='sha256:...', or pass "
        "verify='<CA file>' (insecure=True skips verification, at your own risk)"
    )


def _pooled_adapter() -> HTTPAdapter:
    return WatchedAdapter()


class RequestWatch:
    """One request's connection, watched: was it sent, and did its deadline pass?

    ``Transport.send`` opens one per request (``watching``); the HTTPS pools below bind
    the connection the request uses and mark the moment its TLS handshake is over, just
    before the first byte of the request is written. So a failure before that moment is
    "surely not sent" whatever urllib3 calls it (a stalled handshake is reported as a read
    timeout), and ``expire()`` (the deadline watchdog's call, from another thread) can cut
    a connection that trickles its headers or body: the blocked read then ends at once.
    """

    __slots__ = ("_conn", "_lock", "deadline", "expired", "finished", "observed", "sent")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.observed = False
        self.sent = False
        self.expired = False
        self.finished = False
        self._conn: BaseHTTPConnection | None = None
        self._lock = threading.Lock()

    def bind(self, conn: BaseHTTPConnection) -> None:
        with self._lock:
            self._conn = conn
            self.observed = True

    def connected(self) -> None:
        """The handshake is over and the request is about to be written."""
        with self._lock:
            if self.expired:
                # Too late to send it at all: surely not sent.
                raise TimeoutError("the request's total deadline passed while connecting")
            self.sent = True

    def expire(self) -> None:
        """The deadline passed: cut the connection, which ends any blocked read."""
        with self._lock:
            if self.finished:
                return
            self.expired = True
            conn = self._conn
        sock = getattr(conn, "sock", None) if conn is not None else None
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                # The plain socket's shutdown: ends a read blocked in another thread without
                # touching the TLS object that thread is using.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def finish(self) -> None:
        with self._lock:
            self.finished = True
            self._conn = None


_WATCH: contextvars.ContextVar[RequestWatch | None] = contextvars.ContextVar(
    "ibkr_request_watch", default=None
)


@contextlib.contextmanager
def watching(watch: RequestWatch) -> Iterator[RequestWatch]:
    """Let the pools of this thread's requests report to ``watch`` until the block ends."""
    token = _WATCH.set(watch)
    try:
        yield watch
    finally:
        _WATCH.reset(token)
        watch.finish()


class _WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    """urllib3's HTTPS pool, reporting each request's connection to its ``RequestWatch``."""

    def _validate_conn(self, conn: BaseHTTPConnection) -> None:
        watch = _WATCH.get()
        if watch is not None:
            watch.bind(conn)
        self._connect(conn)
        if watch is not None:
            watch.connected()

    def _connect(self, conn: BaseHTTPConnection) -> None:
        super()._validate_conn(conn)


class _LoopbackHTTPSConnectionPool(_WatchedHTTPSConnectionPool):
    """Without urllib3's per-connection InsecureRequestWarning.

    Used only for a gateway on this machine, where an unverified self-signed certificate is
    the documented setup, not a mistake worth a warning on every connection.
    """

    def _connect(self, conn: BaseHTTPConnection) -> None:
        HTTPConnectionPool._validate_conn(self, conn)
        if conn.is_closed:
            conn.connect()


class WatchedAdapter(HTTPAdapter):
    """An adapter whose HTTPS connections report to the request's ``RequestWatch``."""

    _https_pool: type[HTTPSConnectionPool] = _WatchedHTTPSConnectionPool

    def __init__(self) -> None:
        super().__init__(pool_connections=1, pool_maxsize=POOL_SIZE)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": HTTPConnectionPool,
            "https": self._https_pool,
        }


@functools.cache
def _unverified_context() -> ssl.SSLContext:
    """One TLS context for connections whose certificate is not chain-verified (loopback,
    or checked by its pinned fingerprint instead). Built once: without it urllib3 loads
    the system's CA store (~0.1 s of CPU) for every new connection, only to ignore it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class PinnedAdapter(WatchedAdapter):
    """Every connection must present the certificate with this SHA-256 fingerprint."""

    def __init__(self, fingerprint_hex: str) -> None:
        self._fingerprint = fingerprint_hex
        super().__init__()

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(
            connections,
            maxsize,
            block,
            assert_fingerprint=self._fingerprint,
            ssl_context=_unverified_context(),
            **pool_kwargs,
        )


class LoopbackAdapter(WatchedAdapter):
    """Unverified TLS, quietly, for a loopback gateway."""

    _https_pool = _LoopbackHTTPSConnectionPool

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(
            connections, maxsize, block, ssl_context=_unverified_context(), **pool_kwargs
        )


def fetch_fingerprint(url: str, timeout: float = 5.0) -> str:
    """Connect to the gateway at ``url`` and return its certificate's ``sha256:<hex>``.

    Nothing is verified here on purpose: this is how a user *learns* the fingerprint, to
    compare it with what the gateway's machine shows and then pin it.
    """
    address = parse_gateway_url(url)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((address.host, address.port), timeout=timeout) as sock,
            context.wrap_socket(sock, server_hostname=address.host) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except OSError as exc:
        raise GatewayUnreachableError(
            f"cannot read the certificate of {address.root}: {exc}"
        ) from exc
    if not der:
        raise GatewayUnreachableError(f"{address.root} presented no certificate")
    return "sha256:" + hashlib.sha256(der).hexdigest()
