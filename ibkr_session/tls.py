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

import hashlib
import ipaddress
import os
import re
import socket
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ibkr_session.errors import GatewayUnreachableError, InsecureGatewayError, InvalidRequestError
from ibkr_session.logs import get_logger

if TYPE_CHECKING:
    from urllib3._base_connection import BaseHTTPConnection

__all__ = [
    "GatewayAddress",
    "TrustDecision",
    "decide_trust",
    "fetch_fingerprint",
    "is_loopback",
    "parse_gateway_url",
    "parse_pin",
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
    """Normalise ``https://host:port`` (a trailing ``/`` or ``/v1/api`` is tolerated)."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidRequestError(f"gateway_url must be a URL, got {url!r}", field="gateway_url")
    parts = urlsplit(url.strip())
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise InvalidRequestError(
            f"gateway_url must look like https://localhost:5000, got {url!r} "
            "(the Client Portal Gateway only speaks HTTPS)",
            field="gateway_url",
        )
    path = parts.path.rstrip("/")
    if path.endswith(API_PREFIX):
        path = path[: -len(API_PREFIX)]
    if path or parts.query or parts.fragment:
        raise InvalidRequestError(
            f"gateway_url must not carry a path or query beyond /v1/api, got {url!r}",
            field="gateway_url",
        )
    try:
        port = parts.port or 443
    except ValueError as exc:
        raise InvalidRequestError(f"bad port in gateway_url {url!r}", field="gateway_url") from exc
    root = f"https://{parts.netloc}"
    return GatewayAddress(root=root, api_base=root + API_PREFIX, host=parts.hostname, port=port)


def is_loopback(host: str) -> bool:
    """``localhost`` (and ``*.localhost``), any 127.0.0.0/8 address, or ``::1``."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
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
    return HTTPAdapter(pool_connections=1, pool_maxsize=POOL_SIZE)


class PinnedAdapter(HTTPAdapter):
    """Every connection must present the certificate with this SHA-256 fingerprint."""

    def __init__(self, fingerprint_hex: str) -> None:
        self._fingerprint = fingerprint_hex
        super().__init__(pool_connections=1, pool_maxsize=POOL_SIZE)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(
            connections, maxsize, block, assert_fingerprint=self._fingerprint, **pool_kwargs
        )


class _LoopbackHTTPSConnectionPool(HTTPSConnectionPool):
    """urllib3's HTTPS pool without its per-connection InsecureRequestWarning.

    Used only for a gateway on this machine, where an unverified self-signed certificate is
    the documented setup, not a mistake worth a warning on every connection.
    """

    def _validate_conn(self, conn: BaseHTTPConnection) -> None:
        HTTPConnectionPool._validate_conn(self, conn)
        if conn.is_closed:
            conn.connect()


class LoopbackAdapter(HTTPAdapter):
    """Unverified TLS, quietly, for a loopback gateway."""

    def __init__(self) -> None:
        super().__init__(pool_connections=1, pool_maxsize=POOL_SIZE)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": HTTPConnectionPool,
            "https": _LoopbackHTTPSConnectionPool,
        }


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
