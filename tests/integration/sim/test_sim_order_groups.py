"""Brackets and OCA groups, what-if, order status, trades and P&L over real HTTPS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from ibkr_session.clock import ManualClock
from ibkr_sim import SimulatedGateway
from tests.integration.sim.conftest import ACCOUNT, Api

AAPL = 265598
ORDERS = f"/iserver/account/{ACCOUNT}/orders"


def last_price(api: Api) -> float:
    query = {"conids": str(AAPL), "fields": "31"}
    api.get("/iserver/marketdata/snapshot", params=query)
    return float(api.get("/iserver/marketdata/snapshot", params=query).json()[0]["31"])


def confirm_all(api: Api, answer: Any) -> Any:
    while isinstance(answer, list) and answer and "id" in answer[0]:
        answer = api.post(f"/iserver/reply/{answer[0]['id']}", json={"confirmed": True}).json()
    return answer


def statuses(api: Api) -> dict[str, str]:
    rows = api.get("/iserver/account/orders").json()["orders"]
    return {row["order_ref"]: row["status"] for row in rows if "order_ref" in row}


@pytest.fixture
def trader(api: Api) -> Api:
    api.prime()
    api.get("/iserver/account/orders")  # the session's empty pre-flight list
    return api


def bracket(price: float) -> list[dict[str, object]]:
    base = {"acctId": ACCOUNT, "conid": AAPL, "quantity": 10, "tif": "GTC"}
    return [
        {**base, "cOID": "entry", "side": "BUY", "orderType": "LMT",
         "price": round(price * 0.99, 2)},
        {**base, "cOID": "tp", "parentId": "entry", "side": "SELL", "orderType": "LMT",
         "price": round(price * 1.05, 2)},
        {**base, "cOID": "sl", "parentId": "entry", "side": "SELL", "orderType": "STP",
         "auxPrice": round(price * 0.95, 2)},
    ]  # fmt: skip


def test_a_bracket_fills_its_entry_then_one_exit_and_cancels_the_other(
    trader: Api, gateway: SimulatedGateway, clock: ManualClock
) -> None:
    price = last_price(trader)
    placed = confirm_all(trader, trader.post(ORDERS, json={"orders": bracket(price)}).json())
    assert [leg["order_status"] for leg in placed] == ["Submitted", "PreSubmitted", "PreSubmitted"]
    assert statuses(trader) == {"entry": "Submitted", "tp": "PreSubmitted", "sl": "PreSubmitted"}

    clock.advance(60)
    gateway.set_price(AAPL, round(price * 0.985, 2))
    assert statuses(trader) == {"entry": "Filled", "tp": "Submitted", "sl": "PreSubmitted"}

    clock.advance(60)
    gateway.set_price(AAPL, round(price * 1.06, 2))
    assert statuses(trader) == {"entry": "Filled", "tp": "Filled", "sl": "Cancelled"}
    assert gateway.executions_by_coid().keys() == {"entry", "tp"}
    assert trader.get(f"/portfolio/{ACCOUNT}/positions/0").json() == []
    trades = trader.get("/iserver/account/trades").json()
    assert [(t["order_ref"], t["side"]) for t in trades] == [("entry", "BOT"), ("tp", "SLD")]


def test_a_child_without_its_parent_is_rejected(trader: Api) -> None:
    price = last_price(trader)
    answer = trader.post(ORDERS, json={"orders": bracket(price)[1:]}).json()
    assert "parentId" in answer["error"]
    assert statuses(trader) == {}


def test_what_if_answers_the_effect_and_places_nothing(
    trader: Api, gateway: SimulatedGateway
) -> None:
    last_price(trader)
    order = {"conid": AAPL, "side": "BUY", "quantity": 10, "orderType": "MKT", "cOID": "what"}
    preview = trader.post(f"{ORDERS}/whatif", json={"orders": [order]})
    assert preview.status_code == 200
    body = preview.json()
    assert set(body) == {"amount", "equity", "initial", "maintenance", "position", "warn", "error"}
    assert set(body["initial"]) == {"current", "change", "after"}
    assert body["position"] == {"current": "0", "change": "10", "after": "10"}
    assert statuses(trader) == {}
    assert gateway.executions_by_coid() == {}
    placed = trader.post(ORDERS, json={"orders": [order]}).json()  # the cOID is still free
    assert placed[0]["order_status"] == "Filled"


def test_order_status_of_one_order_and_503_for_an_unknown_id(trader: Api) -> None:
    price = last_price(trader)
    resting = {"conid": AAPL, "side": "BUY", "quantity": 3, "orderType": "LMT", "tif": "GTC",
               "price": round(price * 0.98, 2), "cOID": "rest"}  # fmt: skip
    order_id = trader.post(ORDERS, json={"orders": [resting]}).json()[0]["order_id"]
    status = trader.get(f"/iserver/account/order/status/{order_id}")
    assert status.status_code == 200
    body = status.json()
    assert body["order_id"] == int(order_id)
    assert (body["order_status"], body["side"], body["total_size"]) == ("Submitted", "B", "3.0")
    assert body["order_type"] == "LIMIT"
    unknown = trader.get("/iserver/account/order/status/123")
    assert unknown.status_code == 503
    assert unknown.json()["statusCode"] == 503


def test_trades_of_today_or_of_the_last_days(
    make_gateway: Callable[..., SimulatedGateway], clock: ManualClock
) -> None:
    trader = Api(make_gateway(idle_timeout=10 * 86_400.0))  # asleep for a day, still in SSO
    trader.prime()
    last_price(trader)
    order = {"conid": AAPL, "side": "BUY", "quantity": 1, "orderType": "MKT", "cOID": "t1"}
    trader.post(ORDERS, json={"orders": [order]})
    assert [t["order_ref"] for t in trader.get("/iserver/account/trades").json()] == ["t1"]
    clock.advance(86_400)  # the nightly reset ended the brokerage session: log in again
    trader.post("/iserver/auth/ssodh/init", json={"publish": True, "compete": False})
    trader.prime()
    assert trader.get("/iserver/account/trades").json() == []  # yesterday's
    days = trader.get("/iserver/account/trades", params={"days": "2"}).json()
    assert [t["order_ref"] for t in days] == ["t1"]
    assert trader.get("/iserver/account/trades", params={"days": "x"}).status_code == 400


def test_pnl_is_empty_first_then_partitioned_by_account(trader: Api) -> None:
    path = "/iserver/account/pnl/partitioned"
    assert trader.get(path).json() == {"upnl": {}}
    row = trader.get(path).json()["upnl"][f"{ACCOUNT}.Core"]
    assert set(row) == {"rowType", "dpl", "nl", "upl", "el", "mv"}
    assert row["nl"] == pytest.approx(1_000_000.0)


def test_pnl_and_what_if_need_the_accounts_priming(api: Api) -> None:
    assert api.get("/iserver/account/pnl/partitioned").status_code == 400
    answer = api.post(f"{ORDERS}/whatif", json={"orders": []})
    assert answer.json()["error"] == "Bad Request: Please query /accounts first"


def test_a_bracket_whose_answer_was_lost_is_booked_once_and_a_resend_is_refused(
    trader: Api, gateway: SimulatedGateway
) -> None:
    price = last_price(trader)
    gateway.drop_after_accept(path=ORDERS)
    with pytest.raises(requests.ConnectionError):
        trader.post(ORDERS, json={"orders": bracket(price)})
    # the lost answer was a question (o163 for the take-profit): nothing is booked
    assert statuses(trader) == {}
    # with the questions suppressed the group is booked on the first answer, then lost
    trader.post("/iserver/questions/suppress", json={"messageIds": ["o163", "o354"]})
    gateway.drop_after_accept(path=ORDERS)
    with pytest.raises(requests.ConnectionError):
        trader.post(ORDERS, json={"orders": bracket(price)})
    assert statuses(trader) == {"entry": "Submitted", "tp": "PreSubmitted", "sl": "PreSubmitted"}
    resent = trader.post(ORDERS, json={"orders": bracket(price)}).json()
    assert "already registered" in resent["error"]
    assert len(trader.get("/iserver/account/orders").json()["orders"]) == 3
