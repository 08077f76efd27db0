"""For every argument model: valid input round-trips, any bad field is named in the error."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibkr_api import validation as v
from ibkr_session.errors import InvalidRequestError

Strategy = st.SearchStrategy[Any]

# --- good and bad values per kind of field ----------------------------------------------

# Ids as IBKR issues them: account ids are capital letters then digits, order ids numbers,
# reply ids letters, digits and dashes (a UUID).
ACCOUNT_ID = st.from_regex(r"[A-Z]{1,4}[0-9]{1,12}", fullmatch=True)
ORDER_ID = st.integers(1, 2**63 - 1) | st.integers(1, 10**12).map(str)
REPLY_ID = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", fullmatch=True)
_ID_CHARS = st.characters(codec="ascii", categories=("L", "N")) | st.sampled_from("-_.:")
ID = st.text(_ID_CHARS, min_size=1, max_size=24).filter(lambda s: s not in {".", ".."})
_BREAKERS = st.sampled_from(["/", "\\", "?", "#", "%", " ", "\t", "\n", "\x00", "\x7f", "\u2028"])
NOT_A_VALUE = st.one_of(st.none(), st.floats(), st.lists(st.integers(), max_size=2))
BAD_ID = st.one_of(
    st.just(""),
    st.sampled_from(["..", "..;", ".;", "U1;", "U1.", "u1234567", "U1234567/..", "DU1 "]),
    st.tuples(ID, _BREAKERS, ID).map("".join),
    NOT_A_VALUE,
    st.booleans(),
)
STRING_ID_BAD = BAD_ID | st.integers()
BAD_ORDER_ID = BAD_ID | st.sampled_from(["1.5", "-1", "0", "1e3", "12a", "9" * 20, 0, -3, 2**63])

MAX_CONID = 2**31 - 1
CONID = st.integers(1, MAX_CONID) | st.integers(1, MAX_CONID).map(str)
HUGE = st.sampled_from([10**400, 10**5000, -(10**400)])
BAD_CONID = st.one_of(
    st.integers(max_value=0),
    st.integers(min_value=MAX_CONID + 1),
    HUGE,
    st.booleans(),
    st.floats(),
    st.none(),
    st.text(max_size=8).filter(lambda s: not (s.isascii() and s.isdigit())),
    st.just("9" * 5000),
)


def _not_a_reply_id(value: object) -> bool:
    """``u1234567`` is no account id but a well-formed reply id."""
    return not (isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", value))


def _not_one_conid(value: object) -> bool:
    """A digit string is one valid conid (``conids="265598"``): never a "bad list"."""
    return not (isinstance(value, str) and value.isascii() and value.isdigit())


POSITIVE = st.integers(1, 10**9) | st.floats(1e-6, 1e9, allow_nan=False, allow_infinity=False)
BAD_POSITIVE = st.one_of(
    st.integers(max_value=0),
    st.floats(max_value=0.0),
    st.floats(min_value=1.0000001e9),
    st.integers(min_value=10**9 + 1),
    HUGE,
    st.sampled_from([float("nan"), float("inf"), float("-inf"), True, False, "10"]),
)
BOOL = st.booleans()
BAD_BOOL = st.one_of(st.integers(), st.text(max_size=5), st.none(), st.floats())


def any_case(words: Collection[str]) -> Strategy:
    return st.sampled_from(sorted(words)).flatmap(
        lambda w: st.sampled_from([w, w.lower(), w.title()])
    )


def not_one_of(words: Collection[str], *, fold_case: bool = True) -> Strategy:
    def outside(s: str) -> bool:
        return (s.upper() if fold_case else s) not in words

    return st.text(max_size=10).filter(outside) | st.integers() | st.none()


PERIOD = st.sampled_from(sorted(v.PERIOD_UNITS)).flatmap(
    lambda unit: st.integers(1, v.PERIOD_UNITS[unit]).map(lambda n: f"{n}{unit}")
)
BAD_PERIOD = st.one_of(
    st.sampled_from(sorted(v.PERIOD_UNITS)).map(lambda unit: f"{v.PERIOD_UNITS[unit] + 1}{unit}"),
    st.text(max_size=8).filter(lambda s: not re.fullmatch(r"[1-9][0-9]*(min|h|d|w|m|y)", s)),
    st.integers(),
)

TAG = st.integers(0, 10_000) | st.integers(0, 10_000).map(str)
BAD_TAG = (
    st.booleans()
    | st.integers(max_value=-1)
    | st.text(min_size=1, max_size=5).filter(lambda s: not (s.isascii() and s.isdigit()))
)


def bad_list(item: Strategy, bad_item: Strategy, most: int | None) -> Strategy:
    """Lists the gateway refuses: empty, too long (unless ``most`` is ``None``), one bad
    item, or not a list at all."""
    bad = [
        st.just([]),
        st.tuples(st.lists(item, max_size=3), bad_item).map(lambda t: [*t[0], t[1]]),
        st.text(min_size=1, max_size=5),
        st.none(),
    ]
    if most is not None:
        bad.append(st.lists(item, min_size=most + 1, max_size=most + 1))
    return st.one_of(bad)


MESSAGE_ID = st.from_regex(r"[a-z]{1,2}[0-9]{1,5}", fullmatch=True)
SYMBOL = st.text(st.characters(codec="ascii", categories=("L", "N", "P")), min_size=1, max_size=12)
BAD_SYMBOL = st.sampled_from(["", "   ", "AA\x00PL", "A\nB"]) | st.integers() | st.none()
COID = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=64)
BAD_COID = st.one_of(
    st.just(""),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=65, max_size=70),
    st.sampled_from(["tab\there", "é", "\x00"]),
    st.integers(),
)

# --- the models: field → (good values, bad values) --------------------------------------

FIELDS: dict[type[Any], dict[str, tuple[Strategy, Strategy]]] = {
    v.SelectAccountArgs: {"account_id": (ACCOUNT_ID, STRING_ID_BAD)},
    v.GetSummaryArgs: {"account_id": (ACCOUNT_ID, STRING_ID_BAD)},
    v.GetLedgerArgs: {"account_id": (ACCOUNT_ID, STRING_ID_BAD)},
    v.GetPositionsArgs: {"account_id": (ACCOUNT_ID, STRING_ID_BAD)},
    v.GetFilledOrdersArgs: {
        "account_id": (ACCOUNT_ID | st.none(), STRING_ID_BAD.filter(lambda x: x is not None))
    },
    v.GetMarketSnapshotArgs: {
        "conids": (
            CONID | st.lists(CONID, min_size=1, max_size=250),  # the reader splits by 100
            bad_list(CONID, BAD_CONID, None).filter(_not_one_conid),
        ),
        "fields": (
            st.none() | st.lists(TAG, min_size=1, max_size=50),
            bad_list(TAG, BAD_TAG, 50).filter(lambda x: x is not None),
        ),
    },
    v.GetHistoricalDataArgs: {
        "conid": (CONID, BAD_CONID),
        "period": (PERIOD, BAD_PERIOD),
        "bar": (st.sampled_from(sorted(v.BAR_SIZES)), not_one_of(v.BAR_SIZES, fold_case=False)),
        "outside_rth": (BOOL, BAD_BOOL),
    },
    v.SearchContractArgs: {
        "symbol": (SYMBOL.filter(str.strip), BAD_SYMBOL),
        "sec_type": (any_case(v.SEC_TYPES), not_one_of(v.SEC_TYPES)),
    },
    v.GetContractDetailsArgs: {"conid": (CONID, BAD_CONID)},
    v.CancelOrderArgs: {
        "account_id": (ACCOUNT_ID, STRING_ID_BAD),
        "order_id": (ORDER_ID, BAD_ORDER_ID),
    },
    v.ReplyToOrderArgs: {
        "message_id": (REPLY_ID, STRING_ID_BAD.filter(_not_a_reply_id)),
        "confirmed": (BOOL, BAD_BOOL),
    },
    v.SuppressMessagesArgs: {
        "message_ids": (
            st.lists(MESSAGE_ID, min_size=1, max_size=51),
            bad_list(
                MESSAGE_ID,
                st.text(max_size=4).filter(lambda s: not re.fullmatch(r"[a-z]+[0-9]+", s)),
                51,
            ),
        ),
    },
}

_ORDER_FIELD_ERRORS: dict[str, Strategy] = {
    "account_id": STRING_ID_BAD,
    "conid": BAD_CONID,
    "side": not_one_of(v.SIDES),
    "quantity": BAD_POSITIVE | st.none(),
    "order_type": not_one_of(list(v.ORDER_TYPES)),
    "price": BAD_POSITIVE,
    "tif": not_one_of(v.TIFS),
    "aux_price": BAD_POSITIVE,
    "trailing_amt": BAD_POSITIVE,
    "trailing_type": not_one_of(["amt", "%"], fold_case=False).filter(lambda x: x is not None),
    "outside_rth": BAD_BOOL,
    "coid": BAD_COID,
}

# Which order types need (True), take (None) or refuse (False) each price field: the table
# of the validation module's docstring, restated here independently.
_PRICE_RULES: dict[str, dict[str, bool | None]] = {
    "MKT": {"price": False, "aux_price": False, "trailing": False},
    "LMT": {"price": True, "aux_price": False, "trailing": False},
    "STP": {"price": True, "aux_price": False, "trailing": False},
    "STOP_LIMIT": {"price": True, "aux_price": True, "trailing": False},
    "TRAIL": {"price": None, "aux_price": False, "trailing": True},
    "TRAILLMT": {"price": True, "aux_price": None, "trailing": True},
    "MIDPRICE": {"price": None, "aux_price": False, "trailing": False},
}


@st.composite
def valid_order(draw: st.DrawFn, model: type[Any]) -> dict[str, Any]:
    order_type = draw(any_case(list(v.ORDER_TYPES)))
    rules = _PRICE_RULES[v.ORDER_TYPES[order_type.upper()]]
    order: dict[str, Any] = {
        "account_id": draw(ACCOUNT_ID),
        "conid": draw(CONID),
        "side": draw(any_case(v.SIDES)),
        "quantity": draw(POSITIVE),
        "order_type": order_type,
        "tif": draw(any_case(v.TIFS)),
        "outside_rth": draw(BOOL),
        "coid": draw(st.none() | COID),
    }
    for name in ("price", "aux_price"):
        if rules[name] is True or (rules[name] is None and draw(BOOL)):
            order[name] = draw(POSITIVE)
    if rules["trailing"]:
        order["trailing_amt"] = draw(POSITIVE)
        order["trailing_type"] = draw(st.sampled_from(["amt", "%"]))
    if model is v.ModifyOrderArgs:
        order["order_id"] = draw(ORDER_ID)
    return order


def valid_arguments(model: type[Any]) -> Strategy:
    if model in (v.PlaceOrderArgs, v.ModifyOrderArgs):
        return valid_order(model)
    return st.fixed_dictionaries({name: good for name, (good, _) in FIELDS[model].items()})


def bad_fields(model: type[Any]) -> dict[str, Strategy]:
    if model in (v.PlaceOrderArgs, v.ModifyOrderArgs):
        extra = {"order_id": BAD_ORDER_ID} if model is v.ModifyOrderArgs else {}
        return {**_ORDER_FIELD_ERRORS, **extra}
    return {name: bad for name, (_, bad) in FIELDS[model].items()}


MODELS = [*FIELDS, v.PlaceOrderArgs, v.ModifyOrderArgs]


def test_every_public_argument_model_is_covered() -> None:
    public = {getattr(v, name) for name in v.__all__ if name.endswith("Args")}
    assert public == set(MODELS)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_valid_arguments_round_trip(model: type[Any], data: st.DataObject) -> None:
    arguments = data.draw(valid_arguments(model))
    checked = v.validate(model, **arguments)
    assert v.validate(model, **checked.model_dump()) == checked


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_bad_field_is_refused_and_named(model: type[Any], data: st.DataObject) -> None:
    arguments = data.draw(valid_arguments(model))
    fields = bad_fields(model)
    field = data.draw(st.sampled_from(sorted(fields)))
    arguments[field] = data.draw(fields[field])
    with pytest.raises(InvalidRequestError) as caught:
        v.validate(model, **arguments)
    assert isinstance(caught.value, ValueError)
    assert caught.value.field == field
    assert str(caught.value).startswith(field)


@settings(max_examples=200, deadline=None)
@given(
    order=valid_order(v.PlaceOrderArgs),
    order_type=st.sampled_from(sorted(_PRICE_RULES)),
    price=st.none() | POSITIVE,
    aux_price=st.none() | POSITIVE,
    trailing=st.booleans(),
)
def test_price_fields_are_accepted_exactly_as_the_order_type_allows(
    order: dict[str, Any], order_type: str, price: Any, aux_price: Any, trailing: bool
) -> None:
    for name in ("price", "aux_price", "trailing_amt", "trailing_type"):
        order.pop(name, None)
    present = {"price": price is not None, "aux_price": aux_price is not None, "trailing": trailing}
    order.update(order_type=order_type, price=price, aux_price=aux_price)
    if trailing:
        order.update(trailing_amt=1.0, trailing_type="amt")
    rules = _PRICE_RULES[order_type]
    offending = {
        name
        for name, rule in rules.items()
        if (rule is True and not present[name]) or (rule is False and present[name])
    }
    if not offending:
        assert v.validate(v.PlaceOrderArgs, **order).to_gateway()["orderType"] == order_type
        return
    with pytest.raises(InvalidRequestError) as caught:
        v.validate(v.PlaceOrderArgs, **order)
    named = (
        "trailing"
        if caught.value.field in {"trailing_amt", "trailing_type"}
        else caught.value.field
    )
    assert named in offending
