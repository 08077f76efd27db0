"""Order groups (brackets, OCA), what-if previews and single-order status."""

from __future__ import annotations

from typing import Any

import pytest

from ibkr_session.clock import ManualClock
from ibkr_sim.book import Broker
from ibkr_sim.market import Market
from ibkr_sim.orders import SimOrder
from ibkr_sim.refusal import Refusal

from .conftest import AAPL, ACCOUNT

Answer = list[dict[str, Any]] | dict[str, Any]


@pytest.fixture
def subscribed(market: Market) -> Market:
    market.snapshot_fields(AAPL, ["31"])
    return market


def _confirm_all(broker: Broker, answer: Answer) -> Answer:
    while isinstance(answer, list) and "id" in answer[0]:
        answer = broker.reply(str(answer[0]["id"]), True)
    return answer


def _bracket(entry: float, take_profit: float, stop_loss: float) -> list[dict[str, object]]:
    base = {"acctId": ACCOUNT, "conid": AAPL, "quantity": 10, "tif": "GTC"}
    return [
        {**base, "cOID": "entry", "side": "BUY", "orderType": "LMT", "price": entry},
        {**base, "cOID": "tp", "parentId": "entry", "side": "SELL", "orderType": "LMT",
         "price": take_profit},
        {**base, "cOID": "sl", "parentId": "entry", "side": "SELL", "orderType": "STP",
         "auxPrice": stop_loss},
    ]  # fmt: skip


def _order(broker: Broker, coid: str) -> SimOrder:
    order = broker.order_by_coid(coid)
    assert order is not None, coid
    return order


def _statuses(broker: Broker) -> dict[str, str]:
    return {coid: _order(broker, coid).status for coid in ("entry", "tp", "sl")}


def _place_bracket(broker: Broker, market: Market) -> float:
    price = market.price(AAPL)
    legs = _bracket(round(price * 0.99, 2), round(price * 1.05, 2), round(price * 0.95, 2))
    answer = _confirm_all(broker, broker.place(ACCOUNT, legs, set()))
    assert isinstance(answer, list)
    assert [("order_id" in leg) for leg in answer] == [True] * 3, answer
    return price


def test_bracket_children_wait_for_the_entry(broker: Broker, subscribed: Market) -> None:
    _place_bracket(broker, subscribed)
    assert _statuses(broker) == {"entry": "Submitted", "tp": "PreSubmitted", "sl": "PreSubmitted"}
    assert broker.executions == []
    rows = {r["order_ref"]: r for r in broker.orders()["orders"]}
    assert rows["tp"]["parentId"] == rows["sl"]["parentId"] == _order(broker, "entry").order_id


def test_take_profit_fill_cancels_the_stop_loss(
    broker: Broker, subscribed: Market, clock: ManualClock
) -> None:
    price = _place_bracket(broker, subscribed)
    subscribed.set_price(AAPL, round(price * 0.985, 2))
    clock.advance(60)
    broker.process()
    assert _statuses(broker) == {"entry": "Filled", "tp": "Submitted", "sl": "PreSubmitted"}
    subscribed.set_price(AAPL, round(price * 1.06, 2))
    clock.advance(60)
    broker.process()
    assert _statuses(broker) == {"entry": "Filled", "tp": "Filled", "sl": "Cancelled"}
    assert [e.coid for e in broker.executions] == ["entry", "tp"]
    assert broker.positions(ACCOUNT) == []


def test_stop_loss_fill_cancels_the_take_profit(
    broker: Broker, subscribed: Market, clock: ManualClock
) -> None:
    price = _place_bracket(broker, subscribed)
    subscribed.set_price(AAPL, round(price * 0.985, 2))
    clock.advance(60)
    subscribed.set_price(AAPL, round(price * 0.93, 2))  # entry and stop in one stretch
    clock.advance(60)
    broker.process()
    assert _statuses(broker) == {"entry": "Filled", "tp": "Cancelled", "sl": "Filled"}
    assert [e.coid for e in broker.executions] == ["entry", "sl"]


def test_cancelling_the_entry_cancels_its_children(
    broker: Broker, subscribed: Market, clock: ManualClock
) -> None:
    _place_bracket(broker, subscribed)
    broker.cancel(ACCOUNT, _order(broker, "entry").order_id)
    clock.advance(1)
    broker.process()
    assert _statuses(broker) == {"entry": "Cancelled", "tp": "Cancelled", "sl": "Cancelled"}


def test_a_child_of_an_unknown_parent_is_rejected(broker: Broker, subscribed: Market) -> None:
    legs = _bracket(100.0, 110.0, 90.0)[1:]
    answer = broker.place(ACCOUNT, legs, set())
    assert isinstance(answer, dict)
    assert "parentId" in answer["error"]
    assert broker.order_by_coid("tp") is None


def test_single_group_first_fill_cancels_the_others(
    broker: Broker, subscribed: Market, clock: ManualClock
) -> None:
    price = subscribed.price(AAPL)
    legs = [
        {"conid": AAPL, "side": "BUY", "quantity": 5, "orderType": "LMT", "tif": "GTC",
         "price": round(price * (1 - step), 2), "cOID": f"oca{step}", "isSingleGroup": True}
        for step in (0.01, 0.02)
    ]  # fmt: skip
    _confirm_all(broker, broker.place(ACCOUNT, legs, set()))
    subscribed.set_price(AAPL, round(price * 0.985, 2))
    clock.advance(60)
    broker.process()
    assert _order(broker, "oca0.01").status == "Filled"
    assert _order(broker, "oca0.02").status == "Cancelled"


def test_what_if_places_nothing(broker: Broker, subscribed: Market) -> None:
    order = {"conid": AAPL, "side": "BUY", "quantity": 10, "orderType": "MKT", "cOID": "w"}
    before = broker.portfolio(ACCOUNT).totals()
    preview = broker.preview(ACCOUNT, [order])
    assert set(preview) == {
        "amount", "equity", "initial", "maintenance", "position", "warn", "error",
    }  # fmt: skip
    assert preview["position"] == {"current": "0", "change": "10", "after": "10"}
    assert preview["amount"]["amount"].endswith("USD (10 Shares)")
    assert preview["warn"] is None
    assert preview["error"] is None
    assert float(preview["initial"]["change"].replace(",", "")) > 0
    assert broker.orders()["orders"] == []
    assert broker.executions == []
    assert broker.portfolio(ACCOUNT).totals() == before
    placed = _confirm_all(broker, broker.place(ACCOUNT, [order], set()))  # cOID still free
    assert isinstance(placed, list)
    assert "order_id" in placed[0]


def test_what_if_warns_without_market_data_and_rejects_bad_orders(broker: Broker) -> None:
    order = {"conid": AAPL, "side": "BUY", "quantity": 1, "orderType": "MKT"}
    assert broker.preview(ACCOUNT, [order])["warn"].startswith("21/")
    assert "error" in broker.preview(ACCOUNT, [{**order, "orderType": "LMT"}])


def test_order_status_of_this_session_and_503_for_others(
    broker: Broker, subscribed: Market
) -> None:
    _place_bracket(broker, subscribed)
    entry = _order(broker, "entry")
    status = broker.order_status(str(entry.order_id))
    assert (status["order_id"], status["order_status"], status["side"]) == (
        entry.order_id, "Submitted", "B",
    )  # fmt: skip
    assert status["total_size"] == "10.0"
    assert status["cum_fill"] == "0.0"
    with pytest.raises(Refusal) as unknown:
        broker.order_status("42")
    assert unknown.value.status == 503
