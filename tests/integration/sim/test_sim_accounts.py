"""Accounts beyond orders over real HTTPS: summary pages, one position, allocation,
alerts, watchlists, Portfolio Analyst, FYIs, and the session endpoints bots call."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ibkr_session.clock import ManualClock
from ibkr_sim import SimulatedGateway
from tests.integration.sim.conftest import ACCOUNT, Api

AAPL, IBM = 265598, 8314
ORDERS = f"/iserver/account/{ACCOUNT}/orders"


@pytest.fixture
def primed(api: Api) -> Api:
    api.prime()
    return api


def buy(api: Api, conid: int, quantity: int, coid: str) -> None:
    query = {"conids": str(conid), "fields": "31"}
    api.get("/iserver/marketdata/snapshot", params=query)
    api.get("/iserver/marketdata/snapshot", params=query)
    order = {"conid": conid, "side": "BUY", "quantity": quantity, "orderType": "MKT",
             "cOID": coid}  # fmt: skip
    assert api.post(ORDERS, json={"orders": [order]}).json()[0]["order_status"] == "Filled"


def test_account_summary_and_its_pages(primed: Api) -> None:
    buy(primed, AAPL, 10, "s1")
    summary = primed.get(f"/iserver/account/{ACCOUNT}/summary").json()
    assert summary["netLiquidationValue"] == pytest.approx(1_000_000, rel=1e-3)
    assert summary["initialMargin"] > 0
    assert summary["cashBalances"][-1]["currency"] == "Total (in USD)"
    base = f"/iserver/account/{ACCOUNT}/summary"
    balances = primed.get(f"{base}/balances").json()
    assert set(balances) == {"total", "securities", "commodities", "Crypto at Paxos"}
    assert balances["total"]["net_liquidation"].endswith(" USD")
    assert "current_initial" in primed.get(f"{base}/margins").json()["total"]
    funds = primed.get(f"{base}/available_funds").json()["total"]
    assert funds["day_trades_left"] == "Unlimited"
    market_value = primed.get(f"{base}/market_value").json()
    assert set(market_value) == {"USD", "Total (in USD)"}
    assert market_value["USD"]["stock"] != "0"
    bad = primed.get("/iserver/account/U0000000/summary")
    assert bad.status_code == 400


def test_the_summary_needs_priming(api: Api) -> None:
    answer = api.get(f"/iserver/account/{ACCOUNT}/summary")
    assert answer.json()["error"] == "Bad Request: Please query /accounts first"


def test_one_position_and_the_allocation(primed: Api) -> None:
    assert primed.get(f"/portfolio/{ACCOUNT}/position/{AAPL}").json() == []
    buy(primed, AAPL, 10, "p1")
    (position,) = primed.get(f"/portfolio/{ACCOUNT}/position/{AAPL}").json()
    assert (position["conid"], position["position"], position["ticker"]) == (AAPL, 10.0, "AAPL")
    assert position["assetClass"] == "STK"
    allocation = primed.get(f"/portfolio/{ACCOUNT}/allocation").json()
    assert set(allocation) == {"assetClass", "sector", "group"}
    assert allocation["assetClass"]["long"]["STK"] == pytest.approx(position["mktValue"])
    assert allocation["sector"]["long"]["Technology"] == pytest.approx(position["mktValue"])
    assert allocation["assetClass"]["long"]["CASH"] > 0
    invalidated = primed.post(f"/portfolio/{ACCOUNT}/positions/invalidate")
    assert invalidated.json() == {"message": "success"}


def test_alerts_are_created_listed_triggered_and_deleted(
    primed: Api, gateway: SimulatedGateway
) -> None:
    alert = {
        "alertName": "AAPL above 300", "alertMessage": "AAPL!", "alertRepeatable": 0,
        "outsideRth": 0, "sendMessage": 1, "tif": "GTC",
        "conditions": [{"conidex": f"{AAPL}@SMART", "logicBind": "n", "operator": ">=",
                        "triggerMethod": "0", "type": 1, "value": "300"}],
    }  # fmt: skip
    created = primed.post(f"/iserver/account/{ACCOUNT}/alert", json=alert).json()
    assert (created["success"], created["text"]) == (True, "Submitted")
    alert_id = created["order_id"]
    (listed,) = primed.get(f"/iserver/account/{ACCOUNT}/alerts").json()
    assert (listed["order_id"], listed["alert_active"], listed["alert_triggered"]) == (
        alert_id, 1, False,
    )  # fmt: skip
    gateway.set_price(AAPL, 301.0)
    (fired,) = primed.get(f"/iserver/account/{ACCOUNT}/alerts").json()
    assert (fired["alert_triggered"], fired["alert_active"]) == (True, 0)
    deleted = primed.delete(f"/iserver/account/{ACCOUNT}/alert/{alert_id}").json()
    assert (deleted["success"], deleted["order_id"]) == (True, alert_id)
    assert primed.get(f"/iserver/account/{ACCOUNT}/alerts").json() == []
    empty = primed.post(f"/iserver/account/{ACCOUNT}/alert", json={})
    assert empty.json()["error"] == "Bad Request: body can't be empty"


def test_watchlists_are_created_read_and_deleted(primed: Api) -> None:
    rows = [{"H": "Tech"}, {"C": AAPL}, {"C": IBM}]
    created = primed.post("/iserver/watchlist", json={"id": "1234", "name": "Tech", "rows": rows})
    assert created.json()["id"] == "1234"
    (listed,) = primed.get("/iserver/watchlists").json()["data"]["user_lists"]
    assert (listed["id"], listed["name"]) == ("1234", "Tech")
    one = primed.get("/iserver/watchlist", params={"id": "1234"}).json()
    assert [i["conid"] for i in one["instruments"]] == [AAPL, IBM]
    deleted = primed.delete("/iserver/watchlist", params={"id": "1234"}).json()
    assert deleted["data"] == {"deleted": "1234"}
    assert primed.get("/iserver/watchlists").json()["data"]["user_lists"] == []
    bad = primed.post("/iserver/watchlist", json={"id": "abc", "name": "x", "rows": []})
    assert bad.status_code == 400


def test_portfolio_analyst_performance_and_transactions(primed: Api) -> None:
    buy(primed, AAPL, 10, "pa1")
    performance = primed.post("/pa/performance", json={"acctIds": [ACCOUNT], "period": "1M"})
    body = performance.json()
    assert body["included"] == [ACCOUNT]
    assert body["nav"]["data"][0]["startNAV"]["val"] == pytest.approx(1_000_000)
    assert len(body["nav"]["dates"]) == len(body["nav"]["data"][0]["navs"]) == body["nd"]
    assert body["cps"]["data"][0]["returns"][0] == 0
    query = {"acctIds": [ACCOUNT], "conids": [AAPL], "currency": "USD", "days": 7}
    (trade,) = primed.post("/pa/transactions", json=query).json()["transactions"]
    assert (trade["conid"], trade["qty"], trade["type"]) == (AAPL, 10.0, "Buy")
    bad = primed.post("/pa/performance", json={"acctIds": [ACCOUNT], "period": "2W"})
    assert bad.status_code == 400


def test_portfolio_analyst_is_paced_at_one_per_fifteen_minutes_each(
    make_gateway: Callable[..., SimulatedGateway], clock: ManualClock
) -> None:
    api = Api(make_gateway(pacing=True, penalty_seconds=1.0))
    body = {"acctIds": [ACCOUNT], "period": "1D"}
    assert api.post("/pa/performance", json=body).status_code == 200
    query = {"acctIds": [ACCOUNT], "conids": [AAPL]}
    assert api.post("/pa/transactions", json=query).status_code == 200  # its own row
    clock.advance(2)
    assert api.post("/pa/performance", json=body).status_code == 429


def test_fyi_notifications(primed: Api) -> None:
    notes = primed.get("/fyi/notifications", params={"max": "2"}).json()
    assert len(notes) == 2
    assert set(notes[0]) == {"R", "D", "MS", "MD", "ID", "HT", "FC"}
    assert primed.get("/fyi/unreadnumber").json() == {"BN": 3}
    assert primed.request("PUT", f"/fyi/notifications/{notes[0]['ID']}").status_code == 200
    assert primed.get("/fyi/unreadnumber").json() == {"BN": 2}
    assert primed.get("/fyi/notifications").status_code == 400  # max is required


def test_session_endpoints_a_bot_calls(primed: Api) -> None:
    accounts = primed.get("/iserver/accounts").json()
    assert accounts["accounts"] == [ACCOUNT]
    assert primed.post("/iserver/questions/suppress/reset").json() == {"status": "submitted"}
    assert primed.get("/sso/validate").json()["RESULT"] is True
    assert primed.post("/logout").json() == {"status": True}
    assert primed.get(f"/portfolio/{ACCOUNT}/allocation").status_code == 401
