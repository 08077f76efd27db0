"""The wider methods' arguments (issue 13): valid input round-trips, any bad field is named
in the error, and a client given bad input sends nothing at all."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ibkr_api import wider_args as w
from ibkr_api.client import IbkrClient
from ibkr_session import InvalidRequestError, ManualClock

Strategy = st.SearchStrategy[Any]

# --- good and bad values per kind of field -----------------------------------------------

_ID_CHARS = st.characters(codec="ascii", categories=("L", "N")) | st.sampled_from("-_.:")
ID = st.from_regex(r"[A-Z]{1,4}[0-9]{1,12}", fullmatch=True)
ORDER_ID = st.integers(1, 2**63 - 1) | st.from_regex(r"[1-9][0-9]{0,17}", fullmatch=True)
_BREAKERS = st.sampled_from(["/", "\\", "?", "#", "%", " ", "\t", "\n", "\x00", "\x7f"])
BAD_ID = st.one_of(
    st.just(""),
    st.just(".."),
    st.tuples(ID, _BREAKERS, ID).map("".join),
    st.just("u123"),
    st.none(),
    st.floats(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)
BAD_STRING_ID = BAD_ID.filter(lambda x: x is not None) | st.integers()
ACCOUNT = ID
BAD_ACCOUNT_IN_BODY = st.sampled_from(["", "a b", "x/y", "..", "é", "u1", "U1.2"]) | st.integers()

CONID = st.integers(1, 2**31 - 1) | st.integers(1, 2**31 - 1).map(str)
BAD_CONID = st.one_of(
    st.integers(max_value=0),
    st.integers(min_value=2**31),
    st.booleans(),
    st.floats(),
    st.text(max_size=8).filter(lambda s: not (s.isascii() and s.isdigit())),
)
POSITIVE = st.integers(1, 10**6) | st.floats(1e-3, 1e6, allow_nan=False, allow_infinity=False)
BAD_POSITIVE = st.one_of(
    st.integers(max_value=0),
    st.floats(max_value=0.0),
    st.sampled_from([float("nan"), float("inf"), True, "10"]),
)
BOOL = st.booleans()
NOT_AN_INT = st.booleans() | st.none() | st.text(max_size=3) | st.floats()
BAD_BOOL = st.one_of(st.integers(), st.text(max_size=5), st.none(), st.floats())
CODE = st.from_regex(r"[A-Z][A-Z0-9_.]{0,15}", fullmatch=True)
BAD_CODE = st.sampled_from(["", "a b", "x/y", "-lead", "é", "a?b"]) | st.integers() | st.none()
MONTH = st.tuples(
    st.sampled_from(["JAN", "feb", "Mar", "DEC"]), st.integers(0, 99).map(lambda n: f"{n:02d}")
).map("".join)
BAD_MONTH = st.sampled_from(["2025-01", "JAN2025", "J25", "", "JANUARY"]) | st.integers()
SYMBOL = st.from_regex(r"[A-Z][A-Z0-9.]{0,7}", fullmatch=True)
BAD_SYMBOL = st.sampled_from(["", " ", "A,B", "A\nB", "\x00"]) | st.integers() | st.none()


def any_case(words: Collection[str]) -> Strategy:
    return st.sampled_from(sorted(words)).flatmap(
        lambda word: st.sampled_from([word, word.lower(), word.title()])
    )


def not_one_of(words: Collection[str]) -> Strategy:
    upper = {word.upper() for word in words}
    return st.text(max_size=10).filter(lambda s: s.upper() not in upper) | st.integers() | st.none()


def bad_list(item: Strategy, bad_item: Strategy, *, most: int | None, one_ok: bool) -> Strategy:
    bad = [
        st.just([]),
        st.tuples(st.lists(item, max_size=3), bad_item).map(lambda t: [*t[0], t[1]]),
    ]
    if not one_ok:
        bad.append(st.none())
    if most is not None:
        bad.append(st.lists(item, min_size=most + 1, max_size=most + 1))
    return st.one_of(bad)


CONDITION = st.fixed_dictionaries(
    {"conidex": CONID.map(lambda c: f"{c}@SMART"), "type": st.integers(1, 7)},
    optional={"operator": st.sampled_from([">=", "<="]), "value": st.text(max_size=5)},
)
BAD_CONDITION = st.sampled_from([{}, {"v": float("nan")}, {1: "x"}, "x", 5, {"v": object()}])
FILTER = st.tuples(CODE, st.integers() | st.text(max_size=4) | st.booleans())
BAD_FILTER = st.sampled_from([("a b", 1), {"code": "x"}, ("x", [1]), 5, ("x", float("nan"))])

# --- the models: field -> (good values, bad values) ---------------------------------------

FIELDS: dict[type[Any], dict[str, tuple[Strategy, Strategy]]] = {
    w.AccountArgs: {"account_id": (ID, BAD_STRING_ID)},
    w.GetOrderStatusArgs: {"order_id": (ORDER_ID, BAD_ID)},
    w.GetTradesArgs: {
        "days": (st.none() | st.integers(1, 7), st.integers(8) | st.integers(max_value=0)),
        "account_id": (st.none() | ID, BAD_STRING_ID),
    },
    w.GetAccountBalancesArgs: {
        "account_id": (ID, BAD_STRING_ID),
        "page": (st.none() | any_case(w.BALANCE_PAGES), not_one_of(w.BALANCE_PAGES).filter(bool)),
    },
    w.PositionArgs: {"account_id": (ID, BAD_STRING_ID), "conid": (CONID, BAD_CONID)},
    w.SearchSymbolsArgs: {
        "symbols": (
            SYMBOL | st.lists(SYMBOL, min_size=1, max_size=5),
            BAD_SYMBOL | bad_list(SYMBOL, BAD_SYMBOL, most=200, one_ok=True),
        ),
        "exchange": (st.none() | CODE, BAD_CODE.filter(lambda x: x is not None)),
    },
    w.GetSecdefArgs: {
        "conids": (
            CONID | st.lists(CONID, min_size=1, max_size=450),
            bad_list(CONID, BAD_CONID, most=None, one_ok=True),
        )
    },
    w.GetTradingScheduleArgs: {
        "asset_class": (any_case(w.SCHEDULE_ASSET_CLASSES), not_one_of(w.SCHEDULE_ASSET_CLASSES)),
        "symbol": (SYMBOL, BAD_SYMBOL),
        "exchange": (st.none() | CODE, BAD_CODE.filter(lambda x: x is not None)),
    },
    w.GetOptionStrikesArgs: {
        "conid": (CONID, BAD_CONID),
        "month": (MONTH, BAD_MONTH),
        "sec_type": (any_case(w.STRIKE_SEC_TYPES), not_one_of(w.STRIKE_SEC_TYPES)),
        "exchange": (CODE, BAD_CODE),
    },
    w.GetOptionChainArgs: {
        "conid": (CONID, BAD_CONID),
        "month": (MONTH, BAD_MONTH),
        "exchange": (CODE, BAD_CODE),
        "strikes_near": (st.none() | POSITIVE, BAD_POSITIVE),
        "max_strikes": (
            st.integers(1, w.MAX_CHAIN_STRIKES),
            st.integers(w.MAX_CHAIN_STRIKES + 1) | st.integers(max_value=0) | NOT_AN_INT,
        ),
    },
    w.ContractRulesArgs: {"conid": (CONID, BAD_CONID), "is_buy": (BOOL, BAD_BOOL)},
    w.UnsubscribeArgs: {
        "conids": (
            CONID | st.lists(CONID, min_size=1, max_size=100),
            bad_list(CONID, BAD_CONID, most=100, one_ok=True),
        )
    },
    w.RunScannerArgs: {
        "instrument": (CODE, BAD_CODE),
        "scan_type": (CODE, BAD_CODE),
        "location": (CODE, BAD_CODE),
        "filters": (
            st.lists(FILTER, max_size=5),
            st.tuples(st.lists(FILTER, max_size=2), BAD_FILTER).map(lambda t: [*t[0], t[1]]),
        ),
    },
    w.AlertIdArgs: {"account_id": (ID, BAD_STRING_ID), "alert_id": (ORDER_ID, BAD_ID)},
    w.CreateWatchlistArgs: {
        "watchlist_id": (
            st.integers(1, 10**12) | st.from_regex(r"[0-9]{1,12}", fullmatch=True),
            st.sampled_from(["", "abc", "1 2", "-1", "1/2"]) | st.integers(max_value=0),
        ),
        "name": (
            st.text(min_size=1, max_size=20).filter(lambda s: s.strip() and s.isprintable()),
            st.just("") | st.integers(),
        ),
        "conids": (
            st.lists(CONID, min_size=1, max_size=20),
            bad_list(CONID, BAD_CONID, most=500, one_ok=False),
        ),
    },
    w.GetPerformanceArgs: {
        "account_ids": (
            ACCOUNT | st.lists(ACCOUNT, min_size=1, max_size=3),
            BAD_ACCOUNT_IN_BODY | bad_list(ACCOUNT, BAD_ACCOUNT_IN_BODY, most=50, one_ok=True),
        ),
        "period": (any_case(w.PERFORMANCE_PERIODS), not_one_of(w.PERFORMANCE_PERIODS)),
    },
    w.GetTransactionsArgs: {
        "account_ids": (
            ACCOUNT | st.lists(ACCOUNT, min_size=1, max_size=3),
            BAD_ACCOUNT_IN_BODY | bad_list(ACCOUNT, BAD_ACCOUNT_IN_BODY, most=50, one_ok=True),
        ),
        "conids": (CONID, bad_list(CONID, BAD_CONID, most=None, one_ok=True)),
        "currency": (
            st.sampled_from(["USD", "eur", "Chf"]),
            st.sampled_from(["", "US", "USDX", "12$"]) | st.integers(),
        ),
        "days": (st.integers(1, 3650), st.integers(3651) | st.integers(max_value=0) | NOT_AN_INT),
    },
    w.NotificationsArgs: {
        "limit": (st.integers(1, 100), st.integers(101) | st.integers(max_value=0) | NOT_AN_INT)
    },
}


def valid_arguments(model: type[Any]) -> Strategy:
    return st.fixed_dictionaries({name: good for name, (good, _) in FIELDS[model].items()})


@pytest.mark.parametrize("model", list(FIELDS), ids=lambda m: m.__name__)
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_valid_arguments_round_trip(model: type[Any], data: st.DataObject) -> None:
    checked = w.validate(model, **data.draw(valid_arguments(model)))
    assert w.validate(model, **checked.model_dump()) == checked


@pytest.mark.parametrize("model", list(FIELDS), ids=lambda m: m.__name__)
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_any_bad_field_is_refused_and_named(model: type[Any], data: st.DataObject) -> None:
    arguments = data.draw(valid_arguments(model))
    field = data.draw(st.sampled_from(sorted(FIELDS[model])))
    arguments[field] = data.draw(FIELDS[model][field][1])

    with pytest.raises(InvalidRequestError) as raised:
        w.validate(model, **arguments)

    assert raised.value.field == field
    assert str(raised.value).startswith(field)


# --- brackets and groups ----------------------------------------------------------------


@st.composite
def bracket(draw: st.DrawFn) -> dict[str, Any]:
    side = draw(any_case(["BUY", "SELL"]))
    price = draw(st.floats(10, 1000, allow_nan=False))
    up = draw(st.floats(0.01, 5))
    down = draw(st.floats(0.01, 5))
    buying = side.upper() == "BUY"
    return {
        "account_id": draw(ID),
        "conid": draw(CONID),
        "side": side,
        "quantity": draw(POSITIVE),
        "price": price,
        "take_profit": price + up if buying else price - down,
        "stop_loss": price - down if buying else price + up,
        "order_type": draw(any_case(["LMT", "STP"])),
        "tif": draw(any_case(["DAY", "GTC"])),
    }


@settings(max_examples=100, deadline=None)
@given(arguments=bracket(), swap=st.sampled_from(["take_profit", "stop_loss"]))
def test_a_bracket_whose_exit_is_on_the_wrong_side_is_refused_by_that_exit(
    arguments: dict[str, Any], swap: str
) -> None:
    assert w.validate(w.PlaceBracketOrderArgs, **arguments)
    other = "stop_loss" if swap == "take_profit" else "take_profit"
    arguments[swap], arguments[other] = arguments[other], arguments[swap]

    with pytest.raises(InvalidRequestError) as raised:
        w.validate(w.PlaceBracketOrderArgs, **arguments)

    assert raised.value.field == "take_profit"  # checked first: both are wrong now


LEG = st.fixed_dictionaries(
    {"conid": CONID, "side": any_case(["BUY", "SELL"]), "quantity": POSITIVE},
    optional={"tif": any_case(["DAY", "GTC"])},
)
_LEG_ERRORS: dict[str, Strategy] = {
    "conid": BAD_CONID,
    "side": not_one_of(["BUY", "SELL"]),
    "quantity": BAD_POSITIVE,
    "tif": not_one_of(["DAY", "GTC", "IOC", "OPG", "FOK", "PAX"]),
    "price": BAD_POSITIVE,
}


@settings(max_examples=100, deadline=None)
@given(legs=st.lists(LEG, min_size=1, max_size=5), data=st.data())
def test_a_bad_field_of_any_leg_is_named_with_the_legs_index(
    legs: list[dict[str, Any]], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(legs) - 1))
    field = data.draw(st.sampled_from(sorted(_LEG_ERRORS)))
    legs[index] = {**legs[index], field: data.draw(_LEG_ERRORS[field])}

    with pytest.raises(InvalidRequestError) as raised:
        w.check_legs("U1234567", legs)

    assert raised.value.field == f"orders[{index}].{field}"


# --- the client: bad input, nothing sent ------------------------------------------------

CLIENT_CALLS: list[tuple[str, Callable[[IbkrClient, Any], Any], Strategy]] = [
    ("get_order_status", lambda c, x: c.get_order_status(x), BAD_ID),
    ("get_trades", lambda c, x: c.get_trades(days=x), st.integers(8) | st.text(max_size=3)),
    ("get_position", lambda c, x: c.get_position("U1", x), BAD_CONID),
    ("get_account_balances", lambda c, x: c.get_account_balances(x), BAD_STRING_ID),
    ("invalidate_positions", lambda c, x: c.invalidate_positions(x), BAD_STRING_ID),
    ("get_allocation", lambda c, x: c.get_allocation(x), BAD_STRING_ID),
    ("search_stocks", lambda c, x: c.search_stocks(x), BAD_SYMBOL),
    ("search_futures", lambda c, x: c.search_futures(x), BAD_SYMBOL),
    ("get_secdef", lambda c, x: c.get_secdef(x), BAD_CONID),
    ("get_trading_schedule", lambda c, x: c.get_trading_schedule("STK", x), BAD_SYMBOL),
    ("get_option_strikes", lambda c, x: c.get_option_strikes(1, x), BAD_MONTH),
    ("get_secdef_info", lambda c, x: c.get_secdef_info(x, "STK"), BAD_CONID),
    ("get_option_chain", lambda c, x: c.get_option_chain(1, "JAN25", x), BAD_CODE),
    ("get_contract_rules", lambda c, x: c.get_contract_rules(1, x), BAD_BOOL),
    ("unsubscribe_market_data", lambda c, x: c.unsubscribe_market_data(x), BAD_CONID),
    ("run_scanner", lambda c, x: c.run_scanner("STK", x, "STK.US.MAJOR"), BAD_CODE),
    ("get_alerts", lambda c, x: c.get_alerts(x), BAD_STRING_ID),
    ("create_alert", lambda c, x: c.create_alert("U1", "n", "m", x), BAD_CONDITION),
    ("delete_alert", lambda c, x: c.delete_alert("U1", x), BAD_ID),
    ("create_watchlist", lambda c, x: c.create_watchlist(1, "w", x), BAD_CONID.map(lambda b: [b])),
    ("delete_watchlist", lambda c, x: c.delete_watchlist(x), st.sampled_from(["", "x", "1 2"])),
    ("get_performance", lambda c, x: c.get_performance("U1", x), not_one_of(["1M", "YTD"])),
    ("get_transactions", lambda c, x: c.get_transactions("U1", 1, x), st.just("DOLLARS")),
    ("get_notifications", lambda c, x: c.get_notifications(x), st.integers(101)),
    ("preview_order", lambda c, x: c.preview_order("U1", 1, "BUY", x), BAD_POSITIVE),
    (
        "place_bracket_order",
        lambda c, x: c.place_bracket_order("U1", 1, "BUY", 1, 100.0, 110.0, x),
        BAD_POSITIVE | st.floats(100.0, 1e6),
    ),
    (
        "place_orders",
        lambda c, x: c.place_orders("U1", [{"conid": 1, "side": "BUY", "quantity": x}]),
        BAD_POSITIVE,
    ),
    ("request", lambda c, x: c.request("GET", x), st.sampled_from(["x", "//h/x", "/a/../b"])),
]


@pytest.fixture(scope="module")
def quiet_client() -> Any:
    """A client whose every request would be recorded: none may be made."""
    with (
        responses.RequestsMock(assert_all_requests_are_fired=False) as mock,
        IbkrClient(clock=ManualClock()) as client,
    ):
        yield client, mock


@pytest.mark.parametrize(("name", "call", "bad"), CLIENT_CALLS, ids=[c[0] for c in CLIENT_CALLS])
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_bad_input_to_any_wider_method_sends_nothing(
    quiet_client: Any,
    name: str,
    call: Callable[[IbkrClient, Any], Any],
    bad: Strategy,
    data: st.DataObject,
) -> None:
    client, mock = quiet_client
    value = data.draw(bad)

    with pytest.raises(InvalidRequestError):
        call(client, value)

    assert len(mock.calls) == 0
