"""Orders as a client meets them: questions and replies, duplicates, fills, the portfolio."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from ibkr_sim import SimulatedGateway
from tests.integration.sim.conftest import ACCOUNT, Api

AAPL = 265598
ORDERS = f"/iserver/account/{ACCOUNT}/orders"


def ticket(coid: str, **overrides: object) -> dict[str, object]:
    order: dict[str, object] = {
        "acctId": ACCOUNT,
        "conid": AAPL,
        "side": "BUY",
        "quantity": 10,
        "orderType": "MKT",
        "tif": "DAY",
        "cOID": coid,
    }
    order.update(overrides)
    return order


def last_price(api: Api) -> float:
    """Subscribe to AAPL (pre-flight, then the quote) and return the last trade."""
    query = {"conids": str(AAPL), "fields": "31"}
    api.get("/iserver/marketdata/snapshot", params=query)
    return float(api.get("/iserver/marketdata/snapshot", params=query).json()[0]["31"])


def place(api: Api, *orders: dict[str, object]) -> Any:
    answer = api.post(ORDERS, json={"orders": list(orders)})
    assert answer.status_code == 200
    return answer.json()


@pytest.fixture
def trader(api: Api) -> Api:
    """A primed session whose live-order cache is built (its first list came back empty)."""
    api.prime()
    assert api.get("/iserver/account/orders").json() == {"orders": [], "snapshot": False}
    return api


def test_the_first_orders_list_of_each_session_is_an_empty_preflight(
    trader: Api, gateway: SimulatedGateway
) -> None:
    last_price(trader)  # market data first, or the order meets the o354 question
    assert trader.post(ORDERS, json={"orders": [ticket("seen")]}).status_code == 200
    assert [o["order_ref"] for o in trader.get("/iserver/account/orders").json()["orders"]] == [
        "seen"
    ]
    gateway.expire_brokerage()
    trader.post("/iserver/auth/ssodh/init", json={"publish": True, "compete": False})
    trader.prime()
    assert trader.get("/iserver/account/orders").json()["orders"] == []  # a new session
    assert len(trader.get("/iserver/account/orders").json()["orders"]) == 1


def test_orders_need_priming(api: Api) -> None:
    refused = api.post(ORDERS, json={"orders": [ticket("c1")]})
    assert refused.status_code == 400
    assert "Please query /accounts first" in refused.json()["error"]


def test_question_chain_until_the_order_is_accepted(trader: Api, gateway: SimulatedGateway) -> None:
    far_below = round(last_price(trader) * 0.9, 2)
    gateway.book.reset_session()  # forget the market data line: o354 is asked too
    answer = place(trader, ticket("chain", orderType="LMT", price=far_below, quantity=600))
    asked = []
    while "id" in answer[0]:
        asked.extend(answer[0]["messageIds"])
        answer = trader.post(f"/iserver/reply/{answer[0]['id']}", json={"confirmed": True}).json()
    assert asked == ["o163", "o354", "o383", "o451"]
    assert answer[0]["order_status"] in ("PreSubmitted", "Submitted")
    assert gateway.book.order_by_coid("chain") is not None


def test_another_iserver_request_invalidates_the_pending_reply(
    trader: Api, gateway: SimulatedGateway
) -> None:
    question = place(trader, ticket("late"))  # no market data yet: o354
    assert question[0]["messageIds"] == ["o354"]
    trader.post("/tickle")  # not /iserver: harmless
    trader.get("/iserver/auth/status")  # /iserver: the pending order is dropped
    reply_id = question[0]["id"]
    late = trader.post(f"/iserver/reply/{reply_id}", json={"confirmed": True})
    assert late.status_code == 400
    assert late.json() == {"error": f"reply id not found: '{reply_id}'"}
    assert gateway.book.order_by_coid("late") is None
    assert gateway.executions_by_coid() == {}


def test_replies_survive_requests_in_between_when_configured(
    make_gateway: Callable[..., SimulatedGateway],
) -> None:
    gateway = make_gateway(questions_cancel_on_other_request=False)
    api = Api(gateway)
    api.prime()
    question = place(api, ticket("patient"))
    api.get("/iserver/auth/status")
    answer = api.post(f"/iserver/reply/{question[0]['id']}", json={"confirmed": True})
    assert answer.status_code == 200
    assert gateway.executions_by_coid() == {"patient": 1}


def test_suppressed_questions_are_skipped_until_the_session_ends(
    trader: Api, gateway: SimulatedGateway
) -> None:
    assert trader.post("/iserver/questions/suppress", json={"messageIds": ["o354"]}).json() == {
        "status": "submitted"
    }
    assert "order_id" in place(trader, ticket("quiet"))[0]
    gateway.expire_brokerage()
    trader.post("/iserver/auth/ssodh/init", json={"publish": True, "compete": False})
    trader.prime()
    assert place(trader, ticket("asked-again"))[0]["messageIds"] == ["o354"]


def test_suppress_reset_brings_questions_back(trader: Api) -> None:
    trader.post("/iserver/questions/suppress", json={"messageIds": ["o354"]})
    trader.post("/iserver/questions/suppress/reset")
    assert place(trader, ticket("asked"))[0]["messageIds"] == ["o354"]


def test_a_duplicate_coid_is_refused_and_trades_once(
    trader: Api, gateway: SimulatedGateway
) -> None:
    last_price(trader)
    assert "order_id" in place(trader, ticket("once"))[0]
    again = place(trader, ticket("once"))
    assert again == {
        "error": "Order couldn't be submitted: Local order ID=once is already registered."
    }
    assert gateway.executions_by_coid() == {"once": 1}


def test_a_bare_array_body_is_accepted(trader: Api, gateway: SimulatedGateway) -> None:
    last_price(trader)
    answer = trader.post(ORDERS, json=[ticket("bare")])
    assert "order_id" in answer.json()[0]
    assert gateway.executions_by_coid() == {"bare": 1}


def test_rejections_are_http_200_errors(trader: Api) -> None:
    last_price(trader)
    rejected = trader.post(ORDERS, json={"orders": [ticket("no-price", orderType="LMT")]})
    assert rejected.status_code == 200
    assert set(rejected.json()) == {"error"}
    unknown = trader.delete(f"/iserver/account/{ACCOUNT}/order/1")
    assert unknown.json() == {"error": "OrderID 1 doesn't exist"}
    wrong_account = trader.post("/iserver/account/U0000000/orders", json={"orders": [ticket("x")]})
    assert wrong_account.status_code == 400
    assert wrong_account.json()["error"] == "Bad Request: accountId is not valid: U0000000"


def test_limit_order_fills_when_the_price_crosses_it(
    trader: Api, gateway: SimulatedGateway
) -> None:
    last = last_price(trader)
    limit = round(last * 0.98, 2)
    accepted = place(trader, ticket("dip", orderType="LMT", price=limit))
    assert accepted[0]["order_status"] == "Submitted"
    assert gateway.executions_by_coid() == {}
    cash_before = trader.get(f"/portfolio/{ACCOUNT}/ledger").json()["USD"]["cashbalance"]

    gateway.set_price(AAPL, limit - 0.05)

    assert gateway.executions_by_coid() == {"dip": 1}
    filled = trader.get("/iserver/account/orders", params={"filters": "filled"}).json()
    (row,) = [o for o in filled["orders"] if o.get("order_ref") == "dip"]
    assert row["status"] == "Filled"
    fill_price = float(row["avgPrice"])
    assert fill_price <= limit
    (position,) = trader.get(f"/portfolio/{ACCOUNT}/positions/0").json()
    assert (position["conid"], position["position"]) == (AAPL, 10.0)
    assert position["avgCost"] == pytest.approx(fill_price)
    cash_after = trader.get(f"/portfolio/{ACCOUNT}/ledger").json()["USD"]["cashbalance"]
    assert cash_after == pytest.approx(cash_before - 10 * fill_price)
    trades = trader.get("/iserver/account/trades").json()
    assert [(t["order_ref"], t["size"]) for t in trades] == [("dip", 10.0)]


def test_modify_and_cancel_a_resting_order(trader: Api, gateway: SimulatedGateway) -> None:
    limit = round(last_price(trader) * 0.98, 2)
    order_id = place(trader, ticket("rest", orderType="LMT", price=limit))[0]["order_id"]
    modified = trader.post(
        f"/iserver/account/{ACCOUNT}/order/{order_id}",
        json=ticket("rest", orderType="LMT", price=round(limit - 1, 2)),
    )
    assert modified.json()[0]["order_id"] == order_id
    cancelled = trader.delete(f"/iserver/account/{ACCOUNT}/order/{order_id}")
    assert cancelled.json()["msg"] == "Request was submitted"
    live = trader.get("/iserver/account/orders").json()["orders"]
    assert [o["status"] for o in live if o.get("order_ref") == "rest"] == ["Cancelled"]
    assert gateway.executions_by_coid() == {}


def test_force_clears_the_live_order_cache(trader: Api) -> None:
    last_price(trader)
    place(trader, ticket("listed"))
    assert trader.get("/iserver/account/orders", params={"force": "true"}).json() == {
        "orders": [],
        "snapshot": False,
    }
    assert len(trader.get("/iserver/account/orders").json()["orders"]) == 1


def test_an_order_whose_answer_was_lost_is_in_the_book_exactly_once(
    trader: Api, gateway: SimulatedGateway
) -> None:
    last_price(trader)
    gateway.drop_after_accept(path=ORDERS)
    with pytest.raises(requests.ConnectionError):
        trader.post(ORDERS, json={"orders": [ticket("lost")]})
    listed = trader.get("/iserver/account/orders").json()["orders"]
    assert [o["order_ref"] for o in listed] == ["lost"]
    resent = place(trader, ticket("lost"))  # a blind resend is refused, not traded twice
    assert "already registered" in resent["error"]
    assert gateway.executions_by_coid() == {"lost": 1}


def test_portfolio_endpoints_check_the_account(trader: Api) -> None:
    assert trader.post(f"/portfolio/{ACCOUNT}/positions/invalidate").json() == {
        "message": "success"
    }
    for method, path in [
        ("GET", "/portfolio/U0000000/summary"),
        ("GET", "/portfolio/U0000000/ledger"),
        ("GET", "/portfolio/U0000000/positions/0"),
        ("POST", "/portfolio/U0000000/positions/invalidate"),
    ]:
        answer = trader.request(method, path)
        assert answer.status_code == 400, path
        assert answer.json()["error"] == "Bad Request: accountId is not valid: U0000000"
    assert trader.get(f"/portfolio/{ACCOUNT}/positions/first").status_code == 400


def test_partitioned_pnl_lists_each_account(trader: Api) -> None:
    first = trader.get("/iserver/account/pnl/partitioned").json()
    assert first == {"upnl": {}}  # the first request of a brokerage session, as in the spec
    pnl = trader.get("/iserver/account/pnl/partitioned").json()
    assert list(pnl["upnl"]) == [f"{ACCOUNT}.Core"]
