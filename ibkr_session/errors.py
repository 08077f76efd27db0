"""The one error tree of the library (re-exported by ``ibkr_api``).

Every failure a worker can meet is one of these, so ``except IbkrError`` is a complete
safety net and each branch says what to do about it::

    IbkrError
    ├── GatewayUnreachableError     connection refused, DNS, TLS handshake, connect timeout
    ├── InsecureGatewayError        remote gateway without pin/CA and without insecure=True
    ├── InvalidRequestError         also a ValueError; raised before any request is sent
    ├── ResetWindowError            .retry_after (s), .resumes_at (datetime)
    └── IbkrAPIError                .code (HTTP status or gateway code), .msg, .method, .path, .body
        ├── NotAuthenticatedError   401, authenticated=false, "no session", "no bridge"
        ├── CompetingSessionError   competing=true; str() contains "competing"
        ├── RateLimitedError        429; .retry_after
        ├── GatewayUnavailableError 5xx, empty 503
        └── OrderRejectedError      200 with {"error": ...} on order endpoints

HTTP answers become these in one function (``ibkr_session.transport``); ``requests``
exceptions are converted at that same boundary with ``raise ... from exc``.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

__all__ = [
    "CompetingSessionError",
    "GatewayUnavailableError",
    "GatewayUnreachableError",
    "IbkrAPIError",
    "IbkrError",
    "InsecureGatewayError",
    "InvalidRequestError",
    "NotAuthenticatedError",
    "OrderRejectedError",
    "RateLimitedError",
    "ResetWindowError",
]


class IbkrError(Exception):
    """Base of every error this library raises."""


class GatewayUnreachableError(IbkrError):
    """The gateway could not be reached at all: nothing was answered.

    ``maybe_sent`` is true when the connection broke after the request may have left
    (read timeout, connection reset mid-answer): the gateway may have acted on it.
    """

    def __init__(self, message: str, *, maybe_sent: bool = False) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent


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


class OrderRejectedError(IbkrAPIError):
    """The gateway refused an order with HTTP 200 ``{"error": ...}``; nothing traded."""
