"""Argument checks for the 19 methods: bad input fails here, before anything is sent.

Each method with arguments has a pydantic model; ``validate(Model, **arguments)`` returns the
normalised arguments or raises ``InvalidRequestError`` (a ``ValueError``) whose message
names the field and the bad value and whose ``.field`` is the argument's name. A pydantic
``ValidationError`` never escapes.

Why so strict: account, order and reply ids are pasted into URL paths (a ``/``, ``..`` or
``..;`` in one would address another endpoint), so each is checked against what IBKR
issues: account ids are letters then digits (``U1234567``, ``DU1234567``, ``F1234567``,
``DFN884096``), order ids are numbers, reply ids are letters, digits and dashes (a UUID).
Numbers are bounded before they are converted (a conid is a 32-bit int, quantities and
prices at most ``MAX_QUANTITY`` / ``MAX_PRICE``), so ``10**5000`` is a refused argument,
not an ``OverflowError``; strings have a maximum length. And an order with a misread price
is worse than no order.

Normalisation follows the reference's names: ``side`` and ``tif`` are upper-cased,
``order_type`` is mapped to the gateway's (``STP_LMT`` → ``STOP_LIMIT``), conids become
``int`` (``search_contract`` hands them out as digit strings), order ids become ``str``.

Prices by order type (the gateway's names; IBKR-FACTS §4):

==========  =====================  ==============================  ====================
type        ``price``              ``aux_price``                   trailing fields
==========  =====================  ==============================  ====================
MKT         refused                refused                         refused
LMT         required (limit)       refused                         refused
STP         required (the stop)    refused                         refused
STOP_LIMIT  required (limit)       required (the stop → auxPrice)  refused
TRAIL       optional (stop)        refused                         required
TRAILLMT    required (limit)       optional (stop)                 required
MIDPRICE    optional (cap)         refused                         refused
==========  =====================  ==============================  ====================

For ``STP`` the reference's single ``price`` is the stop, and the gateway reads a stop
order's trigger from ``price``; so it is sent as ``price`` and ``aux_price`` is refused
rather than silently ignored.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StrictBool,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails

from ibkr_session.errors import InvalidRequestError

__all__ = [
    "BAR_SIZES",
    "ORDER_TYPES",
    "PERIOD_UNITS",
    "SEC_TYPES",
    "SIDES",
    "TIFS",
    "CancelOrderArgs",
    "GetContractDetailsArgs",
    "GetFilledOrdersArgs",
    "GetHistoricalDataArgs",
    "GetLedgerArgs",
    "GetMarketSnapshotArgs",
    "GetPositionsArgs",
    "GetSummaryArgs",
    "ModifyOrderArgs",
    "PlaceOrderArgs",
    "ReplyToOrderArgs",
    "SearchContractArgs",
    "SelectAccountArgs",
    "SuppressMessagesArgs",
    "validate",
]

MAX_SNAPSHOT_FIELDS = 50
MAX_SUPPRESSED_IDS = 51
MAX_COID_LENGTH = 64
MAX_CONID = 2**31 - 1
"""Conids are 32-bit integers in IBKR's APIs (TWS ``Contract.conId`` is an ``int``)."""
MAX_ORDER_ID = 2**63 - 1
MAX_QUANTITY = 1e9
"""No instrument trades a billion units in one order; beyond that is a bug, not an order."""
MAX_PRICE = 1e9
MAX_SYMBOL_LENGTH = 64
MAX_FIELD_TAG = 99_999
MAX_LIST_LENGTH = 10_000
"""Conids in one snapshot call (split into requests of 100): a bound, not a limit of IBKR."""

ORDER_TYPES = {
    "MKT": "MKT",
    "LMT": "LMT",
    "STP": "STP",
    "STP_LMT": "STOP_LIMIT",
    "STOP_LIMIT": "STOP_LIMIT",
    "TRAIL": "TRAIL",
    "TRAILLMT": "TRAILLMT",
    "MIDPRICE": "MIDPRICE",
}
"""The reference's and the gateway's order type names → the name the gateway takes."""

SIDES = frozenset({"BUY", "SELL"})
TIFS = frozenset({"DAY", "GTC", "IOC", "OPG", "FOK", "PAX"})
SEC_TYPES = frozenset({"STK", "OPT", "FUT", "CASH", "BOND", "CFD", "FUND", "IND", "WAR"})
BAR_SIZES = (
    "1min", "2min", "3min", "5min", "10min", "15min", "30min",
    "1h", "2h", "3h", "4h", "8h", "1d", "1w", "1m",
)  # fmt: skip
PERIOD_UNITS = {"min": 30, "h": 8, "d": 1000, "w": 792, "m": 182, "y": 15}
"""History period unit → the largest count IBKR accepts (IBKR-FACTS §5)."""

_PERIOD = re.compile(r"([1-9][0-9]{0,3})(min|h|d|w|m|y)")
_MESSAGE_ID = re.compile(r"[a-z]{1,4}[0-9]{1,8}")
_ACCOUNT_ID = re.compile(r"[A-Z]{1,4}[0-9]{1,12}")
_ORDER_ID = re.compile(r"[0-9]{1,19}")
_REPLY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


# --- field rules -----------------------------------------------------------------------


def _account_id(value: object) -> str:
    """An account id as IBKR issues them: capital letters, then digits (``U1234567``)."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if not value:
        raise ValueError("must not be empty")
    if not _ACCOUNT_ID.fullmatch(value):
        raise ValueError("must be an IBKR account id: capital letters then digits, like U1234567")
    return value


def _order_id(value: object) -> str:
    """An order id: the gateway's number, as an int or its digit string."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 < value <= MAX_ORDER_ID:
            raise ValueError("must be a positive order id like 1234567890")
        return str(value)
    if not isinstance(value, str):
        raise ValueError("must be a string or an integer")
    if not _ORDER_ID.fullmatch(value) or int(value) == 0:
        raise ValueError("must be a numeric order id like '1234567890'")
    return value


def _reply_id(value: object) -> str:
    """A question's reply id: letters, digits and dashes (IBKR sends a UUID)."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if not value:
        raise ValueError("must not be empty")
    if not _REPLY_ID.fullmatch(value):
        raise ValueError(
            "must be a reply id of letters, digits, '-' and '_' (like "
            "'07a13a5a-4a48-44a5-bb25-5ab37b79186c'), at most 64 characters"
        )
    return value


def _conid(value: object) -> int:
    """A contract id: a positive 32-bit int, or the digit string ``search_contract`` returns."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_CONID:
        raise ValueError(f"must be a positive integer conid (like 265598) up to {MAX_CONID}")
    return value


def _field_tag(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_FIELD_TAG:
        return str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 5:
        return value
    raise ValueError("must be a numeric field tag like 31 or '84'")


def _message_id(value: object) -> str:
    if not isinstance(value, str) or not _MESSAGE_ID.fullmatch(value):
        raise ValueError("must be a question id like 'o163' or 'p12'")
    return value


_T = TypeVar("_T")


def _list_of(
    rule: Callable[[object], _T], *, noun: str, most: int | None, example: str
) -> Callable[[object], list[_T]]:
    """A list (or tuple) of 1..``most`` items (``None``: up to ``MAX_LIST_LENGTH``), each
    checked by ``rule``."""

    def check(value: object) -> list[_T]:
        if not isinstance(value, list | tuple):
            raise ValueError(f"must be a list of {noun}s like {example}")
        if not value:
            raise ValueError(f"must name at least one {noun}")
        limit = most if most is not None else MAX_LIST_LENGTH
        if len(value) > limit:
            raise ValueError(f"at most {limit} {noun}s per request")
        checked = []
        for index, item in enumerate(value):
            try:
                checked.append(rule(item))
            except ValueError as exc:
                raise ValueError(f"item {index} ({_shown(item)}) {exc}") from None
        return checked

    return check


# Any number of conids: the snapshot reader splits them into requests of at most 100.
_conid_list = _list_of(_conid, noun="conid", most=None, example="[265598, 8314]")
_field_tag_list = _list_of(
    _field_tag, noun="field tag", most=MAX_SNAPSHOT_FIELDS, example="[31, 84]"
)


def _conids(value: object) -> list[int]:
    """One conid or a list of them (``get_market_snapshot(conids=265598)`` is common)."""
    return _conid_list(value) if isinstance(value, list | tuple) else [_conid(value)]


def _field_tags(value: object) -> list[str] | None:
    return None if value is None else _field_tag_list(value)


_message_ids = _list_of(
    _message_id, noun="question id", most=MAX_SUPPRESSED_IDS, example="['o163', 'o451']"
)


def _positive_number(most: float) -> Callable[[object], int | float]:
    """A positive finite number up to ``most``; compared before any conversion, so an
    integer too large for a float is refused, not an ``OverflowError``."""

    def check(value: object) -> int | float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("must be a number")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("must be a positive finite number")
        if not 0 < value <= most:
            raise ValueError(f"must be a positive number up to {most:g}")
        return value

    return check


def _optional(rule: Callable[[object], _T]) -> Callable[[object], _T | None]:
    def check(value: object) -> _T | None:
        return None if value is None else rule(value)

    return check


def _choice(choices: Mapping[str, str]) -> Callable[[object], str]:
    """A case-insensitive choice among ``choices``' keys, normalised to its value."""
    listed = ", ".join(choices)

    def check(value: object) -> str:
        if not isinstance(value, str) or value.upper() not in choices:
            raise ValueError(f"must be one of {listed}")
        return choices[value.upper()]

    return check


def _upper(words: frozenset[str]) -> Mapping[str, str]:
    return {word: word for word in sorted(words)}


def _symbol(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    if len(value) > MAX_SYMBOL_LENGTH:
        raise ValueError(f"must be at most {MAX_SYMBOL_LENGTH} characters")
    if not value.isprintable():
        raise ValueError("must not contain control characters")
    return value.strip()


def _coid(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty string")
    if len(value) > MAX_COID_LENGTH:
        raise ValueError(f"must be at most {MAX_COID_LENGTH} characters")
    if not (value.isascii() and value.isprintable()):
        raise ValueError("must be printable ASCII")
    return value


def _period(value: object) -> str:
    if isinstance(value, str):
        match = _PERIOD.fullmatch(value)
        if match is not None and int(match[1]) <= PERIOD_UNITS[match[2]]:
            return value
    limits = ", ".join(f"1-{top}{unit}" for unit, top in PERIOD_UNITS.items())
    raise ValueError(f"must be a period like '1d' within {limits}")


def _bar(value: object) -> str:
    if not isinstance(value, str) or value not in BAR_SIZES:
        raise ValueError(f"must be one of {' '.join(BAR_SIZES)}")
    return value


AccountId = Annotated[str, BeforeValidator(_account_id)]
OrderId = Annotated[str, BeforeValidator(_order_id)]
ReplyId = Annotated[str, BeforeValidator(_reply_id)]
Conid = Annotated[int, BeforeValidator(_conid)]
Quantity = Annotated[int | float, BeforeValidator(_positive_number(MAX_QUANTITY))]
Price = Annotated[int | float | None, BeforeValidator(_optional(_positive_number(MAX_PRICE)))]


# --- the models ------------------------------------------------------------------------


class _Arguments(BaseModel):
    """Common configuration: unknown arguments are refused, results are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _AccountArguments(_Arguments):
    account_id: AccountId


class SelectAccountArgs(_AccountArguments):
    """``select_account(account_id)``."""


class GetSummaryArgs(_AccountArguments):
    """``get_summary(account_id)``."""


class GetLedgerArgs(_AccountArguments):
    """``get_ledger(account_id)``."""


class GetPositionsArgs(_AccountArguments):
    """``get_positions(account_id)``."""


class GetFilledOrdersArgs(_Arguments):
    """``get_filled_orders(account_id=None)``."""

    account_id: AccountId | None = None


class GetMarketSnapshotArgs(_Arguments):
    """``get_market_snapshot(conids, fields=None)``: one conid or a list of any length (split
    into requests by the snapshot reader); tags as strings."""

    conids: Annotated[list[int], BeforeValidator(_conids)]
    fields: Annotated[list[str] | None, BeforeValidator(_field_tags)] = None


class GetHistoricalDataArgs(_Arguments):
    """``get_historical_data(conid, period="1d", bar="5min", outside_rth=False)``."""

    conid: Conid
    period: Annotated[str, BeforeValidator(_period)] = "1d"
    bar: Annotated[str, BeforeValidator(_bar)] = "5min"
    outside_rth: StrictBool = False


class SearchContractArgs(_Arguments):
    """``search_contract(symbol, sec_type="STK")``."""

    symbol: Annotated[str, BeforeValidator(_symbol)]
    sec_type: Annotated[str, BeforeValidator(_choice(_upper(SEC_TYPES)))] = "STK"


class GetContractDetailsArgs(_Arguments):
    """``get_contract_details(conid)``."""

    conid: Conid


class CancelOrderArgs(_AccountArguments):
    """``cancel_order(account_id, order_id)``."""

    order_id: OrderId


class ReplyToOrderArgs(_Arguments):
    """``reply_to_order(message_id, confirmed=True)``: the id goes into the URL path."""

    message_id: ReplyId
    confirmed: StrictBool = True


class SuppressMessagesArgs(_Arguments):
    """``suppress_messages(message_ids)``: 1-51 question ids like ``"o163"``."""

    message_ids: Annotated[list[str], BeforeValidator(_message_ids)]


_NEEDS_PRICE = frozenset({"LMT", "STP", "STOP_LIMIT", "TRAILLMT"})
_TAKES_PRICE = _NEEDS_PRICE | {"TRAIL", "MIDPRICE"}
_TAKES_AUX_PRICE = frozenset({"STOP_LIMIT", "TRAILLMT"})
_TRAILING = frozenset({"TRAIL", "TRAILLMT"})


class _OrderArguments(_AccountArguments):
    """The fields place_order and modify_order share, and how they become a gateway order."""

    conid: Conid
    side: Annotated[str, BeforeValidator(_choice(_upper(SIDES)))]
    quantity: Quantity
    order_type: Annotated[str, BeforeValidator(_choice(ORDER_TYPES))] = "MKT"
    price: Price = None
    tif: Annotated[str, BeforeValidator(_choice(_upper(TIFS)))] = "DAY"
    aux_price: Price = None
    trailing_amt: Price = None
    trailing_type: Literal["amt", "%"] | None = None
    outside_rth: StrictBool = False
    coid: Annotated[str | None, BeforeValidator(_coid)] = None

    @model_validator(mode="after")
    def _prices_fit_the_order_type(self) -> _OrderArguments:
        kind = self.order_type
        if kind in _NEEDS_PRICE and self.price is None:
            raise _field_error("price", None, f"{kind} orders need a price")
        if kind not in _TAKES_PRICE and self.price is not None:
            raise _field_error("price", self.price, f"{kind} orders take no price")
        if kind == "STOP_LIMIT" and self.aux_price is None:
            raise _field_error("aux_price", None, "STOP_LIMIT orders need the stop price")
        if kind not in _TAKES_AUX_PRICE and self.aux_price is not None:
            raise _field_error("aux_price", self.aux_price, f"{kind} orders take no aux_price")
        for name in ("trailing_amt", "trailing_type"):
            value = getattr(self, name)
            if kind in _TRAILING and value is None:
                raise _field_error(name, None, f"{kind} orders need trailing_amt and trailing_type")
            if kind not in _TRAILING and value is not None:
                raise _field_error(name, value, f"{kind} orders take no {name}")
        return self

    def to_gateway(self) -> dict[str, Any]:
        """The order object in the gateway's names (``place_order`` wraps it in ``orders``)."""
        order: dict[str, Any] = {
            "acctId": self.account_id,
            "conid": self.conid,
            "side": self.side,
            "quantity": self.quantity,
            "orderType": self.order_type,
            "tif": self.tif,
            "outsideRTH": self.outside_rth,
        }
        optional = {
            "price": self.price,
            "auxPrice": self.aux_price,
            "trailingAmt": self.trailing_amt,
            "trailingType": self.trailing_type,
            "cOID": self.coid,
        }
        order.update({key: value for key, value in optional.items() if value is not None})
        return order


class PlaceOrderArgs(_OrderArguments):
    """``place_order(account_id, conid, side, quantity, order_type="MKT", price=None,
    tif="DAY", *, aux_price, trailing_amt, trailing_type, outside_rth, coid)``."""


class ModifyOrderArgs(_OrderArguments):
    """``modify_order(account_id, order_id, conid, side, quantity, order_type="LMT", ...)``:
    all the original fields, because the gateway replaces the order rather than patching."""

    order_id: OrderId
    order_type: Annotated[str, BeforeValidator(_choice(ORDER_TYPES))] = "LMT"


# --- the entry point -------------------------------------------------------------------

M = TypeVar("M", bound=_Arguments)


def validate(model: type[M], /, **arguments: object) -> M:
    """Check and normalise one call's arguments, or raise ``InvalidRequestError``."""
    try:
        return model.model_validate(arguments)
    except ValidationError as exc:
        raise _translate(exc.errors()[0]) from None


def _translate(error: ErrorDetails) -> InvalidRequestError:
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, InvalidRequestError):
        return cause
    field = str(error["loc"][0]) if error["loc"] else None
    if error["type"] == "missing":
        return InvalidRequestError(f"{field} is required", field=field)
    if error["type"] == "extra_forbidden":
        return InvalidRequestError(f"unexpected argument {field!r}", field=field)
    reason = error["msg"].removeprefix("Value error, ")
    return _field_error(field or "arguments", error["input"], reason)


def _field_error(field: str, value: object, reason: str) -> InvalidRequestError:
    return InvalidRequestError(f"{field}={_shown(value)}: {reason}", field=field)


def _shown(value: object) -> str:
    """``repr(value)`` cut to 80 characters; never fails (an int past Python's 4300-digit
    limit has no ``repr``)."""
    if isinstance(value, int) and value.bit_length() > 256:
        return f"<an integer of {value.bit_length()} bits>"
    try:
        shown = repr(value)
    except ValueError:
        shown = f"<{type(value).__name__}>"
    return shown if len(shown) <= 80 else shown[:77] + "..."
