"""Orders: questions and replies, rejects, duplicate cOIDs, fills, expiry, cancel, modify."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from ibkr_session.clock import ManualClock
from ibkr_sim.book import Broker
from ibkr_sim.market import Market
from ibkr_sim.orders import SimOrder
from ibkr_sim.refusal import UnknownAccountError, UnknownReplyError
from ibkr_sim.tickets import parse_ticket

from .conftest import AAPL, ACCOUNT, ES

Answer = list[dict[str, Any]] | dict[str, Any]


def _order(**fields: object) -> dict[str, object]:
    order: dict[str, object] = {
        "acctId": ACCOUNT, "conid": AAPL, "side": "BUY", "quantity": 10,
        "orderType": "MKT", "tif": "DAY",
    }  # fmt: skip
    order.update(fields)
    return order


def _message_ids(answer: Answer) -> list[str]:
    assert isinstance(answer, list), answer
    return [str(i) for i in answer[0].get("messageIds", [])]


def _reply_id(answer: Answer) -> str:
    assert isinstance(answer, list), answer
    assert "id" in answer[0], answer
    return str(answer[0]["id"])


def _confirm_all(broker: Broker, answer: Answer) -> Answer:
    while isinstance(answer, list) and "id" in answer[0]:
        answer = broker.reply(_reply_id(answer), True)
    return answer


def _existing(order: SimOrder | None) -> SimOrder:
    assert order is not None
    return order


def _place(broker: Broker, **fields: object) -> dict[str, object]:
    answer = _confirm_all(broker, broker.place(ACCOUNT, [_order(**fields)], set()))
    assert isinstance(answer, list), answer
    assert "order_id" in answer[0], answer
    return answer[0]


@pytest.fixture
def subscribed(market: Market) -> Market:
    """AAPL market data is flowing in this session (no o354)."""
    market.snapshot_fields(AAPL, ["31"])
    return market


# -- questions -------------------------------------------------------------------------


def test_no_market_data_asks_o354_with_the_recorded_shape(
    broker: Broker, recorded: Callable[[str], dict[str, Any]]
) -> None:
    answer = broker.place(ACCOUNT, [_order()], set())
    real = recorded("Orders__POST-place-order-confirmation")["Response"]["Body"]
    assert isinstance(answer, list)
    assert answer[0].keys() == real[0].keys()
    assert answer[0]["message"] == real[0]["message"]
    assert _message_ids(answer) == ["o354"]


def test_limit_far_from_last_asks_o163(broker: Broker, subscribed: Market) -> None:
    far = round(subscribed.price(AAPL) * 0.95, 2)
    answer = broker.place(ACCOUNT, [_order(orderType="LMT", price=far)], set())
    assert _message_ids(answer) == ["o163"]
    near = round(subscribed.price(AAPL) * 0.98, 2)
    assert _message_ids(broker.place(ACCOUNT, [_order(orderType="LMT", price=near)], set())) == []


def test_size_over_500_asks_o383(broker: Broker, subscribed: Market) -> None:
    answer = broker.place(ACCOUNT, [_order(quantity=501)], {"o451"})
    assert _message_ids(answer) == ["o383"]
    assert "Size Limit of 500" in str(answer)


def test_value_over_100k_asks_o451(broker: Broker, subscribed: Market) -> None:
    quantity = int(100_000 / subscribed.price(AAPL)) + 1
    answer = broker.place(ACCOUNT, [_order(quantity=quantity)], {"o383"})
    assert _message_ids(answer) == ["o451"]
    assert "Total Value Limit of 100,000 USD" in str(answer)


def test_questions_come_one_per_reply_then_the_order(broker: Broker, market: Market) -> None:
    far = round(market.price(AAPL) * 0.9, 2)
    answer = broker.place(ACCOUNT, [_order(orderType="LMT", price=far, quantity=1000)], set())
    asked = []
    while isinstance(answer, list) and "id" in answer[0]:
        asked += _message_ids(answer)
        answer = broker.reply(_reply_id(answer), True)
    assert asked == ["o163", "o354", "o383", "o451"]
    assert isinstance(answer, list)
    assert answer[0]["order_status"] == "Submitted"
    assert len(broker.orders()["orders"]) == 1


def test_suppressed_questions_are_skipped(broker: Broker, market: Market) -> None:
    far = round(market.price(AAPL) * 0.9, 2)
    order = _order(orderType="LMT", price=far, quantity=1000)
    answer = broker.place(ACCOUNT, [order], {"o163", "o354", "o451"})
    assert _message_ids(answer) == ["o383"]
    answer = broker.place(ACCOUNT, [order], {"o163", "o354", "o383", "o451"})
    assert isinstance(answer, list)
    assert "order_id" in answer[0]


def test_reply_ids_are_single_use(broker: Broker) -> None:
    reply_id = _reply_id(broker.place(ACCOUNT, [_order()], set()))
    first = broker.reply(reply_id, True)
    assert isinstance(first, list)
    assert first[0]["order_status"] == "Filled"
    with pytest.raises(UnknownReplyError) as dead:
        broker.reply(reply_id, True)
    assert dead.value.status == 400
    assert dead.value.body == {"error": f"reply id not found: '{reply_id}'"}
    assert len(broker.executions) == 1


def test_answering_no_discards_the_order(broker: Broker) -> None:
    reply_id = _reply_id(broker.place(ACCOUNT, [_order(cOID="no-thanks")], set()))
    answer = broker.reply(reply_id, False)
    assert isinstance(answer, dict)
    assert "error" in answer
    assert broker.orders()["orders"] == []
    assert broker.order_by_coid("no-thanks") is None


def test_another_request_in_between_drops_the_pending_order(broker: Broker) -> None:
    reply_id = _reply_id(broker.place(ACCOUNT, [_order()], set()))
    broker.cancel_pending_questions()
    with pytest.raises(UnknownReplyError):
        broker.reply(reply_id, True)
    assert broker.orders()["orders"] == []


def test_reset_session_drops_questions_and_market_data(broker: Broker, subscribed: Market) -> None:
    reply_id = _reply_id(broker.place(ACCOUNT, [_order(quantity=600)], set()))
    broker.reset_session()
    with pytest.raises(UnknownReplyError):
        broker.reply(reply_id, True)
    assert _message_ids(broker.place(ACCOUNT, [_order()], set())) == ["o354"]


# -- rejects and duplicates --------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [({"conid": 1}, "contract"), ({"conid": "abc"}, "contract"), ({"side": "HOLD"}, "side"),
     ({"quantity": 0}, "quantity"), ({"quantity": -5}, "quantity"),
     ({"quantity": "many"}, "quantity"), ({"orderType": "FANCY"}, "order type"),
     ({"tif": "FOREVER"}, "time in force"), ({"orderType": "LMT"}, "price"),
     ({"orderType": "LMT", "price": 0}, "price"), ({"orderType": "LMT", "price": -1}, "price"),
     ({"orderType": "STP"}, "auxPrice"), ({"orderType": "TRAIL"}, "trailingAmt"),
     ({"orderType": "TRAIL", "trailingAmt": 1, "trailingType": "pips"}, "trailingType")],
)  # fmt: skip
def test_bad_orders_are_rejected_before_anything_rests(
    broker: Broker, fields: dict[str, object], fragment: str
) -> None:
    answer = broker.place(ACCOUNT, [_order(**fields)], set())
    assert isinstance(answer, dict)
    assert fragment in str(answer["error"])
    assert broker.orders()["orders"] == []


def test_unknown_account_is_refused_with_400(broker: Broker) -> None:
    with pytest.raises(UnknownAccountError) as refused:
        broker.place("U0000000", [_order()], set())
    assert refused.value.status == 400
    assert "accountId is not valid: U0000000" in refused.value.message


def test_a_cooid_is_accepted_once_per_24_hours(broker: Broker, clock: ManualClock) -> None:
    _place(broker, cOID="bot-1")
    duplicate = broker.place(ACCOUNT, [_order(cOID="bot-1")], {"o354"})
    assert duplicate == {
        "error": "Order couldn't be submitted: Local order ID=bot-1 is already registered."
    }
    assert len(broker.executions_by_coid()["bot-1"]) == 1
    clock.advance(86_400)
    assert "order_id" in _place(broker, cOID="bot-1")


def test_a_cancelled_order_still_holds_its_cooid(broker: Broker, market: Market) -> None:
    far = round(market.price(AAPL) * 0.99, 2)
    placed = _place(broker, orderType="LMT", price=far, cOID="c-1")
    broker.cancel(ACCOUNT, str(placed["order_id"]))
    broker.process()
    assert "already registered" in str(broker.place(ACCOUNT, [_order(cOID="c-1")], {"o354"}))


# -- fills, expiry, cancel, modify -------------------------------------------------------


def test_market_order_fills_at_once_at_the_ask(broker: Broker, market: Market) -> None:
    ask = market.bid_ask(AAPL, market.price(AAPL))[1]
    placed = _place(broker, cOID="m-1")
    assert placed["order_status"] == "Filled"
    (row,) = broker.orders(filters="filled")["orders"]
    assert (row["status"], row["avgPrice"], row["order_ref"]) == ("Filled", f"{ask:.2f}", "m-1")
    (trade,) = broker.trades()
    assert (trade["side"], trade["price"], trade["order_ref"]) == ("BOT", ask, "m-1")


def test_market_order_outside_hours_waits_for_the_open(broker: Broker, clock: ManualClock) -> None:
    clock.set(dt.datetime(2026, 1, 7, 1, 0, tzinfo=dt.UTC))  # 20:00 New York
    placed = _place(broker, tif="GTC")
    assert placed["order_status"] == "PreSubmitted"
    clock.set(dt.datetime(2026, 1, 7, 14, 31, tzinfo=dt.UTC))  # 09:31
    broker.process()
    order = broker.order(str(placed["order_id"]))
    assert order is not None
    assert order.status == "Filled"
    assert dt.datetime.fromtimestamp(broker.executions[0].time, dt.UTC).hour == 14


def test_limit_rests_and_fills_when_the_price_crosses(
    broker: Broker, market: Market, clock: ManualClock
) -> None:
    limit = round(market.price(AAPL) * 0.98, 2)
    placed = _place(broker, orderType="LMT", price=limit, cOID="dip")
    assert placed["order_status"] == "Submitted"
    clock.advance(60)
    broker.process()
    assert _existing(broker.order_by_coid("dip")).status == "Submitted"
    market.set_price(AAPL, limit - 0.50)
    broker.process()
    order = broker.order_by_coid("dip")
    assert order is not None
    assert order.status == "Filled"
    assert order.average_price is not None
    assert order.average_price <= limit
    broker.process()
    assert len(broker.executions) == 1


def test_sell_limit_fills_when_the_price_rises(
    broker: Broker, market: Market, clock: ManualClock
) -> None:
    limit = round(market.price(AAPL) * 1.02, 2)
    _place(broker, side="SELL", orderType="LMT", price=limit, cOID="pop")
    market.set_price(AAPL, limit + 1)
    clock.advance(120)
    broker.process()
    order = broker.order_by_coid("pop")
    assert order is not None
    assert order.status == "Filled"
    assert order.average_price is not None
    assert order.average_price >= limit


def test_day_order_expires_at_the_close_gtc_survives(
    broker: Broker, market: Market, clock: ManualClock
) -> None:
    limit = round(market.price(AAPL) * 0.5, 2)
    _place(broker, orderType="LMT", price=limit, cOID="day")
    _place(broker, orderType="LMT", price=limit, cOID="gtc", tif="GTC")
    clock.set(dt.datetime(2026, 1, 6, 20, 59, tzinfo=dt.UTC))  # 15:59 New York
    broker.process()
    assert _existing(broker.order_by_coid("day")).status == "Submitted"
    clock.advance(120)
    broker.process()
    assert _existing(broker.order_by_coid("day")).status == "Cancelled"
    assert _existing(broker.order_by_coid("gtc")).status == "PreSubmitted"


def test_stop_triggers_on_the_way_down(broker: Broker, market: Market, clock: ManualClock) -> None:
    _place(broker, quantity=20)
    stop = round(market.price(AAPL) * 0.97, 2)
    placed = _place(broker, side="SELL", quantity=20, orderType="STP", auxPrice=stop, tif="GTC")
    assert placed["order_status"] == "PreSubmitted"  # held until triggered
    market.set_price(AAPL, stop - 1)
    clock.advance(60)
    broker.process()
    order = broker.order(str(placed["order_id"]))
    assert order is not None
    assert order.status == "Filled"
    assert broker.positions(ACCOUNT) == []


def test_trailing_stop_follows_the_high(broker: Broker, market: Market, clock: ManualClock) -> None:
    start = market.price(AAPL)
    placed = _place(
        broker, side="SELL", orderType="TRAIL", trailingAmt=5, trailingType="amt", tif="GTC"
    )
    market.set_price(AAPL, start + 10)  # the stop follows up to start + 5
    clock.advance(60)
    broker.process()
    market.set_price(AAPL, start + 2)
    clock.advance(60)
    broker.process()
    order = broker.order(str(placed["order_id"]))
    assert order is not None
    assert order.status == "Filled"
    assert order.average_price is not None
    assert order.average_price > start


def test_ioc_that_cannot_fill_is_cancelled(broker: Broker, market: Market) -> None:
    limit = round(market.price(AAPL) * 0.99, 2)
    placed = _place(broker, orderType="LMT", price=limit, tif="IOC")
    assert placed["order_status"] == "Cancelled"


def test_cancel_is_acknowledged_then_applied_by_process(
    broker: Broker, market: Market, recorded: Callable[[str], dict[str, Any]]
) -> None:
    limit = round(market.price(AAPL) * 0.99, 2)
    order_id = str(_place(broker, orderType="LMT", price=limit)["order_id"])
    ack = broker.cancel(ACCOUNT, order_id)
    real = recorded("Orders__DELETE-cancel-order")["Response"]["Body"]
    assert ack.keys() == real.keys()
    assert (ack["msg"], ack["order_id"]) == ("Request was submitted", int(order_id))
    assert _existing(broker.order(order_id)).status == "Submitted"
    broker.process()
    assert _existing(broker.order(order_id)).status == "Cancelled"


def test_unknown_or_foreign_order_ids_do_not_exist(broker: Broker) -> None:
    order_id = str(_place(broker)["order_id"])
    assert broker.cancel(ACCOUNT, "1") == {"error": "OrderID 1 doesn't exist"}
    assert broker.cancel("U7654321", order_id) == {"error": f"OrderID {order_id} doesn't exist"}
    assert broker.modify(ACCOUNT, "1", _order()) == {"error": "OrderID 1 doesn't exist"}


def test_modify_replaces_price_and_size_and_keeps_the_cooid(
    broker: Broker, subscribed: Market
) -> None:
    market = subscribed
    low = round(market.price(AAPL) * 0.98, 2)
    order_id = str(_place(broker, orderType="LMT", price=low, cOID="mod")["order_id"])
    higher = round(market.price(AAPL) * 1.01, 2)  # marketable: fills on modify
    answer = broker.modify(ACCOUNT, order_id, _order(orderType="LMT", price=higher, quantity=5))
    assert answer == [{"order_id": order_id, "order_status": "Filled", "encrypt_message": "1"}]
    (execution,) = broker.executions_by_coid()["mod"]
    assert execution.quantity == 5
    assert broker.modify(ACCOUNT, order_id, _order()) == {
        "error": f"OrderID {order_id} doesn't exist"
    }


def test_modify_asks_questions_too(broker: Broker, subscribed: Market) -> None:
    market = subscribed
    low = round(market.price(AAPL) * 0.98, 2)
    order_id = str(_place(broker, orderType="LMT", price=low)["order_id"])
    far = round(market.price(AAPL) * 0.5, 2)
    answer = broker.modify(ACCOUNT, order_id, _order(orderType="LMT", price=far))
    assert _message_ids(answer) == ["o163"]
    done = broker.reply(_reply_id(answer), True)
    assert isinstance(done, list)
    assert done[0]["order_id"] == order_id
    assert _existing(broker.order(order_id)).ticket.price == far


def test_orders_list_matches_the_recording_and_filters(
    broker: Broker, market: Market, recorded: Callable[[str], dict[str, Any]]
) -> None:
    _place(broker, cOID="f")
    _place(broker, orderType="LMT", price=round(market.price(AAPL) * 0.99, 2), cOID="w")
    real = recorded("Orders__GET-live-orders")["Response"]["Body"]
    answer = broker.orders(ACCOUNT)
    assert answer.keys() == real.keys()
    rows = answer["orders"]
    assert isinstance(rows, list)
    for key, value in real["orders"][0].items():
        assert type(rows[-1][key]) is type(value), key
    assert [r["order_ref"] for r in broker.orders(filters="Submitted")["orders"]] == ["w"]
    assert [r["order_ref"] for r in broker.orders(filters="filled,cancelled")["orders"]] == ["f"]


def test_futures_trade_around_the_clock(broker: Broker, clock: ManualClock) -> None:
    clock.set(dt.datetime(2026, 1, 7, 3, 0, tzinfo=dt.UTC))  # 22:00 New York
    answer = _confirm_all(
        broker, broker.place(ACCOUNT, [_order(conid=ES, quantity=1, tif="GTC")], set())
    )
    assert isinstance(answer, list)
    assert answer[0]["order_status"] == "Filled"


def test_opening_orders_trade_only_at_the_next_open(
    broker: Broker, market: Market, clock: ManualClock
) -> None:
    clock.set(dt.datetime(2026, 1, 7, 1, 0, tzinfo=dt.UTC))  # 20:00 New York
    at_open = _existing(broker.order(str(_place(broker, tif="OPG")["order_id"])))
    far = round(market.price(AAPL) * 0.5, 2)
    never = _existing(
        broker.order(str(_place(broker, tif="OPG", orderType="LMT", price=far)["order_id"]))
    )
    clock.set(dt.datetime(2026, 1, 7, 14, 45, tzinfo=dt.UTC))  # 09:45
    broker.process()
    assert at_open.status == "Filled"
    (execution,) = broker.executions
    assert dt.datetime.fromtimestamp(execution.time, dt.UTC).time() < dt.time(14, 32)
    assert never.status == "Cancelled"


def test_stop_limit_becomes_a_limit_once_triggered(
    broker: Broker, market: Market, clock: ManualClock
) -> None:
    last = market.price(AAPL)
    stop, limit = round(last * 1.02, 2), round(last * 1.025, 2)
    placed = _place(broker, orderType="STOP_LIMIT", auxPrice=stop, price=limit, tif="GTC")
    order = _existing(broker.order(str(placed["order_id"])))
    assert order.status == "PreSubmitted"
    market.set_price(AAPL, round(last * 1.021, 2))
    clock.advance(60)
    broker.process()
    assert order.status == "Filled"
    assert order.average_price is not None
    assert stop <= order.average_price <= limit


def test_midprice_fills_at_the_midpoint(broker: Broker, market: Market) -> None:
    last = market.price(AAPL)
    _place(broker, orderType="MIDPRICE")
    assert broker.executions[0].price == pytest.approx(last)


@pytest.mark.parametrize("stop_in", ["price", "auxPrice"])
def test_a_stop_order_may_carry_its_stop_in_price_or_in_aux_price(stop_in: str) -> None:
    ticket = parse_ticket(_order(orderType="STP", **{stop_in: 150.0}))
    assert not isinstance(ticket, str), ticket
    assert (ticket.aux_price, ticket.price) == (150.0, None)


def test_a_stop_order_without_any_stop_is_refused() -> None:
    assert "Missing auxPrice" in str(parse_ticket(_order(orderType="STP")))
