"""Argument checks for the methods beyond the 19 (issue 13): bad input fails here, unsent.

Same contract as ``ibkr_api.validation`` (whose field types these models reuse):
``validate(Model, **arguments)`` returns the normalised arguments or raises
``InvalidRequestError`` naming the field; a pydantic error never escapes. Multi-leg orders
name the leg too: ``orders[1].price``.

Ids that go into a URL path are checked again by ``ibkr_session.endpoints.segment`` when
the path is built; query and body values are normalised here (upper-cased codes, conids
as ``int``, symbols stripped), so the request is the same whatever spelling came in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar

from pydantic import BeforeValidator, StrictBool, model_validator

from ibkr_api.validation import (
    MAX_CONID,
    MAX_PRICE,
    SEC_TYPES,
    AccountId,
    Conid,
    OrderId,
    PlaceOrderArgs,
    Price,
    Quantity,
    _Arguments,
    validate,
)
from ibkr_session.errors import InvalidRequestError

__all__ = [
    "ALLOCATION_PAGES",
    "BALANCE_PAGES",
    "MAX_CHAIN_STRIKES",
    "MAX_GROUP_LEGS",
    "PERFORMANCE_PERIODS",
    "SCHEDULE_ASSET_CLASSES",
    "STRIKE_SEC_TYPES",
    "AccountArgs",
    "AlertIdArgs",
    "ContractRulesArgs",
    "CreateAlertArgs",
    "CreateWatchlistArgs",
    "GetAccountBalancesArgs",
    "GetOptionChainArgs",
    "GetOptionStrikesArgs",
    "GetOrderStatusArgs",
    "GetPerformanceArgs",
    "GetSecdefArgs",
    "GetSecdefInfoArgs",
    "GetTradesArgs",
    "GetTradingScheduleArgs",
    "GetTransactionsArgs",
    "NotificationsArgs",
    "OrderLeg",
    "PlaceBracketOrderArgs",
    "PositionArgs",
    "PreviewOrderArgs",
    "RequestArgs",
    "RunScannerArgs",
    "SearchSymbolsArgs",
    "UnsubscribeArgs",
    "WatchlistIdArgs",
    "check_legs",
    "validate",
]

MAX_TRADE_DAYS = 7
"""``/iserver/account/trades?days=`` looks back at most 7 days (IBKR's spec)."""

MAX_SECDEF_CONIDS = 200
"""IBKR-FACTS §3: ``/trsrv/secdef`` takes at most 200 conids per request (the client splits)."""

MAX_GROUP_LEGS = 20
"""Legs of one ``place_orders`` group: more than a bracket or an OCA ladder needs, few
enough that reconciling them leg by leg stays quick."""

MAX_CHAIN_STRIKES = 40
"""Strikes ``get_option_chain`` asks ``/iserver/secdef/info`` about (two requests each)."""

MAX_NOTIFICATIONS = 100
MAX_TRANSACTION_DAYS = 3650

BALANCE_PAGES = frozenset({"available_funds", "balances", "margins", "market_value"})
"""Sub-pages of ``/iserver/account/{id}/summary`` (IBKR's spec)."""

ALLOCATION_PAGES = frozenset({"assetClass", "sector", "group"})

STRIKE_SEC_TYPES = frozenset({"OPT", "FOP", "WAR"})
INFO_SEC_TYPES = SEC_TYPES | STRIKE_SEC_TYPES
SCHEDULE_ASSET_CLASSES = frozenset({"STK", "OPT", "FUT", "CFD", "WAR", "SWP", "FND", "BND", "ICS"})
PERFORMANCE_PERIODS = ("1D", "7D", "MTD", "1M", "3M", "6M", "12M", "YTD")
BRACKET_ENTRY_TYPES = frozenset({"LMT", "STP"})

_MONTH = re.compile(r"[A-Z]{3}[0-9]{2}")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_SYMBOL_TEXT = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._/\-&]{0,31}")
_WATCHLIST_ID = re.compile(r"[0-9]{1,18}")
_ACCOUNT = re.compile(r"[A-Z]{1,4}[0-9]{1,12}")


# --- field rules -----------------------------------------------------------------------


def _word(choices: frozenset[str] | tuple[str, ...]) -> Callable[[object], str]:
    """A case-insensitive choice, normalised to upper case."""
    listed = ", ".join(sorted(choices) if isinstance(choices, frozenset) else choices)

    def check(value: object) -> str:
        if not isinstance(value, str) or value.upper() not in choices:
            raise ValueError(f"must be one of {listed}")
        return value.upper()

    return check


def _code(value: object) -> str:
    """An exchange, instrument, scan type or location code (``SMART``, ``STK.US.MAJOR``)."""
    if not isinstance(value, str) or _CODE.fullmatch(value) is None:
        raise ValueError("must be a code like 'SMART' or 'STK.US.MAJOR' (letters, digits, _ . -)")
    return value


def _optional_code(value: object) -> str | None:
    return None if value is None else _code(value)


def _month(value: object) -> str:
    """An option month as IBKR writes it: ``JAN25`` (any case in, upper case out)."""
    if isinstance(value, str) and _MONTH.fullmatch(value.upper()):
        return value.upper()
    raise ValueError("must be a contract month like 'JAN25'")


def _optional_month(value: object) -> str | None:
    return None if value is None else _month(value)


def _symbol_text(value: object) -> str:
    """A ticker for ``/trsrv/*`` queries: no commas (they separate symbols), no controls."""
    if isinstance(value, str) and _SYMBOL_TEXT.fullmatch(value.strip()):
        return value.strip().upper()
    raise ValueError("must be a ticker like 'AAPL' or 'BRK B' (no commas)")


def _int_in(low: int, high: int) -> Callable[[object], int]:
    def check(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"must be an integer from {low} to {high}")
        return value

    return check


def _optional_int_in(low: int, high: int) -> Callable[[object], int | None]:
    inner = _int_in(low, high)
    return lambda value: None if value is None else inner(value)


def _conid_rule(value: object) -> int:
    """The conid rule of ``ibkr_api.validation``: a positive 32-bit int or its digits."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_CONID:
        raise ValueError(f"must be a positive integer conid (like 265598) up to {MAX_CONID}")
    return value


_T = TypeVar("_T")


def _many(
    rule: Callable[[object], _T], *, noun: str, most: int | None, one_ok: bool = True
) -> Callable[[object], list[_T]]:
    """One item (when ``one_ok``) or a list/tuple of 1..``most`` items, each checked."""

    def check(value: object) -> list[_T]:
        if not isinstance(value, list | tuple):
            if not one_ok:
                raise ValueError(f"must be a list of {noun}s")
            return [rule(value)]
        if not value:
            raise ValueError(f"must name at least one {noun}")
        if most is not None and len(value) > most:
            raise ValueError(f"at most {most} {noun}s")
        checked = []
        for index, item in enumerate(value):
            try:
                checked.append(rule(item))
            except ValueError as exc:
                raise ValueError(f"item {index} ({item!r}) {exc}") from None
        return checked

    return check


def _right(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and value.upper() in {"C", "P", "CALL", "PUT"}:
        return value.upper()[0]
    raise ValueError("must be 'C' or 'P' (or 'CALL' / 'PUT')")


def _optional_price(value: object) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    if not math.isfinite(value) or not 0 < value <= MAX_PRICE:
        raise ValueError(f"must be a positive finite number up to {MAX_PRICE:g}")
    return value


def _text(most: int) -> Callable[[object], str]:
    def check(value: object) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ValueError("must be a non-empty string")
        if len(value) > most or not value.isprintable():
            raise ValueError(f"must be printable and at most {most} characters")
        return value

    return check


def _json_value(value: object, depth: int = 0) -> object:
    """Plain JSON (what a condition or filter may hold): no NaN, no objects of classes."""
    if depth > 8:
        raise ValueError("is nested too deeply")
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("must not hold NaN or infinity")
        return value
    if isinstance(value, list | tuple):
        return [_json_value(item, depth + 1) for item in value]
    if isinstance(value, Mapping) and all(isinstance(key, str) for key in value):
        return {key: _json_value(item, depth + 1) for key, item in value.items()}
    raise ValueError("must be plain JSON (str, number, bool, None, lists, str-keyed dicts)")


def _condition(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not value:
        raise ValueError("must be a non-empty dict like IBKR's alert condition objects")
    checked = _json_value(value)
    assert isinstance(checked, dict)
    return checked


def _filter(value: object) -> dict[str, Any]:
    """A scanner filter: ``{"code": "priceAbove", "value": 5}`` or ``("priceAbove", 5)``."""
    if isinstance(value, tuple) and len(value) == 2:
        value = {"code": value[0], "value": value[1]}
    if not isinstance(value, Mapping) or set(value) != {"code", "value"}:
        raise ValueError("must be {'code': ..., 'value': ...} or a (code, value) pair")
    code = value["code"]
    if not isinstance(code, str) or _CODE.fullmatch(code) is None:
        raise ValueError("code must be a filter code like 'priceAbove'")
    item = value["value"]
    if isinstance(item, list | tuple | Mapping):
        raise ValueError("value must be a string, a number or a bool")
    return {"code": code, "value": _json_value(item)}


def _filters(value: object) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, list | tuple):
        raise ValueError("must be a list of filters")
    if len(value) > 50:
        raise ValueError("at most 50 filters")
    checked = []
    for index, item in enumerate(value):
        try:
            checked.append(_filter(item))
        except ValueError as exc:
            raise ValueError(f"item {index} {exc}") from None
    return tuple(checked)


def _currency(value: object) -> str:
    if isinstance(value, str) and _CURRENCY.fullmatch(value.upper()):
        return value.upper()
    raise ValueError("must be a 3-letter currency code like 'USD'")


def _watchlist_id(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        value = str(value)
    if isinstance(value, str) and _WATCHLIST_ID.fullmatch(value):
        return value
    raise ValueError("must be a numeric watchlist id like '1234'")


def _method(value: object) -> str:
    if isinstance(value, str) and value.upper() in {"GET", "POST", "PUT", "DELETE"}:
        return value.upper()
    raise ValueError("must be GET, POST, PUT or DELETE")


def _relative_path(value: object) -> str:
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        raise ValueError("must be a path relative to /v1/api, like '/iserver/accounts'")
    if "?" in value or "#" in value or "\\" in value or not value.isprintable():
        raise ValueError("must not hold '?', '#', '\\' or control characters (use params=)")
    if any(part in {".", ".."} for part in value.split("/")) or " " in value:
        raise ValueError("must not hold '.', '..' segments or spaces")
    return value


def _params(value: object) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise ValueError("must be a dict of str keys")
    checked: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, bool):
            checked[key] = "true" if item else "false"
        elif isinstance(item, int | str) or (isinstance(item, float) and math.isfinite(item)):
            checked[key] = str(item)
        else:
            raise ValueError(f"value of {key!r} must be a string, a number or a bool")
    return checked


Month = Annotated[str, BeforeValidator(_month)]
Code = Annotated[str, BeforeValidator(_code)]
OptionalCode = Annotated[str | None, BeforeValidator(_optional_code)]
Conids = Annotated[list[int], BeforeValidator(_many(_conid_rule, noun="conid", most=None))]
AccountIds = Annotated[
    list[str],
    BeforeValidator(_many(lambda value: _account(value), noun="account id", most=50)),
]


def _account(value: object) -> str:
    """An account id in a JSON body: the rule of ``validation.AccountId`` (capital letters,
    then digits)."""
    if not isinstance(value, str) or _ACCOUNT.fullmatch(value) is None:
        raise ValueError("must be an IBKR account id: capital letters then digits, like U1234567")
    return value


# --- the models ------------------------------------------------------------------------


class AccountArgs(_Arguments):
    """Any method whose one argument is ``account_id``."""

    account_id: AccountId


class GetOrderStatusArgs(_Arguments):
    """``get_order_status(order_id)``."""

    order_id: OrderId


class GetTradesArgs(_Arguments):
    """``get_trades(days=None, account_id=None)``: ``days`` 1-7."""

    days: Annotated[int | None, BeforeValidator(_optional_int_in(1, MAX_TRADE_DAYS))] = None
    account_id: AccountId | None = None


class PreviewOrderArgs(PlaceOrderArgs):
    """``preview_order(...)``: exactly ``place_order``'s arguments (a what-if of it)."""


class GetAccountBalancesArgs(_Arguments):
    """``get_account_balances(account_id, page=None)``."""

    account_id: AccountId
    page: Annotated[str | None, BeforeValidator(lambda v: None if v is None else _page(v))] = None


def _page(value: object) -> str:
    if isinstance(value, str) and value.lower() in BALANCE_PAGES:
        return value.lower()
    raise ValueError(f"must be one of {', '.join(sorted(BALANCE_PAGES))}")


class PositionArgs(_Arguments):
    """``get_position(account_id, conid)``."""

    account_id: AccountId
    conid: Conid


class SearchSymbolsArgs(_Arguments):
    """``search_stocks(symbols)`` / ``search_futures(symbols, exchange=None)``."""

    symbols: Annotated[
        list[str], BeforeValidator(_many(_symbol_text, noun="symbol", most=MAX_SECDEF_CONIDS))
    ]
    exchange: OptionalCode = None


class GetSecdefArgs(_Arguments):
    """``get_secdef(conids)``: any number (split into requests of 200)."""

    conids: Conids


class GetTradingScheduleArgs(_Arguments):
    """``get_trading_schedule(asset_class, symbol, exchange=None)``."""

    asset_class: Annotated[str, BeforeValidator(_word(SCHEDULE_ASSET_CLASSES))]
    symbol: Annotated[str, BeforeValidator(_symbol_text)]
    exchange: OptionalCode = None


class GetOptionStrikesArgs(_Arguments):
    """``get_option_strikes(conid, month, sec_type="OPT", exchange="SMART")``."""

    conid: Conid
    month: Month
    sec_type: Annotated[str, BeforeValidator(_word(STRIKE_SEC_TYPES))] = "OPT"
    exchange: Code = "SMART"


class GetSecdefInfoArgs(_Arguments):
    """``get_secdef_info(conid, sec_type, month=None, strike=None, right=None,
    exchange=None)``; options need ``month``, ``strike`` and ``right`` together."""

    conid: Conid
    sec_type: Annotated[str, BeforeValidator(_word(INFO_SEC_TYPES))]
    month: Annotated[str | None, BeforeValidator(_optional_month)] = None
    strike: Annotated[float | int | None, BeforeValidator(_optional_price)] = None
    right: Annotated[str | None, BeforeValidator(_right)] = None
    exchange: OptionalCode = None

    @model_validator(mode="after")
    def _options_name_a_contract(self) -> GetSecdefInfoArgs:
        if self.sec_type in STRIKE_SEC_TYPES:
            for name in ("month", "strike", "right"):
                if getattr(self, name) is None:
                    raise InvalidRequestError(
                        f"{name}=None: {self.sec_type} needs month, strike and right",
                        field=name,
                    )
        return self


class GetOptionChainArgs(_Arguments):
    """``get_option_chain(conid, month, exchange="SMART", strikes_near=None, *,
    max_strikes=10)``: ``strikes_near`` is a price; the ``max_strikes`` strikes closest to
    it (to the middle of the list without it) are asked about."""

    conid: Conid
    month: Month
    exchange: Code = "SMART"
    strikes_near: Annotated[float | int | None, BeforeValidator(_optional_price)] = None
    max_strikes: Annotated[int, BeforeValidator(_int_in(1, MAX_CHAIN_STRIKES))] = 10


class ContractRulesArgs(_Arguments):
    """``get_contract_rules(conid, is_buy=True)``."""

    conid: Conid
    is_buy: StrictBool = True


class UnsubscribeArgs(_Arguments):
    """``unsubscribe_market_data(conids)``: one conid or up to 100."""

    conids: Annotated[list[int], BeforeValidator(_many(_conid_rule, noun="conid", most=100))]


class RunScannerArgs(_Arguments):
    """``run_scanner(instrument, scan_type, location, filters=())``."""

    instrument: Code
    scan_type: Code
    location: Code
    filters: Annotated[tuple[dict[str, Any], ...], BeforeValidator(_filters)] = ()


class CreateAlertArgs(_Arguments):
    """``create_alert(account_id, name, message, conditions, *, repeatable=False,
    outside_rth=False, tif="GTC", email=None, expire_time=None, send_message=False,
    show_popup=False)``; ``conditions`` are IBKR's condition objects, sent as given."""

    account_id: AccountId
    name: Annotated[str, BeforeValidator(_text(200))]
    message: Annotated[str, BeforeValidator(_text(1000))]
    conditions: Annotated[
        list[dict[str, Any]], BeforeValidator(_many(_condition, noun="condition", most=5))
    ]
    repeatable: StrictBool = False
    outside_rth: StrictBool = False
    tif: Annotated[str, BeforeValidator(_word(frozenset({"GTC", "GTD"})))] = "GTC"
    email: Annotated[str | None, BeforeValidator(lambda v: None if v is None else _email(v))] = None
    expire_time: Annotated[
        str | None, BeforeValidator(lambda v: None if v is None else _expire(v))
    ] = None
    send_message: StrictBool = False
    show_popup: StrictBool = False

    @model_validator(mode="after")
    def _gtd_expires(self) -> CreateAlertArgs:
        if self.tif == "GTD" and self.expire_time is None:
            raise InvalidRequestError("expire_time=None: GTD alerts need one", field="expire_time")
        return self

    def to_gateway(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "alertName": self.name,
            "alertMessage": self.message,
            "alertRepeatable": int(self.repeatable),
            "outsideRth": int(self.outside_rth),
            "sendMessage": int(self.send_message),
            "showPopup": int(self.show_popup),
            "iTWSOrdersOnly": 0,
            "tif": self.tif,
            "conditions": self.conditions,
        }
        if self.email is not None:
            body["email"] = self.email
        if self.expire_time is not None:
            body["expireTime"] = self.expire_time
        return body


def _email(value: object) -> str:
    if isinstance(value, str) and re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        return value
    raise ValueError("must be an e-mail address")


def _expire(value: object) -> str:
    if isinstance(value, str) and re.fullmatch(r"[0-9]{8}-[0-9]{2}:[0-9]{2}:[0-9]{2}", value):
        return value
    raise ValueError("must be a time like '20251231-12:00:00'")


class AlertIdArgs(_Arguments):
    """``delete_alert(account_id, alert_id)``."""

    account_id: AccountId
    alert_id: OrderId


class CreateWatchlistArgs(_Arguments):
    """``create_watchlist(watchlist_id, name, conids)``."""

    watchlist_id: Annotated[str, BeforeValidator(_watchlist_id)]
    name: Annotated[str, BeforeValidator(_text(100))]
    conids: Annotated[list[int], BeforeValidator(_many(_conid_rule, noun="conid", most=500))]


class WatchlistIdArgs(_Arguments):
    """``delete_watchlist(watchlist_id)``."""

    watchlist_id: Annotated[str, BeforeValidator(_watchlist_id)]


class GetPerformanceArgs(_Arguments):
    """``get_performance(account_ids, period="1M")``."""

    account_ids: AccountIds
    period: Annotated[str, BeforeValidator(_word(PERFORMANCE_PERIODS))] = "1M"


class GetTransactionsArgs(_Arguments):
    """``get_transactions(account_ids, conids, currency="USD", days=90)``."""

    account_ids: AccountIds
    conids: Conids
    currency: Annotated[str, BeforeValidator(_currency)] = "USD"
    days: Annotated[int, BeforeValidator(_int_in(1, MAX_TRANSACTION_DAYS))] = 90


class NotificationsArgs(_Arguments):
    """``get_notifications(limit=10)``."""

    limit: Annotated[int, BeforeValidator(_int_in(1, MAX_NOTIFICATIONS))] = 10


class RequestArgs(_Arguments):
    """``request(method, path, *, params=None, json=None)``: the escape hatch."""

    method: Annotated[str, BeforeValidator(_method)]
    path: Annotated[str, BeforeValidator(_relative_path)]
    params: Annotated[dict[str, str] | None, BeforeValidator(_params)] = None
    json_body: Annotated[object, BeforeValidator(_json_value)] = None


# --- multi-leg orders ------------------------------------------------------------------


class OrderLeg(PlaceOrderArgs):
    """One leg of ``place_orders``: ``place_order``'s keyword arguments (``account_id``
    comes from the group) plus ``parent_coid``, the cOID of an earlier leg it hangs on."""

    parent_coid: Annotated[str | None, BeforeValidator(lambda v: None if v is None else _pc(v))] = (
        None
    )

    def to_gateway(self) -> dict[str, Any]:
        order = super().to_gateway()
        if self.parent_coid is not None:
            order["parentId"] = self.parent_coid
        return order


def _pc(value: object) -> str:
    if isinstance(value, str) and value and len(value) <= 64 and value.isprintable():
        return value
    raise ValueError("must be the cOID of an earlier leg")


def check_legs(account_id: object, orders: object) -> tuple[str, list[OrderLeg]]:
    """``place_orders``' arguments: the account and 1..``MAX_GROUP_LEGS`` leg mappings.

    A bad leg raises ``InvalidRequestError`` whose field is ``orders[i].<field>``. cOIDs
    (given ones) must be unique; a ``parent_coid`` must name an earlier leg's cOID.
    """
    account = validate(AccountArgs, account_id=account_id).account_id
    if not isinstance(orders, list | tuple) or not orders:
        raise InvalidRequestError(
            f"orders={orders!r:.60}: must be a non-empty list of order dicts", field="orders"
        )
    if len(orders) > MAX_GROUP_LEGS:
        raise InvalidRequestError(
            f"orders: at most {MAX_GROUP_LEGS} legs per group, got {len(orders)}",
            field="orders",
        )
    legs: list[OrderLeg] = []
    for index, leg in enumerate(orders):
        where = f"orders[{index}]"
        if not isinstance(leg, Mapping) or not all(isinstance(key, str) for key in leg):
            raise InvalidRequestError(f"{where}: must be a dict of order fields", field=where)
        if "account_id" in leg:
            raise InvalidRequestError(
                f"{where}.account_id: a group's legs use the group's account", field=where
            )
        try:
            legs.append(validate(OrderLeg, account_id=account, **leg))
        except InvalidRequestError as exc:
            field = f"{where}.{exc.field}" if exc.field else where
            raise InvalidRequestError(f"{where}.{exc}", field=field) from None
    seen: set[str] = set()
    for index, checked in enumerate(legs):
        where = f"orders[{index}]"
        if checked.parent_coid is not None and checked.parent_coid not in seen:
            raise InvalidRequestError(
                f"{where}.parent_coid={checked.parent_coid!r}: names no earlier leg's coid",
                field=f"{where}.parent_coid",
            )
        if checked.coid is not None:
            if checked.coid in seen:
                raise InvalidRequestError(
                    f"{where}.coid={checked.coid!r}: used by another leg", field=f"{where}.coid"
                )
            seen.add(checked.coid)
    return account, legs


class PlaceBracketOrderArgs(_Arguments):
    """``place_bracket_order(account_id, conid, side, quantity, price, take_profit,
    stop_loss, order_type="LMT", tif="GTC", *, coid=None, outside_rth=False)``.

    The entry (LMT at ``price``, or STP triggered at ``price``) and two exits on the other
    side: a limit at ``take_profit`` and a stop at ``stop_loss``. A BUY needs
    ``stop_loss < price < take_profit``, a SELL the reverse: anything else would fill an
    exit at once.
    """

    account_id: AccountId
    conid: Conid
    side: Annotated[str, BeforeValidator(_word(frozenset({"BUY", "SELL"})))]
    quantity: Quantity
    price: Price
    take_profit: Price
    stop_loss: Price
    order_type: Annotated[str, BeforeValidator(_word(BRACKET_ENTRY_TYPES))] = "LMT"
    tif: Annotated[str, BeforeValidator(_word(frozenset({"DAY", "GTC"})))] = "GTC"
    coid: Annotated[str | None, BeforeValidator(lambda v: None if v is None else _pc(v))] = None
    outside_rth: StrictBool = False

    @model_validator(mode="after")
    def _exits_on_the_right_sides(self) -> PlaceBracketOrderArgs:
        for name in ("price", "take_profit", "stop_loss"):
            if getattr(self, name) is None:
                raise InvalidRequestError(f"{name}=None: a bracket needs it", field=name)
        price, profit, stop = float(self.price or 0), float(self.take_profit or 0), self.stop_loss
        buying = self.side == "BUY"
        if (profit <= price) if buying else (profit >= price):
            relation = "above" if buying else "below"
            raise InvalidRequestError(
                f"take_profit={profit!r}: must be {relation} price {price!r} for a {self.side}",
                field="take_profit",
            )
        if (float(stop or 0) >= price) if buying else (float(stop or 0) <= price):
            relation = "below" if buying else "above"
            raise InvalidRequestError(
                f"stop_loss={stop!r}: must be {relation} price {price!r} for a {self.side}",
                field="stop_loss",
            )
        return self
