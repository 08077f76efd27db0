"""Typed views of the gateway's answers, offered beside the raw JSON, never instead of it.

The 19 methods return the gateway's JSON unchanged (the reference's recipes index into it);
these views are for code that wants numbers and datetimes instead: ``"1,300"`` → 1300.0,
``"87K"`` → 87000.0, ``"C168.42"`` → 168.42 flagged as the prior close, epoch milliseconds
(seconds, for the ledger) → aware UTC datetimes.

Every view keeps the fields it does not know (``extra="allow"``), so nothing the gateway
sends is lost, and is built with ``from_json(payload)``. An answer of the wrong shape
raises ``IbkrAPIError(code="malformed")`` naming the view, never ``KeyError`` or a pydantic
error; a missing optional value is ``None``.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from ibkr_session.core import AuthStatus as SessionAuthStatus
from ibkr_session.errors import IbkrAPIError
from ibkr_session.transport import order_question

__all__ = [
    "Account",
    "AuthStatus",
    "Bar",
    "Contract",
    "History",
    "LedgerEntry",
    "Order",
    "OrderReply",
    "Position",
    "Quote",
    "parse_number",
]

_SUFFIXES = {"K": 1e3, "M": 1e6, "B": 1e9}
_MISSING = frozenset({"", "-", "N/A", "n/a"})


def parse_number(value: object) -> float | None:
    """A number as IBKR formats it: ``"1,300"``, ``"1.2M"``, ``"0.54%"``, ``"C168.42"``.

    A leading ``C`` (prior close) or ``H`` (halted) is dropped here; ``Quote`` reads it.
    ``None``, ``""``, ``"-"`` and ``"N/A"`` mean no value. Anything else unreadable raises
    ``ValueError``.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, int | float):
        text = str(value)
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError(f"not a number: {value!r}")
    text = text.strip().replace(",", "")
    if text in _MISSING:
        return None
    text = text.removesuffix("%")
    if text[:1] in {"C", "H"}:
        text = text[1:]
    scale = _SUFFIXES.get(text[-1:].upper(), 1.0)
    if scale != 1.0:
        text = text[:-1]
    try:
        number = float(text) * scale
    except ValueError:
        raise ValueError(f"not a number: {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"not a finite number: {value!r}")
    return number


def _epoch(value: object, *, unit: float) -> _dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"not an epoch timestamp: {value!r}")
    try:
        return _dt.datetime.fromtimestamp(value / unit, tz=_dt.UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"timestamp out of range: {value!r}") from None


def _from_millis(value: object) -> _dt.datetime | None:
    return _epoch(value, unit=1000.0)


def _from_seconds(value: object) -> _dt.datetime | None:
    return _epoch(value, unit=1.0)


def _id_text(value: object) -> str | None:
    """Ids the gateway sends as numbers or strings (order ids), normalised to ``str``."""
    if value is None or (isinstance(value, str) and not value):
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"not an id: {value!r}")
    return str(value)


Number = Annotated[float | None, BeforeValidator(parse_number)]
Millis = Annotated[_dt.datetime | None, BeforeValidator(_from_millis)]
Seconds = Annotated[_dt.datetime | None, BeforeValidator(_from_seconds)]
Id = Annotated[str | None, BeforeValidator(_id_text)]


def _alias(*names: str) -> Any:
    """A field read from the first of the gateway's ``names`` present."""
    return Field(default=None, validation_alias=AliasChoices(*names))


class _View(BaseModel):
    """Shared behaviour: unknown fields kept, read-only, shape errors become IbkrAPIError."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    @classmethod
    def from_json(cls, payload: object) -> Self:
        """Build the view from one JSON object of the gateway's answer."""
        if not isinstance(payload, Mapping):
            raise _malformed(cls, payload, "expected a JSON object")
        try:
            return cls.model_validate(payload)
        except ValidationError as exc:
            raise _malformed(cls, payload, _describe(exc)) from None

    @classmethod
    def list_from_json(cls, payload: object) -> list[Self]:
        """Build one view per element of a JSON array (positions, accounts, quotes, ...)."""
        if not isinstance(payload, list):
            raise _malformed(cls, payload, "expected a JSON array")
        return [cls.from_json(item) for item in payload]


def _malformed(view: type[BaseModel], payload: object, reason: str) -> IbkrAPIError:
    """The error for an answer that does not have the shape the view expects."""
    return IbkrAPIError("malformed", f"unexpected {view.__name__} payload: {reason}", body=payload)


def _describe(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "payload"
    return f"{where}: {error['msg'].removeprefix('Value error, ')}"


# --- market data -------------------------------------------------------------------------


_QUOTE_TAGS = {
    "31": "last",
    "84": "bid",
    "86": "ask",
    "88": "bid_size",
    "85": "ask_size",
    "7059": "last_size",
    "70": "high",
    "71": "low",
    "82": "change",
    "83": "change_percent",
    "6509": "availability",
    "_updated": "updated",
}
"""Snapshot field tags (IBKR-FACTS §5) → ``Quote`` field names."""


class Quote(_View):
    """One snapshot row. Tags: 31 last, 84 bid, 86 ask, 88/85 bid/ask size, 7059 last size,
    87 volume (7762 when 87 is absent), 70/71 high/low, 82/83 change/%, 6509 availability.

    A pre-flight row (only ``conid``) gives a quote whose prices are all ``None``.
    """

    conid: int
    last: Number = None
    bid: Number = None
    ask: Number = None
    bid_size: Number = None
    ask_size: Number = None
    last_size: Number = None
    volume: Number = None
    high: Number = None
    low: Number = None
    change: Number = None
    change_percent: Number = None
    is_prior_close: bool = False
    is_halted: bool = False
    updated: Millis = None
    availability: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _read_tags(cls, row: Any) -> Any:
        if not isinstance(row, Mapping):
            return row
        named = {name: row[tag] for tag, name in _QUOTE_TAGS.items() if tag in row}
        volume = row.get("87", row.get("7762"))
        last = row.get("31")
        marker = last.strip()[:1] if isinstance(last, str) else ""
        conid = row.get("conid", row.get("conidEx"))
        return {
            **row,
            **named,
            "conid": conid,
            "volume": volume,
            "is_prior_close": marker == "C",
            "is_halted": marker == "H",
        }


class Bar(_View):
    """One history bar; ``time`` is the bar's start (``t``, epoch ms)."""

    open: float = Field(validation_alias=AliasChoices("o", "open"))
    high: float = Field(validation_alias=AliasChoices("h", "high"))
    low: float = Field(validation_alias=AliasChoices("l", "low"))
    close: float = Field(validation_alias=AliasChoices("c", "close"))
    volume: Number = _alias("v", "volume")
    time: Annotated[_dt.datetime, BeforeValidator(_from_millis)] = Field(
        validation_alias=AliasChoices("t", "time")
    )


class History(_View):
    """``get_historical_data``'s answer: the bars plus what they describe."""

    symbol: str | None = None
    text: str | None = None
    bars: list[Bar] = Field(default_factory=list, validation_alias=AliasChoices("data", "bars"))
    time_period: str | None = _alias("timePeriod", "time_period")
    bar_length: int | None = _alias("barLength", "bar_length")
    start_time: str | None = _alias("startTime", "start_time")
    price_factor: Number = _alias("priceFactor", "price_factor")
    outside_rth: bool | None = _alias("outsideRth", "outside_rth")
    points: int | None = None


# --- portfolio ---------------------------------------------------------------------------


class Account(_View):
    """One element of ``get_accounts`` / ``get_subaccounts``."""

    account_id: str = Field(validation_alias=AliasChoices("accountId", "id", "account_id"))
    title: str | None = _alias("accountTitle", "title")
    display_name: str | None = _alias("displayName", "display_name")
    alias: str | None = _alias("accountAlias", "alias")
    currency: str | None = None
    type: str | None = None
    trading_type: str | None = _alias("tradingType", "trading_type")
    faclient: bool | None = None


class Position(_View):
    """One element of ``get_positions``."""

    conid: int
    account_id: str | None = _alias("acctId", "account_id")
    description: str | None = _alias("contractDesc", "description")
    position: Number = None
    market_price: Number = _alias("mktPrice", "market_price")
    market_value: Number = _alias("mktValue", "market_value")
    currency: str | None = None
    avg_cost: Number = _alias("avgCost", "avg_cost")
    avg_price: Number = _alias("avgPrice", "avg_price")
    realized_pnl: Number = _alias("realizedPnl", "realized_pnl")
    unrealized_pnl: Number = _alias("unrealizedPnl", "unrealized_pnl")
    asset_class: str | None = _alias("assetClass", "asset_class")


class LedgerEntry(_View):
    """One currency of ``get_ledger`` (``timestamp`` is in *seconds* there, not ms)."""

    currency: str | None = None
    cash_balance: Number = _alias("cashbalance", "cash_balance")
    net_liquidation_value: Number = _alias("netliquidationvalue", "net_liquidation_value")
    unrealized_pnl: Number = _alias("unrealizedpnl", "unrealized_pnl")
    realized_pnl: Number = _alias("realizedpnl", "realized_pnl")
    stock_market_value: Number = _alias("stockmarketvalue", "stock_market_value")
    settled_cash: Number = _alias("settledcash", "settled_cash")
    exchange_rate: Number = _alias("exchangerate", "exchange_rate")
    timestamp: Seconds = None

    @classmethod
    def by_currency(cls, payload: object) -> dict[str, LedgerEntry]:
        """The whole ledger answer, keyed like the gateway's (``"USD"``, ``"BASE"``, ...)."""
        if not isinstance(payload, Mapping):
            raise _malformed(cls, payload, "expected a JSON object keyed by currency")
        return {str(key): cls.from_json(entry) for key, entry in payload.items()}


# --- orders ------------------------------------------------------------------------------


class Order(_View):
    """One live order of ``get_orders``; ``coid`` is the cOID we sent (``order_ref``)."""

    order_id: Annotated[str, BeforeValidator(_id_text)] = Field(
        validation_alias=AliasChoices("orderId", "order_id")
    )
    account_id: str | None = _alias("acct", "account", "account_id")
    conid: int | None = None
    ticker: str | None = None
    side: str | None = None
    status: str | None = None
    order_type: str | None = _alias("orderType", "order_type")
    total_size: Number = _alias("totalSize", "total_size")
    filled_quantity: Number = _alias("filledQuantity", "filled_quantity")
    remaining_quantity: Number = _alias("remainingQuantity", "remaining_quantity")
    price: Number = None
    avg_price: Number = _alias("avgPrice", "avg_price")
    time_in_force: str | None = _alias("timeInForce", "time_in_force")
    coid: Id = _alias("order_ref", "cOID", "coid")
    last_execution: Millis = _alias("lastExecutionTime_r", "last_execution")

    @classmethod
    def list_from_json(cls, payload: object) -> list[Self]:
        """The orders of ``get_orders``'s ``{"orders": [...], "snapshot": ...}`` (or a list)."""
        if isinstance(payload, Mapping):
            payload = payload.get("orders", [])
        return super().list_from_json(payload)


class OrderReply(_View):
    """What ``place_order``/``modify_order``/``reply_to_order`` answered, by ``kind``:

    - ``"submitted"``: ``order_id`` and ``order_status`` of the accepted order;
    - ``"question"``: ``question_id`` to pass to ``reply_to_order``, ``message_ids`` (match
      on these, never on the text) and the human ``messages``;
    - ``"rejected"``: the gateway's ``error`` text; nothing traded.
    """

    kind: Literal["submitted", "question", "rejected"]
    order_id: Id = None
    order_status: str | None = None
    question_id: Id = None
    message_ids: list[str] = Field(default_factory=list)
    messages: list[str] = Field(default_factory=list)
    error: str | None = None

    @classmethod
    def from_json(cls, payload: object) -> Self:
        """Accepts the gateway's list (its first element decides) or a bare object."""
        first = payload[0] if isinstance(payload, list) and payload else payload
        if not isinstance(first, Mapping):
            raise _malformed(cls, payload, "expected a non-empty JSON array or an object")
        kind = _reply_kind(cls, first)
        fields = _question_fields(first) if kind == "question" else {}
        return super().from_json({**first, **fields, "kind": kind})


def _reply_kind(view: type[BaseModel], reply: Mapping[str, Any]) -> str:
    if "error" in reply:
        return "rejected"
    if order_question([reply]) is not None:  # the one rule, shared with the session
        return "question"
    if "order_id" in reply:
        return "submitted"
    raise _malformed(view, reply, "neither an order, a question nor an error")


def _question_fields(reply: Mapping[str, Any]) -> dict[str, Any]:
    messages = reply.get("message", [])
    return {
        "question_id": reply.get("id"),
        "message_ids": reply.get("messageIds", []),
        "messages": [messages] if isinstance(messages, str) else messages,
    }


# --- session and contracts ---------------------------------------------------------------


class AuthStatus(_View):
    """``auth_status``'s answer, or the ``iserver.authStatus`` inside ``tickle``'s."""

    authenticated: bool
    competing: bool = False
    connected: bool = True
    established: bool | None = None
    message: str | None = None
    mac: str | None = _alias("MAC", "mac")
    fail: str | None = None

    @classmethod
    def from_json(cls, payload: object) -> Self:
        """Read through the session's own reader (``ibkr_session.core.AuthStatus``), so the
        view and the session never disagree (a missing ``connected`` means connected)."""
        verdict = SessionAuthStatus.from_answer(payload)
        if verdict is None or not isinstance(payload, Mapping):
            raise _malformed(cls, payload, "no authStatus with 'authenticated' in the answer")
        nested = payload.get("iserver")
        inner = nested.get("authStatus") if isinstance(nested, Mapping) else None
        status = inner if isinstance(inner, Mapping) else payload
        return super().from_json(
            {
                **status,
                "authenticated": verdict.authenticated,
                "competing": verdict.competing,
                "connected": verdict.connected,
            }
        )


class Contract(_View):
    """A ``search_contract`` row or ``get_contract_details``' answer (``conid`` → int)."""

    conid: int = Field(validation_alias=AliasChoices("conid", "con_id"))
    symbol: str | None = None
    company_name: str | None = _alias("companyName", "company_name")
    description: str | None = None
    sec_type: str | None = _alias("instrument_type", "sec_type")
    exchange: str | None = None
    currency: str | None = None
    local_symbol: str | None = None
    trading_class: str | None = None
    sections: list[dict[str, Any]] = Field(default_factory=list)
