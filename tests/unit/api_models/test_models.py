"""Typed views against the recorded gateway answers, plus the odd shapes IBKR is known for."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from ibkr_api.models import (
    Account,
    AuthStatus,
    Contract,
    History,
    LedgerEntry,
    Order,
    OrderReply,
    Position,
    Quote,
    parse_number,
)
from ibkr_session.errors import IbkrAPIError

Recorded = Callable[[str], dict[str, Any]]


@pytest.fixture
def body(recorded: Recorded) -> Callable[[str], Any]:
    """The recorded answer's JSON body, by file stem."""
    return lambda stem: recorded(stem)["Response"]["Body"]


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)


def malformed(build: Callable[[Any], object], payload: Any, culprit: Any = None) -> IbkrAPIError:
    """Assert ``build(payload)`` says "malformed" and carries the offending JSON."""
    with pytest.raises(IbkrAPIError) as caught:
        build(payload)
    assert caught.value.code == "malformed"
    assert caught.value.body == (payload if culprit is None else culprit)
    return caught.value


# --- numbers as IBKR writes them ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("168.42", 168.42),
        ("1,300", 1300.0),
        ("1.2M", 1_200_000.0),
        ("87K", 87_000.0),
        ("C168.42", 168.42),
        ("H168.42", 168.42),
        ("0.54%", 0.54),
        ("-3.50", -3.5),
        (" 12 ", 12.0),
        (5, 5.0),
        (647.09, 647.09),
        ("", None),
        ("-", None),
        ("N/A", None),
        (None, None),
    ],
)
def test_parse_number_reads_ibkr_formats(text: object, number: float | None) -> None:
    assert parse_number(text) == number


@pytest.mark.parametrize(
    "junk", ["abc", "C", "1.2.3", "nan", "inf", True, [1], {"a": 1}, 10**400, float("nan")]
)
def test_parse_number_refuses_what_it_cannot_read(junk: object) -> None:
    with pytest.raises(ValueError, match="not a"):
        parse_number(junk)


# --- quotes ------------------------------------------------------------------------------


def test_recorded_snapshot_row_becomes_a_quote(body: Callable[[str], Any]) -> None:
    (quote,) = Quote.list_from_json(body("MarketData__GET-snapshot"))
    assert quote.conid == 756733
    assert (quote.last, quote.bid, quote.ask) == (655.89, 655.88, 655.90)
    assert (quote.bid_size, quote.ask_size, quote.volume) == (200.0, 100.0, 50_000_000.0)
    assert (quote.high, quote.low, quote.change, quote.change_percent) == (
        658.2,
        645.11,
        3.5,
        0.54,
    )
    assert quote.updated == utc(2026, 4, 2, 22, 40)
    assert quote.availability == "S"
    assert not quote.is_prior_close
    assert quote.model_extra is not None
    assert quote.model_extra["server_id"] == "6571225"  # unknown fields are kept


def test_the_documented_formatted_row_parses() -> None:
    row = {
        "31": "C168.42",
        "84": "168.41",
        "86": "168.42",
        "88": "1,300",
        "85": "600",
        "7059": "100",
        "87": "87K",
        "6509": "RpB",
        "_updated": 1712596911593,
        "conid": 265598,
    }
    quote = Quote.from_json(row)
    assert (quote.last, quote.is_prior_close, quote.is_halted) == (168.42, True, False)
    assert (quote.bid_size, quote.last_size, quote.volume) == (1300.0, 100.0, 87_000.0)
    assert quote.updated == dt.datetime(2024, 4, 8, 17, 21, 51, 593000, tzinfo=dt.UTC)


def test_a_halted_last_price_is_flagged() -> None:
    quote = Quote.from_json({"conid": 8314, "31": "H130.10"})
    assert (quote.last, quote.is_halted, quote.is_prior_close) == (130.10, True, False)


def test_exact_volume_is_used_when_the_formatted_one_is_absent() -> None:
    assert Quote.from_json({"conid": 8314, "7762": 123456}).volume == 123456.0


def test_a_preflight_row_is_a_quote_without_prices() -> None:
    quote = Quote.from_json({"conid": 265598, "conidEx": "265598"})
    assert (quote.conid, quote.last, quote.bid, quote.updated) == (265598, None, None, None)


@pytest.mark.parametrize(
    "row",
    [None, [], "x", {"31": "168.42"}, {"conid": 1, "31": "abc"}, {"conid": 1, "_updated": "x"}],
)
def test_a_malformed_snapshot_row_raises_a_typed_error(row: Any) -> None:
    error = malformed(Quote.from_json, row)
    assert "Quote" in str(error)


def test_a_snapshot_that_is_not_a_list_raises_a_typed_error() -> None:
    malformed(Quote.list_from_json, {"conid": 1})


# --- history ------------------------------------------------------------------------------


def test_recorded_history_gives_bars_with_aware_times(body: Callable[[str], Any]) -> None:
    raw = body("MarketData__GET-history")
    history = History.from_json(raw)
    assert (history.symbol, history.time_period, history.bar_length) == ("SPY", "1d", 60)
    assert [bar.close for bar in history.bars] == [b["c"] for b in raw["data"]]
    first = history.bars[0]
    assert (first.open, first.high, first.low, first.volume) == (646.42, 647.47, 646.38, 17219.125)
    assert first.time == utc(2026, 4, 2, 13, 30)
    assert history.bars[1].time - first.time == dt.timedelta(minutes=1)


def test_history_without_data_has_no_bars() -> None:
    assert History.from_json({"symbol": "SPY"}).bars == []


def test_a_bar_without_its_time_is_malformed() -> None:
    malformed(History.from_json, {"data": [{"o": 1, "h": 1, "l": 1, "c": 1}]})


# --- portfolio ----------------------------------------------------------------------------


def test_recorded_positions(body: Callable[[str], Any]) -> None:
    (position,) = Position.list_from_json(body("Portfolio__GET-portfolio-positions-page0"))
    assert (position.conid, position.position, position.description) == (320227571, 3.0, "QQQ")
    assert (position.market_value, position.avg_cost) == (1754.04, 584.31333335)
    assert position.account_id == "U1234567"
    assert Position.list_from_json(body("Portfolio__GET-portfolio-positions-empty")) == []


def test_recorded_ledger_timestamps_are_seconds(body: Callable[[str], Any]) -> None:
    ledger = LedgerEntry.by_currency(body("Portfolio__GET-portfolio-ledger"))
    assert set(ledger) >= {"USD", "BASE"}
    usd = ledger["USD"]
    assert (usd.cash_balance, usd.net_liquidation_value) == (971869.6, 1005165.5)
    assert usd.timestamp == utc(2026, 4, 2, 22, 40, 6)


def test_a_ledger_that_is_not_an_object_is_malformed() -> None:
    malformed(LedgerEntry.by_currency, [1, 2])


@pytest.mark.parametrize(
    "stem", ["Portfolio__GET-portfolio-accounts", "Portfolio__GET-portfolio-subaccounts"]
)
def test_recorded_accounts(body: Callable[[str], Any], stem: str) -> None:
    (account,) = Account.list_from_json(body(stem))
    assert (account.account_id, account.currency, account.type) == ("U1234567", "USD", "DEMO")
    assert account.title == "Test User"


# --- orders -------------------------------------------------------------------------------


def test_recorded_live_orders(body: Callable[[str], Any]) -> None:
    (order,) = Order.list_from_json(body("Orders__GET-live-orders"))
    assert (order.order_id, order.status, order.side) == ("473740665", "Filled", "BUY")
    assert (order.avg_price, order.price, order.filled_quantity) == (647.09, None, 1.0)
    assert order.last_execution == utc(2026, 4, 1, 23, 40, 47)
    assert Order.list_from_json(body("Orders__GET-live-orders-empty")) == []


def test_an_orders_coid_comes_from_order_ref() -> None:
    (order,) = Order.list_from_json([{"orderId": 7, "order_ref": "bot-42", "conid": 8314}])
    assert (order.order_id, order.coid) == ("7", "bot-42")


def test_an_order_without_its_id_is_malformed() -> None:
    malformed(Order.list_from_json, {"orders": [{"conid": 8314}]}, culprit={"conid": 8314})


def test_recorded_question_reply(body: Callable[[str], Any]) -> None:
    reply = OrderReply.from_json(body("Orders__POST-place-order-confirmation"))
    assert reply.kind == "question"
    assert (reply.question_id, reply.message_ids) == ("test-reply-id-001", ["o354"])
    assert reply.messages[0].startswith("You are submitting an order without market data")
    assert reply.order_id is None


@pytest.mark.parametrize(
    ("stem", "order_id"),
    [
        ("Orders__POST-place-order-submitted", "123456789"),
        ("Orders__POST-reply-submitted", "987654321"),
        ("Orders__POST-modify-order-submitted", "555666777"),
    ],
)
def test_recorded_submitted_replies(body: Callable[[str], Any], stem: str, order_id: str) -> None:
    reply = OrderReply.from_json(body(stem))
    assert (reply.kind, reply.order_id, reply.order_status) == (
        "submitted",
        order_id,
        "PreSubmitted",
    )


def test_a_rejection_is_its_own_kind() -> None:
    reply = OrderReply.from_json({"error": "We cannot accept an order at the limit price"})
    assert (reply.kind, reply.error) == ("rejected", "We cannot accept an order at the limit price")


def test_a_question_whose_message_is_a_bare_string_still_lists_it() -> None:
    reply = OrderReply.from_json([{"id": "r1", "message": "Sure?", "messageIds": ["o163"]}])
    assert (reply.kind, reply.messages) == ("question", ["Sure?"])


@pytest.mark.parametrize("payload", [[], None, "ok", [1], {"status": "submitted"}])
def test_an_unrecognisable_order_reply_is_malformed(payload: Any) -> None:
    malformed(OrderReply.from_json, payload)


# --- session and contracts ----------------------------------------------------------------


def test_auth_status_from_the_flat_answer(body: Callable[[str], Any]) -> None:
    status = AuthStatus.from_json(body("Session__GET-auth-status"))
    assert (status.authenticated, status.competing, status.connected) == (True, False, True)
    assert status.mac == "AA:BB:CC:DD:EE:FF"


def test_auth_status_from_tickles_nested_answer(body: Callable[[str], Any]) -> None:
    status = AuthStatus.from_json(body("Session__POST-tickle"))
    assert (status.authenticated, status.established) == (True, True)


def test_a_competing_session_reads_as_competing() -> None:
    tickle = {
        "session": "s",
        "iserver": {"authStatus": {"authenticated": False, "competing": True}},
    }
    status = AuthStatus.from_json(tickle)
    # One reader with the session: a missing ``connected`` means connected.
    assert (status.authenticated, status.competing, status.connected) == (False, True, True)


@pytest.mark.parametrize(
    "payload", [{"session": "s", "iserver": {}}, {"iserver": 3}, {"error": "no session"}]
)
def test_auth_status_without_a_status_is_malformed(payload: Any) -> None:
    malformed(AuthStatus.from_json, payload)


@pytest.mark.parametrize(
    ("stem", "conid"),
    [("Contracts__GET-secdef-search", 756733), ("Contracts__POST-secdef-search", 265598)],
)
def test_search_rows_turn_the_string_conid_into_an_int(
    body: Callable[[str], Any], stem: str, conid: int
) -> None:
    first = Contract.list_from_json(body(stem))[0]
    assert first.conid == conid
    assert first.sections[0] == {"secType": "STK"}


def test_recorded_contract_info(body: Callable[[str], Any]) -> None:
    contract = Contract.from_json(body("Contracts__GET-contract-info"))
    assert (contract.conid, contract.symbol, contract.sec_type) == (756733, "SPY", "STK")
    assert (contract.exchange, contract.currency) == ("SMART", "USD")
