"""The one error tree of the library (re-exported by ``ibkr_api``).

Every failure a worker can meet is one of these, so ``except IbkrError`` is a complete
safety net and each branch says what to do about it::

    IbkrError                       .coid: the order's cOID when a placement failed
    ├── GatewayUnreachableError     connection refused, DNS, TLS handshake, connect timeout,
    │                               read timeout, total deadline; .maybe_sent, .method, .path
    ├── InsecureGatewayError        remote gateway without pin/CA and without insecure=True
    ├── InvalidRequestError         also a ValueError; raised before any request is sent
    ├── ResetWindowError            .retry_after (s), .resumes_at (datetime)
    └── IbkrAPIError                .code (HTTP status or gateway code), .msg, .method, .path, .body
        ├── NotAuthenticatedError   401, authenticated=false, "no session"
        │   └── NoBridgeError       "no bridge": the brokerage bridge is down; not acted on
        ├── NotPrimedError          "Please query /accounts first" (400, or 500); not acted on
        ├── CompetingSessionError   competing=true; str() contains "competing"
        ├── RateLimitedError        429; .retry_after (Retry-After clamped to 0-900 s)
        ├── GatewayUnavailableError 5xx, empty 503
        ├── UnreadableAnswerError   2xx that cannot be read: not JSON, too deep, too large
        └── OrderRejectedError      200 with {"error": ...} on order endpoints
            └── DuplicateOrderError "Local order ID=<cOID> is already registered"; .coid,
                                    .existing (the live order holding that cOID, if found)

HTTP answers become these in one function (``ibkr_session.transport.interpret``); ``requests``
exceptions are converted at that same boundary with ``raise ... from exc``. The refusals the
gateway tells apart only by text (no bridge, not primed, duplicate cOID) are typed there, once,
so the session and the order desk decide on classes, never on messages.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

__all__ = [
    "CompetingSessionError",
    "DuplicateOrderError",
    "GatewayUnavailableError",
    "GatewayUnreachableError",
    "IbkrAPIError",
    "IbkrError",
    "InsecureGatewayError",
    "InvalidRequestError",
    "NoBridgeError",
    "NotAuthenticatedError",
    "NotPrimedError",
    "OrderRejectedError",
    "RateLimitedError",
    "ResetWindowError",
    "UnreadableAnswerError",
]


class IbkrError(Exception):
    """Base of every error this library raises.

    ``coid``: when the failure concerns an order placement, that order's customer order
    id, so the worker can look the order up before trying again; else ``None``.
    """

    coid: str | None = None


class GatewayUnreachableError(IbkrError):
    """The gateway could not be reached at all: nothing was answered.

    ``maybe_sent`` is true when the connection broke after the request may have left
    (read timeout, connection reset mid-answer, the total deadline passed): the gateway may
    have acted on it. It is false only when the request surely never left (refused, DNS,
    connect timeout, a TLS handshake that failed or stalled). ``method`` and ``path`` name
    the request that failed (which may be a probe sent before the caller's own request).
    """

    def __init__(
        self, message: str, *, maybe_sent: bool = False, method: str = "", path: str = ""
    ) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent
        self.method = method
        self.path = path


class InsecureGatewayError(IbkrError):
    """A non-loopback gateway URL was given without a way to trust its certificate."""


class InvalidRequestError(IbkrError, ValueError):
    """The call's arguments are wrong; nothing was sent. ``field`` names the culprit."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ResetWindowError(IbkrError):
    """``/iserver`` is inside the nightly reset window; nothing was sent."""

    def __init__(self, message: str, *, retry_after: float, resumes_at: _dt.datetime) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.resumes_at = resumes_at


class IbkrAPIError(IbkrError):
    """The gateway answered, and the answer is an error."""

    def __init__(
        self,
        code: int | str,
        msg: str,
        *,
        method: str = "",
        path: str = "",
        body: Any = None,
    ) -> None:
        self.code = code
        self.msg = msg
        self.method = method
        self.path = path
        self.body = body
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f" ({self.method} {self.path})" if self.path else ""
        return f"IBKR error {self.code}: {self.msg}{where}"


class NotAuthenticatedError(IbkrAPIError):
    """No usable session; when only a human login can fix it, the message says where."""


class NoBridgeError(NotAuthenticatedError):
    """The gateway says "no bridge": it has lost its bridge to the brokerage session.

    The request was refused without being acted on, so it is safe to recover the session
    (probe, ssodh/init) and send it again, orders included.
    """


class NotPrimedError(IbkrAPIError):
    """The gateway says "Please query /accounts first": ``/iserver/accounts`` must be asked
    in this brokerage session before orders, order queries, snapshots and modifies.

    Seen as 400 and as 500 without a ``statusCode``; ``code`` keeps the status. The request
    was refused without being acted on: prime and send it again, orders included.
    """


class CompetingSessionError(IbkrAPIError):
    """Another platform (TWS, mobile, WebTrader) holds the brokerage session."""

    def _describe(self) -> str:
        text = super()._describe()
        return text if "competing" in text.lower() else f"{text} [competing session]"


class RateLimitedError(IbkrAPIError):
    """429 from the gateway. ``retry_after`` is how long to stay quiet, in seconds."""

    def __init__(self, code: int | str, msg: str, *, retry_after: float, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(code, msg, **kw)


class GatewayUnavailableError(IbkrAPIError):
    """5xx: the gateway (or IBKR behind it) cannot serve the request right now."""


class UnreadableAnswerError(IbkrAPIError):
    """A success status with an answer that cannot be read: not JSON, nested deeper than
    any IBKR answer, larger than ``max_answer_bytes``, or in an encoding not asked for.

    The gateway did answer, so it may have acted: an order meeting this is looked up by
    its cOID, never taken for a success or resent blindly.
    """


class OrderRejectedError(IbkrAPIError):
    """The gateway refused an order with HTTP 200 ``{"error": ...}``; nothing traded."""


class DuplicateOrderError(OrderRejectedError):
    """The gateway already holds an order with this cOID and refused the new one.

    Nothing new traded. ``coid`` is the refused customer order id; ``existing`` is the live
    order that holds it when the order desk found one (a different order reusing a cOID is
    never reported as the success of the new one), else ``None``.
    """

    def __init__(
        self,
        code: int | str,
        msg: str,
        *,
        coid: str,
        existing: Mapping[str, Any] | None = None,
        **kw: Any,
    ) -> None:
        self.coid = coid
        self.existing = existing
        super().__init__(code, msg, **kw)
