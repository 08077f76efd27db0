"""One HTTPS connection pool to the gateway, and the one place answers become errors.

``Transport.send`` makes exactly one attempt and returns the gateway's JSON unchanged, or
raises an ``IbkrError``:

- A ``json`` body that cannot be encoded (NaN, a ``Decimal``) is ``InvalidRequestError``,
  nothing sent. Other ``requests`` exceptions are converted in ``send`` (``raise ...
  from exc``) into ``GatewayUnreachableError``, whose ``maybe_sent`` says whether the
  request may have reached the gateway (read timeout, connection dropped) or surely did
  not (refused, DNS, TLS handshake or pin mismatch, connect timeout). Order safety depends
  on that bit.
- HTTP answers are mapped by ``interpret`` alone: status first, then the body. The only
  texts it looks at are the refusals the gateway sends no status or id of their own for:
  "no session" (``NotAuthenticatedError``), "no bridge" (``NoBridgeError``), "Please query
  /accounts first" (``NotPrimedError``, also when it comes as a 500) and, on order paths,
  "Local order ID=<cOID> is already registered" (``DuplicateOrderError``). Everything
  downstream decides on those classes, never on the text.

The ``requests.Session`` is shared by every thread of a manager (its urllib3 pool is
thread-safe) so keep-alive connections are reused. ``trust_env`` is off: a proxy from the
environment would bypass the certificate pin.
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import heapq
import http.client
import itertools
import json as _json
import math
import os
import re
import threading
import time
import zlib
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.exceptions import SSLError as urllib3_SSLError

from ibkr_session.clock import Clock
from ibkr_session.endpoints import endpoint_for
from ibkr_session.errors import (
    DuplicateOrderError,
    GatewayUnavailableError,
    GatewayUnreachableError,
    IbkrAPIError,
    InvalidRequestError,
    NoBridgeError,
    NotAuthenticatedError,
    NotPrimedError,
    OrderRejectedError,
    RateLimitedError,
    UnreadableAnswerError,
)
from ibkr_session.logs import get_logger
from ibkr_session.tls import RequestWatch, decide_trust, parse_gateway_url, watching

__all__ = [
    "DEADLINE_MARGIN",
    "DEFAULT_MAX_ANSWER_BYTES",
    "DEFAULT_RETRY_AFTER",
    "MAX_JSON_DEPTH",
    "MAX_RETRY_AFTER",
    "Transport",
    "interpret",
    "order_question",
    "require_seconds",
]

log = get_logger(__name__)

DEFAULT_RETRY_AFTER = 60.0
"""Seconds to stay quiet after a 429 without ``Retry-After`` (IBKR documents none)."""

MAX_RETRY_AFTER = 900.0
"""The longest quiet a 429 may ask for: IBKR's penalty box lasts 10-15 minutes, so a
``Retry-After`` beyond that (86400, 1e308) is a broken or hostile gateway, not advice."""

DEFAULT_MAX_ANSWER_BYTES = 16 * 2**20
"""Largest answer read, after decompression: IBKR's largest (1000 history bars, 100
positions) are a few hundred KiB; a gzip bomb or an endless list stops here."""

DEADLINE_MARGIN = 5.0
"""Default total deadline per request = connect timeout + read timeout + this margin: a
server that trickles its headers or body cannot keep a call alive past it."""

MAX_JSON_DEPTH = 64
"""Deepest nesting read from an answer (IBKR's go 4-5 levels); deeper is unreadable, and
never reaches code that would meet ``RecursionError``."""

_READ_CHUNK = 64 * 1024
_ENCODINGS = frozenset({"gzip", "x-gzip", "deflate"})

_NO_SESSION = "no session"
_NO_BRIDGE = "no bridge"
_NOT_PRIMED = "query /accounts first"
_LOGIN_PAGE = re.compile(r"log[ _-]?in|sign[ _-]?in|/sso/", re.IGNORECASE)
_DUPLICATE_COID = re.compile(r"Local order ID=(.+?) is already registered")
_SNIPPET = 200
_JSON_CONTENT = {"Content-Type": "application/json"}


def order_question(answer: Any) -> tuple[str, list[str]] | None:
    """``(reply id, message ids)`` when an order answer is a question, else ``None``.

    The one rule for what a question is (``[{"id", "message", "messageIds", ...}]``): the
    session holds its keep-alive by it and the order desk answers by it. A malformed id
    list still leaves a question; it just matches no auto-confirm policy.
    """
    if not (isinstance(answer, list) and answer and isinstance(answer[0], dict)):
        return None
    first = answer[0]
    if "id" not in first or "message" not in first:
        return None
    ids = first.get("messageIds")
    message_ids = [str(message_id) for message_id in ids] if isinstance(ids, list) else []
    return str(first["id"]), message_ids


class Transport:
    """``requests.Session`` + base URL + timeouts + TLS trust, for one manager.

    ``total_timeout`` bounds a whole request (connect, headers, body) in real seconds; by
    default connect timeout + read timeout + ``DEADLINE_MARGIN``. ``max_answer_bytes``
    bounds an answer after decompression. Both fail with typed errors: past the deadline
    ``GatewayUnreachableError`` (``maybe_sent`` true once the request left), a 2xx answer
    too large to read ``UnreadableAnswerError``.
    """

    def __init__(
        self,
        gateway_url: str,
        *,
        clock: Clock,
        pin: str | None = None,
        verify: str | os.PathLike[str] | bool | None = None,
        insecure: bool = False,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        total_timeout: float | None = None,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
    ) -> None:
        require_seconds("timeout", timeout)
        require_seconds("connect_timeout", connect_timeout)
        if total_timeout is not None:
            require_seconds("total_timeout", total_timeout)
        if (
            isinstance(max_answer_bytes, bool)
            or not isinstance(max_answer_bytes, int)
            or max_answer_bytes < 1024
        ):
            raise InvalidRequestError(
                f"max_answer_bytes must be an integer of at least 1024, got {max_answer_bytes!r}",
                field="max_answer_bytes",
            )
        self.address = parse_gateway_url(gateway_url)
        self.trust = trust = decide_trust(self.address, pin=pin, verify=verify, insecure=insecure)
        """How this gateway's certificate is trusted (the WebSocket transport reuses it)."""
        self._clock = clock
        self._timeout = float(timeout)
        self._connect_timeout = min(float(connect_timeout), float(timeout))
        self._total_timeout = None if total_timeout is None else float(total_timeout)
        self._max_answer_bytes = max_answer_bytes
        self._session = requests.Session()
        self._session.trust_env = False
        self._session.verify = trust.verify
        # Only encodings this module inflates itself, within max_answer_bytes.
        self._session.headers["Accept-Encoding"] = "gzip, deflate"
        self._session.mount(self.address.root + "/", trust.adapter)

    @property
    def gateway_url(self) -> str:
        return self.address.root

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        json: object = None,
        timeout: float | None = None,
    ) -> Any:
        """One request to ``/v1/api{path}``; the parsed JSON (``None`` if empty) or an error."""
        read_timeout = self._timeout if timeout is None else timeout
        body = _encode(method, path, json)
        total = self._total_timeout
        if total is None:
            total = self._connect_timeout + read_timeout + DEADLINE_MARGIN
        watch = RequestWatch(time.monotonic() + total)
        _WATCHDOG.arm(watch)
        with watching(watch):
            try:
                response = self._session.request(
                    method,
                    self.address.api_base + path,
                    params=_query(params),
                    data=body,
                    headers=None if body is None else _JSON_CONTENT,
                    timeout=(self._connect_timeout, read_timeout),
                    allow_redirects=False,
                    stream=True,
                )
            except requests.RequestException as exc:
                raise _unreachable(self.address.root, method, path, exc, watch, total) from exc
            try:
                content = _read_answer(response, self._max_answer_bytes)
            except _UnreadableError as unreadable:
                if watch.expired:
                    raise _past_deadline(self.address.root, method, path, watch, total) from None
                # The endpoint's template, not the path: account ids are logged at debug only.
                endpoint = endpoint_for(method, path).template
                log.warning("session.answer_unreadable", method=method, endpoint=endpoint)
                log.debug("session.answer_unreadable_detail", path=path, why=str(unreadable))
                status = response.status_code
                if 200 <= status < 300:
                    raise UnreadableAnswerError(
                        status, str(unreadable), method=method, path=path
                    ) from None
                content = b""  # the status alone still says what happened
            except _READ_FAILURES as exc:
                raise _unreachable(self.address.root, method, path, exc, watch, total) from exc
            finally:
                response.close()
            if watch.expired:
                # The watchdog cut the connection: what was read may look complete but is not.
                raise _past_deadline(self.address.root, method, path, watch, total)
        log.debug("session.http", method=method, path=path, status=response.status_code)
        return interpret(
            method,
            path,
            response.status_code,
            response.headers,
            content,
            gateway_url=self.address.root,
            now=self._clock.now(),
        )

    def close(self) -> None:
        self._session.close()


class _UnreadableError(Exception):
    """An answer this module refuses to read: too large, or in an unknown encoding."""


_READ_FAILURES = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)


def _read_answer(response: requests.Response, limit: int) -> bytes:
    """The body, inflated here (gzip/deflate) in bounded steps, at most ``limit`` bytes."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and len(declared) < 20 and int(declared) > limit:
        raise _UnreadableError(f"answer of {declared} bytes, more than max_answer_bytes={limit}")
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    inflater = None
    if encoding in _ENCODINGS:
        inflater = zlib.decompressobj(wbits=47)  # zlib or gzip header, detected
    elif encoding not in ("", "identity"):
        raise _UnreadableError(f"answer in an encoding not asked for: {encoding[:40]!r}")
    parts: list[bytes] = []
    size = 0
    while True:
        data = response.raw.read(_READ_CHUNK, decode_content=False)
        if not data:
            break
        while data:
            if inflater is None:
                piece, data = data, b""
            else:
                try:
                    piece = inflater.decompress(data, _READ_CHUNK)
                except zlib.error as exc:
                    raise _UnreadableError(f"answer's {encoding} data is corrupt: {exc}") from None
                data = inflater.unconsumed_tail
            size += len(piece)
            if size > limit:
                raise _UnreadableError(f"answer of more than max_answer_bytes={limit} bytes")
            parts.append(piece)
    return b"".join(parts)


class _Watchdog:
    """One daemon thread that expires requests past their total deadline (real time).

    Cheaper than a timer thread per request: arming is a heap push. A finished request's
    entry is simply skipped when its time comes.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, RequestWatch]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._purge_at = _PURGE_MINIMUM

    def arm(self, watch: RequestWatch) -> None:
        with self._cond:
            if len(self._heap) >= self._purge_at:
                # Finished requests wait in the heap for their deadline; drop them in bulk
                # once they are most of it, so a busy client holds no more than twice the
                # requests actually in flight.
                self._heap = [entry for entry in self._heap if not entry[2].finished]
                heapq.heapify(self._heap)
                self._purge_at = max(_PURGE_MINIMUM, 2 * len(self._heap))
            heapq.heappush(self._heap, (watch.deadline, next(self._order), watch))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="ibkr-session-deadlines", daemon=True
                )
                self._thread.start()
            if self._heap[0][2] is watch:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                deadline, _, watch = self._heap[0]
                if not watch.finished:
                    delay = deadline - time.monotonic()
                    if delay > 0:
                        self._cond.wait(delay)
                        continue
                heapq.heappop(self._heap)
            if not watch.finished:
                watch.expire()


_PURGE_MINIMUM = 64
_WATCHDOG = _Watchdog()


def interpret(
    method: str,
    path: str,
    status: int,
    headers: Mapping[str, str],
    content: bytes,
    *,
    gateway_url: str,
    now: _dt.datetime,
) -> Any:
    """The one status → exception function: JSON for a good answer, a typed error else."""
    body = _Body.parse(headers, content)
    where: dict[str, Any] = {"method": method, "path": path, "body": body.value}
    ok = 200 <= status < 300
    if ok:
        if body.empty:
            return None
        if body.html and body.login_page():
            hint = _login_hint("the gateway answered with its login page", gateway_url)
            raise NotAuthenticatedError(status, hint, **where)
        if not body.is_json:
            raise UnreadableAnswerError(status, f"expected JSON, got {body.describe()}", **where)
        error = body.error_text()
        if error is None:
            return body.value
        message = error
    else:
        message = body.error_text() or body.describe()
        if status == 401:
            raise NotAuthenticatedError(status, _login_hint("no session", gateway_url), **where)
        if 300 <= status < 400:
            target = urlsplit(headers.get("Location", "")).path
            if _LOGIN_PAGE.search(target):
                reason = f"redirected to the login page {target}"
                raise NotAuthenticatedError(status, _login_hint(reason, gateway_url), **where)
            raise IbkrAPIError(status, f"unexpected redirect to {target[:_SNIPPET]!r}", **where)
        if status == 429:
            retry_after = _retry_after(headers.get("Retry-After"), now)
            raise RateLimitedError(status, message, retry_after=retry_after, **where)
        if _NOT_PRIMED in message.lower():
            # Seen as 400 and as 500 without statusCode: either way refused, not acted on.
            raise NotPrimedError(status, message, **where)
        if status >= 500:
            raise GatewayUnavailableError(status, message, **where)
    # The session verdicts arrive as 200 or 400 with only a text to tell them apart.
    lowered = message.lower()
    if _NO_SESSION in lowered:
        raise NotAuthenticatedError(status, _login_hint(message, gateway_url), **where)
    if _NO_BRIDGE in lowered:
        raise NoBridgeError(status, message, **where)
    if _NOT_PRIMED in lowered:
        raise NotPrimedError(status, message, **where)
    if endpoint_for(method, path).kind.is_order_flow:
        duplicate = _DUPLICATE_COID.search(message)
        if duplicate is not None:
            raise DuplicateOrderError(status, message, coid=duplicate[1], **where)
        if ok:
            raise OrderRejectedError(status, message, **where)
    raise IbkrAPIError(status, message, **where)


def require_seconds(name: str, value: float) -> float:
    """A positive, finite number of seconds (``True`` is not one), or InvalidRequestError."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidRequestError(f"{name} must be a number of seconds, got {value!r}", field=name)
    if value <= 0:
        raise InvalidRequestError(f"{name} must be positive, got {value!r}", field=name)
    return float(value)


def _login_hint(reason: str, gateway_url: str) -> str:
    return f"{reason}: the gateway has no login session; log in at {gateway_url}"


class _Body:
    """A response body, decoded once: JSON when it parses, else its text."""

    def __init__(
        self, value: Any, *, is_json: bool, empty: bool, html: bool, deep: bool = False
    ) -> None:
        self.value = value
        self.is_json = is_json
        self.empty = empty
        self.html = html
        self.deep = deep

    @classmethod
    def parse(cls, headers: Mapping[str, str], content: bytes) -> _Body:
        text = content.decode("utf-8", errors="replace")
        if not text.strip():
            return cls(None, is_json=False, empty=True, html=False)
        html = "html" in headers.get("Content-Type", "").lower() or text.lstrip().startswith("<")
        if not html:
            try:
                value = _json.loads(text)
            except RecursionError:  # nested past Python's stack
                return cls(text[:_SNIPPET], is_json=False, empty=False, html=False, deep=True)
            except ValueError:
                pass
            else:
                if not _too_deep(text, value):
                    return cls(value, is_json=True, empty=False, html=False)
                return cls(text[:_SNIPPET], is_json=False, empty=False, html=False, deep=True)
        return cls(text, is_json=False, empty=False, html=html)

    def login_page(self) -> bool:
        """An HTML page that asks for a login: what the gateway serves without a session."""
        return isinstance(self.value, str) and _LOGIN_PAGE.search(self.value) is not None

    def error_text(self) -> str | None:
        """The gateway's ``{"error": "..."}`` text, if that is what the body is."""
        if self.is_json and isinstance(self.value, dict):
            error = self.value.get("error")
            if isinstance(error, str) and error:
                return error
        return None

    def describe(self) -> str:
        if self.empty:
            return "empty body"
        if self.html:
            return "an HTML page"
        if self.deep:
            return f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
        if self.is_json:
            return f"JSON {_json.dumps(self.value)[:_SNIPPET]}"
        return f"malformed JSON {str(self.value)[:_SNIPPET]!r}"


def _encode(method: str, path: str, json: object) -> bytes | None:
    """The JSON body as ``requests`` would send it, but refused as the caller's mistake.

    ``requests`` lets ``TypeError`` (a ``Decimal``) escape raw and wraps ``ValueError``
    (NaN) in a ``RequestException`` that would read as a network failure.
    """
    if json is None:
        return None
    try:
        return _json.dumps(json, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise InvalidRequestError(
            f"{method} {path}: the body cannot be sent as JSON: {exc}", field="json"
        ) from exc


def _query(params: Mapping[str, object] | None) -> dict[str, str] | None:
    """Query values as the gateway spells them: ``true``/``false``, comma-joined lists."""
    if not params:
        return None
    query: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            query[key] = "true" if value else "false"
        elif isinstance(value, list | tuple):
            query[key] = ",".join(str(item) for item in value)
        else:
            query[key] = str(value)
    return query


def _retry_after(header: str | None, now: _dt.datetime) -> float:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date), clamped to
    ``[0, MAX_RETRY_AFTER]``; 60 s if absent or unreadable."""
    if header is None:
        return DEFAULT_RETRY_AFTER
    try:
        seconds = float(header)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(header)
            if when.tzinfo is None:
                when = when.replace(tzinfo=_dt.UTC)  # RFC 9110 dates are always GMT
            seconds = (when - now).total_seconds()
        except (TypeError, ValueError, OverflowError, IndexError):
            return DEFAULT_RETRY_AFTER
    if math.isnan(seconds):
        return DEFAULT_RETRY_AFTER
    return min(max(0.0, seconds), MAX_RETRY_AFTER)


def _unreachable(
    gateway_url: str,
    method: str,
    path: str,
    exc: BaseException,
    watch: RequestWatch,
    total: float,
) -> GatewayUnreachableError:
    """Convert a network failure, deciding whether the request may have been sent.

    The watch knows when the connection was established and the request about to be
    written; before that moment nothing was sent, whatever the failure is called (urllib3
    reports a stalled TLS handshake as a read timeout). Without a watched connection (a
    mocked adapter) the failure's type decides, as the conservative fallback.
    """
    if watch.expired:
        return _past_deadline(gateway_url, method, path, watch, total)
    sent = watch.sent if watch.observed else None
    if isinstance(exc, requests.exceptions.SSLError | urllib3_SSLError) and not sent:
        what, maybe_sent = "TLS handshake failed (certificate or pin mismatch)", False
    elif isinstance(exc, requests.exceptions.ConnectTimeout) or _never_connected(exc):
        what, maybe_sent = "could not connect", False
    elif sent is False:
        what, maybe_sent = "could not connect (TLS handshake did not finish)", False
    elif isinstance(exc, requests.exceptions.ReadTimeout | urllib3.exceptions.ReadTimeoutError):
        what, maybe_sent = "no answer in time (the request may have been processed)", True
    else:
        what, maybe_sent = "connection broken (the request may have been processed)", True
    return GatewayUnreachableError(
        f"{method} {path} to {gateway_url}: {what}: {_reason(exc)}",
        maybe_sent=maybe_sent,
        method=method,
        path=path,
    )


def _past_deadline(
    gateway_url: str, method: str, path: str, watch: RequestWatch, total: float
) -> GatewayUnreachableError:
    sent = watch.sent or not watch.observed
    detail = "the request may have been processed" if sent else "nothing was sent"
    return GatewayUnreachableError(
        f"{method} {path} to {gateway_url}: no complete answer within the total deadline "
        f"of {total:g} s ({detail})",
        maybe_sent=sent,
        method=method,
        path=path,
    )


def _too_deep(text: str, value: Any) -> bool:
    """Whether ``value`` nests deeper than ``MAX_JSON_DEPTH`` (checked without recursion).

    Few brackets cannot nest deep, so most answers are waved through by a count."""
    if not isinstance(value, dict | list) or text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return False
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            return True
        children = item.values() if isinstance(item, dict) else item
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


_PLAIN_LAYERS = frozenset({"builtins", "socket", "ssl", "http.client"})


def _reason(exc: BaseException) -> str:
    """The failure in the socket's or TLS layer's words ("Connection refused"), not in
    urllib3's pool internals; the whole chain stays reachable through ``__cause__``."""
    for cause in _causes(exc):
        plain = type(cause).__module__ in _PLAIN_LAYERS or isinstance(cause, urllib3_SSLError)
        if plain and str(cause):
            return str(cause)
    return str(exc)


def _never_connected(exc: BaseException) -> bool:
    return any(
        isinstance(cause, NewConnectionError | ConnectTimeoutError) for cause in _causes(exc)
    )


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: args (requests), ``reason`` (urllib3), ``__cause__``."""
    pending: list[object] = [exc]
    seen: set[int] = set()
    while pending:
        item = pending.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        pending.extend(item.args)
        pending.extend((getattr(item, "reason", None), item.__cause__, item.__context__))
