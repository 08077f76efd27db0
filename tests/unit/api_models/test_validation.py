"""Argument validation: what a caller gets back for good input, and the error for bad input."""

from __future__ import annotations

from typing import Any

import pytest

from ibkr_api.validation import (
    CancelOrderArgs,
    GetFilledOrdersArgs,
    GetHistoricalDataArgs,
    GetMarketSnapshotArgs,
    GetPositionsArgs,
    ModifyOrderArgs,
    PlaceOrderArgs,
    ReplyToOrderArgs,
    SearchContractArgs,
    SelectAccountArgs,
    SuppressMessagesArgs,
    validate,
)
from ibkr_session.errors import InvalidRequestError

ORDER = {"account_id": "U1234567", "conid": 265598, "side": "BUY", "quantity": 10}


def invalid(model: type[Any], **arguments: object) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as caught:
        validate(model, **arguments)
    return caught.value


# --- ids that go into URL paths ---------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    ["", "U1/../x", "U1 23", "U1\t", "U1\n", "U1\x00", "..", "U1?x=1", "U1#", "U1%2F", 7, None],
)
def test_account_ids_that_would_break_the_url_path_are_refused(bad: object) -> None:
    error = invalid(GetPositionsArgs, account_id=bad)
    assert error.field == "account_id"
    assert repr(bad) in str(error)


def test_order_ids_accept_ints_and_come_back_as_strings() -> None:
    args = validate(CancelOrderArgs, account_id="U1234567", order_id=602801486)
    assert args.order_id == "602801486"
    assert invalid(CancelOrderArgs, account_id="U1", order_id=True).field == "order_id"
    assert invalid(CancelOrderArgs, account_id="U1", order_id="1/2").field == "order_id"


def test_reply_ids_keep_the_gateways_uuid_like_form() -> None:
    args = validate(ReplyToOrderArgs, message_id="07a13a5a-4a48-44a5-bb25-5ab37b79186c")
    assert args.confirmed is True
    assert invalid(ReplyToOrderArgs, message_id="").field == "message_id"


@pytest.mark.parametrize("bad", [1, "yes", None, 0.0])
def test_confirmed_must_be_a_real_bool(bad: object) -> None:
    assert invalid(ReplyToOrderArgs, message_id="abc", confirmed=bad).field == "confirmed"


def test_filled_orders_account_is_optional() -> None:
    assert validate(GetFilledOrdersArgs).account_id is None
    assert validate(GetFilledOrdersArgs, account_id="U1").account_id == "U1"


# --- conids -----------------------------------------------------------------------------


def test_conid_accepts_the_digit_string_search_contract_returns() -> None:
    assert validate(GetHistoricalDataArgs, conid="265598").conid == 265598


@pytest.mark.parametrize("bad", [0, -5, True, 265598.0, "AAPL", "26 5598", "", None, "١٢"])
def test_conid_must_be_a_positive_integer(bad: object) -> None:
    error = invalid(GetHistoricalDataArgs, conid=bad)
    assert error.field == "conid"
    assert "positive integer conid" in str(error)


def test_snapshot_takes_one_conid_or_a_list_and_normalises_field_tags() -> None:
    one = validate(GetMarketSnapshotArgs, conids=265598)
    assert (one.conids, one.fields) == ([265598], None)
    many = validate(GetMarketSnapshotArgs, conids=(265598, "8314"), fields=[31, "84", 86])
    assert (many.conids, many.fields) == ([265598, 8314], ["31", "84", "86"])


@pytest.mark.parametrize(
    ("arguments", "field", "said"),
    [
        ({"conids": []}, "conids", "at least one"),
        ({"conids": [265598, 0]}, "conids", "item 1 (0)"),
        ({"conids": 1, "fields": []}, "fields", "at least one"),
        ({"conids": 1, "fields": "31,84"}, "fields", "list of field tags"),
        ({"conids": 1, "fields": ["31", "last"]}, "fields", "item 1 ('last')"),
        ({"conids": 1, "fields": [True]}, "fields", "item 0 (True)"),
        ({"conids": 1, "fields": [str(n) for n in range(51)]}, "fields", "at most 50"),
    ],
)
def test_snapshot_arguments_that_the_gateway_would_refuse(
    arguments: dict[str, object], field: str, said: str
) -> None:
    error = invalid(GetMarketSnapshotArgs, **arguments)
    assert error.field == field
    assert said in str(error)


# --- history ----------------------------------------------------------------------------


@pytest.mark.parametrize("period", ["1min", "30min", "8h", "1000d", "792w", "182m", "15y", "1d"])
def test_every_documented_period_is_accepted(period: str) -> None:
    assert validate(GetHistoricalDataArgs, conid=1, period=period).period == period


@pytest.mark.parametrize(
    "period", ["31min", "9h", "1001d", "793w", "183m", "16y", "0d", "01d", "1D", "d", "1 d", 1]
)
def test_periods_outside_the_grammar_are_refused(period: object) -> None:
    assert invalid(GetHistoricalDataArgs, conid=1, period=period).field == "period"


def test_history_bar_and_outside_rth() -> None:
    args = validate(GetHistoricalDataArgs, conid=1, bar="15min", outside_rth=True)
    assert (args.period, args.bar, args.outside_rth) == ("1d", "15min", True)
    assert invalid(GetHistoricalDataArgs, conid=1, bar="7min").field == "bar"
    assert invalid(GetHistoricalDataArgs, conid=1, outside_rth="false").field == "outside_rth"


# --- contracts, questions ---------------------------------------------------------------


def test_search_normalises_sec_type_and_refuses_unknown_ones() -> None:
    args = validate(SearchContractArgs, symbol="AAPL", sec_type="cash")
    assert (args.symbol, args.sec_type) == ("AAPL", "CASH")
    assert validate(SearchContractArgs, symbol="SPY").sec_type == "STK"
    assert invalid(SearchContractArgs, symbol="AAPL", sec_type="CRYPTO").field == "sec_type"
    assert invalid(SearchContractArgs, symbol="  ").field == "symbol"


def test_suppress_takes_a_list_of_question_ids() -> None:
    assert validate(SuppressMessagesArgs, message_ids=["o163", "p12"]).message_ids == [
        "o163",
        "p12",
    ]
    # A bare string is iterable: refusing it beats suppressing "o", "1", "6", "3".
    assert invalid(SuppressMessagesArgs, message_ids="o163").field == "message_ids"
    assert invalid(SuppressMessagesArgs, message_ids=[]).field == "message_ids"
    assert invalid(SuppressMessagesArgs, message_ids=["o163", "163"]).field == "message_ids"
    assert invalid(SuppressMessagesArgs, message_ids=["o1"] * 52).field == "message_ids"


# --- orders -----------------------------------------------------------------------------


def test_a_stop_order_sends_its_stop_as_price() -> None:
    body = validate(PlaceOrderArgs, **ORDER, order_type="stp", price=150).to_gateway()
    assert (body["orderType"], body["price"]) == ("STP", 150)
    assert "auxPrice" not in body


def test_a_trailing_order_carries_its_trail() -> None:
    args = validate(
        PlaceOrderArgs, **ORDER, order_type="TRAIL", trailing_amt=1.5, trailing_type="%", tif="gtc"
    )
    body = args.to_gateway()
    assert (body["trailingAmt"], body["trailingType"], body["tif"]) == (1.5, "%", "GTC")


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"order_type": "LMT"}, "price"),
        ({"order_type": "STP"}, "price"),
        ({"order_type": "STP_LMT", "price": 10}, "aux_price"),
        ({"order_type": "MKT", "price": 10}, "price"),
        ({"order_type": "LMT", "price": 10, "aux_price": 9}, "aux_price"),
        ({"order_type": "TRAIL"}, "trailing_amt"),
        ({"order_type": "TRAIL", "trailing_amt": 1}, "trailing_type"),
        ({"order_type": "LMT", "price": 10, "trailing_amt": 1}, "trailing_amt"),
        ({"order_type": "TRAILLMT", "trailing_amt": 1, "trailing_type": "amt"}, "price"),
        ({"order_type": "TRAIL", "trailing_amt": 1, "trailing_type": "pct"}, "trailing_type"),
        ({"order_type": "LIMIT"}, "order_type"),
        ({"tif": "GTD"}, "tif"),
        ({"side": "SHORT"}, "side"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": float("nan")}, "quantity"),
        ({"quantity": float("inf")}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"quantity": "10"}, "quantity"),
        ({"order_type": "LMT", "price": -1}, "price"),
        ({"order_type": "LMT", "price": float("nan")}, "price"),
        ({"outside_rth": "yes"}, "outside_rth"),
        ({"coid": ""}, "coid"),
        ({"coid": "x" * 65}, "coid"),
        ({"coid": "line\nbreak"}, "coid"),
        ({"coid": "ü"}, "coid"),
        ({"stop": 5}, "stop"),
    ],
)
def test_orders_that_must_not_be_sent_are_refused(extra: dict[str, object], field: str) -> None:
    error = invalid(PlaceOrderArgs, **{**ORDER, **extra})
    assert error.field == field
    assert isinstance(error, ValueError)
    assert field in str(error)


def test_modify_needs_the_order_id_and_defaults_to_a_limit_order() -> None:
    assert invalid(ModifyOrderArgs, **ORDER, price=10).field == "order_id"
    args = validate(ModifyOrderArgs, **ORDER, order_id=473740665, price=10)
    assert args.to_gateway()["orderType"] == "LMT"
    assert args.order_id == "473740665"


def test_missing_and_unexpected_arguments_name_themselves() -> None:
    missing = invalid(SelectAccountArgs)
    assert (missing.field, str(missing)) == ("account_id", "account_id is required")
    unexpected = invalid(SelectAccountArgs, account_id="U1", acct="U2")
    assert unexpected.field == "acct"
    assert "unexpected argument 'acct'" in str(unexpected)


def test_a_huge_bad_value_is_shortened_in_the_message() -> None:
    error = invalid(SearchContractArgs, symbol="AAPL", sec_type="X" * 500)
    assert len(str(error)) < 200
