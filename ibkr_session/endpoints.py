"""Every fact about an endpoint, in one table; the rest of the client derives from it.

A row says how to reach an endpoint (method, path template), what it does (``Kind``: a
read, an order, a reply, a cancel, a change, a session call), whether it needs the
brokerage session (``guarded``: the session guard runs first), which pacing row of
IBKR-FACTS §3 it counts against besides the whole gateway's 10/s, whether its answer can
be an order question (``asks``) and whether it depends on the account selected at the
gateway (``account_bound``). The pacer's budgets, the guard's "is this /iserver", the
order-path and question rules and the client's retry class all read these rows.

Adding an endpoint: one row here, one method in ``ibkr_api.client``. A path the table does
not know (``IbkrClient.request``, the escape hatch) gets a conservative row from its prefix.

Path segments (account ids, order ids, conids, reply ids) are built by ``segment`` alone:
it refuses anything but what IBKR issues, so ``..;`` or ``a/b`` can never change the path.
"""

from __future__ import annotations

import enum
import functools
import math
import re
from dataclasses import dataclass, field
from typing import Any

from ibkr_session.errors import InvalidRequestError

__all__ = [
    "DEFAULT_GATEWAY_URL",
    "ENDPOINTS",
    "PACING_ROWS",
    "Endpoint",
    "Kind",
    "PacingRow",
    "endpoint",
    "endpoint_for",
    "segment",
]


DEFAULT_GATEWAY_URL = "https://localhost:5000"
"""Where the Client Portal Gateway listens unless told otherwise (the user logs in there)."""


class Kind(enum.Enum):
    """What a call does, which decides how it may be retried and what its errors mean."""

    READ = "read"
    """Safe to repeat: reads, and writes whose repetition changes nothing (suppress)."""
    CHANGE = "change"
    """A write that is not safe to repeat blindly (create an alert or a watchlist)."""
    ORDER = "order"
    """Place or modify: carries a cOID, never resent blindly, 200 {"error"} is a rejection."""
    REPLY = "reply"
    """The answer to an order question: part of the order's chain."""
    CANCEL = "cancel"
    """Cancelling twice is harmless: may be retried."""
    SESSION = "session"
    """Probes and recovery of the session itself (tickle, auth status, ssodh/init)."""

    @property
    def is_order_flow(self) -> bool:
        """Where HTTP 200 ``{"error": ...}`` is a rejection of an order."""
        return self in (Kind.ORDER, Kind.REPLY, Kind.CANCEL)


@dataclass(frozen=True)
class PacingRow:
    """One row of IBKR-FACTS §3: ``rate`` requests per ``per`` seconds and/or at most
    ``concurrency`` in flight. Every row is its own budget."""

    name: str
    rate: float | None = None
    per: float = 1.0
    concurrency: int | None = None

    def __post_init__(self) -> None:
        if self.rate is None and self.concurrency is None:
            raise ValueError(f"pacing row {self.name!r} needs a rate or a concurrency")
        if self.rate is not None and not (math.isfinite(self.rate) and self.rate > 0):
            raise ValueError(f"pacing row {self.name!r}: rate must be positive")
        if not (math.isfinite(self.per) and self.per > 0):
            raise ValueError(f"pacing row {self.name!r}: per must be positive")
        if self.concurrency is not None and self.concurrency < 1:
            raise ValueError(f"pacing row {self.name!r}: concurrency must be at least 1")


GATEWAY_ROW = PacingRow("gateway", rate=10, per=1.0)
"""The whole gateway's 10/s for CP Gateway users: every request counts against it."""

PACING_ROWS: dict[str, PacingRow] = {
    row.name: row
    for row in (
        GATEWAY_ROW,
        PacingRow("snapshot", rate=10, per=1.0),
        PacingRow("history", concurrency=5),
        PacingRow("orders", rate=1, per=5.0),
        PacingRow("trades", rate=1, per=5.0),
        PacingRow("pnl", rate=1, per=5.0),
        PacingRow("portfolio-accounts", rate=1, per=5.0),
        PacingRow("portfolio-subaccounts", rate=1, per=5.0),
        PacingRow("scanner-params", rate=1, per=900.0),
        PacingRow("scanner-run", rate=1, per=1.0),
        PacingRow("pa-performance", rate=1, per=900.0),
        PacingRow("pa-summary", rate=1, per=900.0),
        PacingRow("pa-transactions", rate=1, per=900.0),
        PacingRow("fyi-unreadnumber", rate=1, per=1.0),
        PacingRow("fyi-settings", rate=1, per=1.0),
        PacingRow("fyi-disclaimer", rate=1, per=1.0),
        PacingRow("fyi-deliveryoptions", rate=1, per=1.0),
        PacingRow("fyi-notifications", rate=1, per=1.0),
        PacingRow("tickle", rate=1, per=1.0),
        PacingRow("sso-validate", rate=1, per=60.0),
    )
}
"""IBKR-FACTS §3 as data, by row name."""

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Endpoint:
    """One row of the table; see the module docstring."""

    name: str
    method: str
    template: str
    kind: Kind = Kind.READ
    guarded: bool = True
    pacing: str | None = None
    asks: bool = False
    account_bound: bool = False
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.pacing is not None and self.pacing not in PACING_ROWS:
            raise ValueError(f"endpoint {self.name!r}: unknown pacing row {self.pacing!r}")
        literals = _PLACEHOLDER.split(self.template)[::2]
        regex = "[^/]+".join(re.escape(literal) for literal in literals)
        object.__setattr__(self, "_pattern", re.compile(regex))

    @property
    def pacing_rows(self) -> tuple[PacingRow, ...]:
        """The budgets a request to this endpoint counts against: the gateway's and its own."""
        if self.pacing is None:
            return (GATEWAY_ROW,)
        return (GATEWAY_ROW, PACING_ROWS[self.pacing])

    def path(self, **segments: Any) -> str:
        """The path with every placeholder filled by ``segment`` (refusing what IBKR never
        issues), e.g. ``PLACE_ORDER.path(account_id="U1")``."""
        names = set(_PLACEHOLDER.findall(self.template))
        if names != set(segments):
            raise InvalidRequestError(
                f"{self.name}: path needs {sorted(names)}, got {sorted(segments)}",
                field=",".join(sorted(names ^ set(segments))) or None,
            )
        return _PLACEHOLDER.sub(
            lambda match: segment(segments[match.group(1)], field=match.group(1)), self.template
        )

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and self._pattern.fullmatch(path) is not None


_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")


def segment(value: object, *, field: str = "id") -> str:
    """One path segment: letters, digits and ``_ . -``, starting with a letter or digit.

    What IBKR issues (account ids, numeric order ids and conids, reply ids) always fits;
    ``..``, ``;``, ``/``, ``%`` or white space never do, so no value can change the path.
    """
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidRequestError(f"{field} must be a string or an integer", field=field)
    text = str(value)
    if _SEGMENT.fullmatch(text) is None or ".." in text:
        raise InvalidRequestError(
            f"{field} {text[:40]!r} is not an id IBKR issues (letters, digits, '_', '.', '-')",
            field=field,
        )
    return text


ENDPOINTS: tuple[Endpoint, ...] = (
    # the session itself: unguarded (they are how the guard learns and heals)
    Endpoint("tickle", "POST", "/tickle", Kind.SESSION, guarded=False, pacing="tickle"),
    Endpoint("auth_status", "POST", "/iserver/auth/status", Kind.SESSION, guarded=False),
    Endpoint("auth_status_get", "GET", "/iserver/auth/status", Kind.SESSION, guarded=False),
    Endpoint("ssodh_init", "POST", "/iserver/auth/ssodh/init", Kind.SESSION, guarded=False),
    Endpoint(
        "validate_sso", "GET", "/sso/validate", Kind.SESSION, guarded=False, pacing="sso-validate"
    ),
    Endpoint("logout", "POST", "/logout", Kind.SESSION, guarded=False),
    # accounts
    Endpoint("brokerage_accounts", "GET", "/iserver/accounts"),
    Endpoint("select_account", "POST", "/iserver/account"),
    Endpoint("suppress", "POST", "/iserver/questions/suppress"),
    Endpoint("suppress_reset", "POST", "/iserver/questions/suppress/reset"),
    Endpoint("account_summary", "GET", "/iserver/account/{account_id}/summary"),
    Endpoint("account_summary_page", "GET", "/iserver/account/{account_id}/summary/{page}"),
    Endpoint("pnl", "GET", "/iserver/account/pnl/partitioned", pacing="pnl", account_bound=True),
    # portfolio: the SSO session is enough
    Endpoint("accounts", "GET", "/portfolio/accounts", guarded=False, pacing="portfolio-accounts"),
    Endpoint(
        "subaccounts",
        "GET",
        "/portfolio/subaccounts",
        guarded=False,
        pacing="portfolio-subaccounts",
    ),
    Endpoint("summary", "GET", "/portfolio/{account_id}/summary", guarded=False),
    Endpoint("ledger", "GET", "/portfolio/{account_id}/ledger", guarded=False),
    Endpoint("positions", "GET", "/portfolio/{account_id}/positions/{page}", guarded=False),
    Endpoint("position", "GET", "/portfolio/{account_id}/position/{conid}", guarded=False),
    Endpoint(
        "invalidate_positions",
        "POST",
        "/portfolio/{account_id}/positions/invalidate",
        guarded=False,
    ),
    Endpoint("allocation", "GET", "/portfolio/{account_id}/allocation", guarded=False),
    # market data
    Endpoint("snapshot", "GET", "/iserver/marketdata/snapshot", pacing="snapshot"),
    Endpoint("history", "GET", "/iserver/marketdata/history", pacing="history"),
    Endpoint("unsubscribe", "POST", "/iserver/marketdata/unsubscribe"),
    Endpoint("unsubscribe_all", "GET", "/iserver/marketdata/unsubscribeall"),
    Endpoint("scanner_params", "GET", "/iserver/scanner/params", pacing="scanner-params"),
    Endpoint("scanner_run", "POST", "/iserver/scanner/run", pacing="scanner-run"),
    # contracts
    Endpoint("search", "GET", "/iserver/secdef/search"),
    Endpoint("search_post", "POST", "/iserver/secdef/search"),
    Endpoint("contract_info", "GET", "/iserver/contract/{conid}/info"),
    Endpoint("contract_rules", "POST", "/iserver/contract/rules"),
    Endpoint("strikes", "GET", "/iserver/secdef/strikes"),
    Endpoint("secdef_info", "GET", "/iserver/secdef/info"),
    Endpoint("stocks", "GET", "/trsrv/stocks", guarded=False),
    Endpoint("futures", "GET", "/trsrv/futures", guarded=False),
    Endpoint("secdef", "GET", "/trsrv/secdef", guarded=False),
    Endpoint("schedule", "GET", "/trsrv/secdef/schedule", guarded=False),
    # orders
    Endpoint("orders", "GET", "/iserver/account/orders", pacing="orders", account_bound=True),
    Endpoint("trades", "GET", "/iserver/account/trades", pacing="trades", account_bound=True),
    Endpoint("order_status", "GET", "/iserver/account/order/status/{order_id}"),
    Endpoint(
        "place_order",
        "POST",
        "/iserver/account/{account_id}/orders",
        Kind.ORDER,
        asks=True,
        account_bound=True,
    ),
    Endpoint(
        "preview_order",
        "POST",
        "/iserver/account/{account_id}/orders/whatif",
        Kind.READ,
        account_bound=True,
    ),
    Endpoint(
        "modify_order",
        "POST",
        "/iserver/account/{account_id}/order/{order_id}",
        Kind.ORDER,
        asks=True,
        account_bound=True,
    ),
    Endpoint(
        "cancel_order",
        "DELETE",
        "/iserver/account/{account_id}/order/{order_id}",
        Kind.CANCEL,
        account_bound=True,
    ),
    Endpoint(
        "reply", "POST", "/iserver/reply/{reply_id}", Kind.REPLY, asks=True, account_bound=True
    ),
    # alerts and watchlists
    Endpoint("alerts", "GET", "/iserver/account/{account_id}/alerts"),
    Endpoint("create_alert", "POST", "/iserver/account/{account_id}/alert", Kind.CHANGE),
    Endpoint(
        "delete_alert", "DELETE", "/iserver/account/{account_id}/alert/{alert_id}", Kind.CANCEL
    ),
    Endpoint("watchlists", "GET", "/iserver/watchlists"),
    Endpoint("create_watchlist", "POST", "/iserver/watchlist", Kind.CHANGE),
    Endpoint("delete_watchlist", "DELETE", "/iserver/watchlist", Kind.CANCEL),
    # portfolio analyst and notifications
    Endpoint("performance", "POST", "/pa/performance", guarded=False, pacing="pa-performance"),
    Endpoint("pa_summary", "POST", "/pa/summary", guarded=False, pacing="pa-summary"),
    Endpoint("transactions", "POST", "/pa/transactions", guarded=False, pacing="pa-transactions"),
    Endpoint(
        "notifications", "GET", "/fyi/notifications", guarded=False, pacing="fyi-notifications"
    ),
    Endpoint("unread", "GET", "/fyi/unreadnumber", guarded=False, pacing="fyi-unreadnumber"),
    Endpoint("fyi_settings", "GET", "/fyi/settings", guarded=False, pacing="fyi-settings"),
    Endpoint(
        "disclaimer", "GET", "/fyi/disclaimer/{type_code}", guarded=False, pacing="fyi-disclaimer"
    ),
    Endpoint(
        "delivery_options",
        "GET",
        "/fyi/deliveryoptions",
        guarded=False,
        pacing="fyi-deliveryoptions",
    ),
)
"""The endpoints the client knows, one row each."""

_BY_NAME = {row.name: row for row in ENDPOINTS}
_STATIC = {(row.method, row.template): row for row in ENDPOINTS if "{" not in row.template}
_TEMPLATED = tuple(row for row in ENDPOINTS if "{" in row.template)


def endpoint(name: str) -> Endpoint:
    """The row called ``name`` (a programming error if there is none)."""
    return _BY_NAME[name]


@functools.lru_cache(maxsize=1024)
def endpoint_for(method: str, path: str) -> Endpoint:
    """The row of ``method path`` (path relative to ``/v1/api``, query string ignored).

    An unknown path gets a conservative row: guarded under ``/iserver/`` (but not
    ``/iserver/auth/``), a read for GET and a change (never retried) otherwise, paced by
    the gateway's 10/s; under ``/fyi/`` its own 1/s.
    """
    bare = path.split("?", 1)[0]
    row = _STATIC.get((method, bare))
    if row is not None:
        return row
    for row in _TEMPLATED:
        if row.matches(method, bare):
            return row
    guarded = bare.startswith("/iserver/") and not bare.startswith("/iserver/auth/")
    return Endpoint(
        f"{method} {bare}",
        method,
        bare.replace("{", "(").replace("}", ")"),
        Kind.READ if method == "GET" else Kind.CHANGE,
        guarded=guarded,
        pacing="fyi-notifications" if bare.startswith("/fyi/") else None,
    )
