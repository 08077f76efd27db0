"""Reference data over real HTTPS: /trsrv, option chains, contract rules, the scanner,
closing market-data lines; each guarded and paced as IBKR-FACTS says."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ibkr_session.clock import ManualClock
from ibkr_sim import SimulatedGateway
from tests.integration.sim.conftest import Api

AAPL, IBM, SPY, ES = 265598, 8314, 756733, 649180695
SNAPSHOT = "/iserver/marketdata/snapshot"


@pytest.fixture
def primed(api: Api) -> Api:
    api.prime()
    return api


def test_trsrv_stocks_and_futures_by_symbol(api: Api) -> None:
    stocks = api.get("/trsrv/stocks", params={"symbols": "AAPL,IBM,NOPE"}).json()
    assert set(stocks) == {"AAPL", "IBM"}
    (ibm,) = stocks["IBM"]
    assert ibm["assetClass"] == "STK"
    assert ibm["contracts"] == [{"conid": IBM, "exchange": "NYSE", "isUS": True}]
    futures = api.get("/trsrv/futures", params={"symbols": "ES"}).json()
    (es,) = futures["ES"]
    assert (es["conid"], es["expirationDate"], es["underlyingConid"]) == (ES, 20261218, 11004968)
    assert api.get("/trsrv/stocks").status_code == 400


def test_trsrv_secdef_by_get_or_post_and_at_most_200_conids(api: Api) -> None:
    got = api.get("/trsrv/secdef", params={"conids": f"{AAPL},{IBM}"}).json()["secdef"]
    assert [(row["conid"], row["ticker"], row["assetClass"]) for row in got] == [
        (AAPL, "AAPL", "STK"), (IBM, "IBM", "STK"),
    ]  # fmt: skip
    assert got[1]["sector"] == "Technology"
    assert got[1]["incrementRules"] == [{"lowerEdge": 0.0, "increment": 0.01}]
    posted = api.post("/trsrv/secdef", json={"conids": [SPY]}).json()["secdef"]
    assert posted[0]["name"] == "SPDR S&P 500 ETF TRUST"
    too_many = api.post("/trsrv/secdef", json={"conids": list(range(1, 202))})
    assert too_many.status_code == 400
    assert "200" in too_many.json()["error"]


def test_trading_schedule_lists_the_next_trading_dates(api: Api) -> None:
    answer = api.get("/trsrv/secdef/schedule", params={"assetClass": "STK", "symbol": "AAPL"})
    (venue,) = answer.json()
    assert venue["timezone"] == "America/New_York"
    first = venue["schedules"][0]
    assert first["tradingScheduleDate"] == "20260105"  # Monday, the clock's day
    assert first["sessions"] == [{"openingTime": "0930", "closingTime": "1600", "prop": "LIQUID"}]
    assert [s["tradingScheduleDate"] for s in venue["schedules"]][5] == "20260112"  # no weekend
    missing = api.get("/trsrv/secdef/schedule", params={"assetClass": "STK", "symbol": "NOPE"})
    assert missing.status_code == 400


def test_an_option_chain_lists_strikes_and_conids(primed: Api) -> None:
    strikes_query = {"conid": str(AAPL), "sectype": "OPT", "month": "FEB26"}
    before = primed.get("/iserver/secdef/strikes", params=strikes_query).json()
    assert before == {"call": [], "put": []}  # IBKR: search the underlying first
    primed.get("/iserver/secdef/search", params={"symbol": "AAPL"})
    strikes = primed.get("/iserver/secdef/strikes", params=strikes_query).json()
    assert len(strikes["call"]) == 41
    strike = strikes["call"][20]
    info = primed.get(
        "/iserver/secdef/info",
        params={"conid": str(AAPL), "sectype": "OPT", "month": "FEB26", "strike": str(strike)},
    ).json()
    assert [(row["right"], row["strike"]) for row in info] == [("C", strike), ("P", strike)]
    call = info[0]["conid"]
    assert primed.get(SNAPSHOT, params={"conids": str(call), "fields": "31"}).status_code == 200
    quote = primed.get(SNAPSHOT, params={"conids": str(call), "fields": "31"}).json()[0]
    assert float(quote["31"].lstrip("C")) > 0
    details = primed.get(f"/iserver/contract/{call}/info").json()
    assert (details["instrument_type"], details["underlying_con_id"]) == ("OPT", AAPL)


def test_contract_rules_of_a_stock(primed: Api) -> None:
    rules = primed.post("/iserver/contract/rules", json={"conid": AAPL, "isBuy": True}).json()
    assert "limit" in rules["orderTypes"]
    assert rules["canTradeAcctIds"] == ["U1234567"]
    assert rules["increment"] == 0.01
    assert float(rules["orderDefaults"]["LMT"]["LP"]) > 0
    assert primed.post("/iserver/contract/rules", json={"conid": 1}).status_code == 400


def test_unsubscribing_closes_the_line_and_the_preflight_comes_back(primed: Api) -> None:
    query = {"conids": str(AAPL), "fields": "31"}
    primed.get(SNAPSHOT, params=query)
    assert "31" in primed.get(SNAPSHOT, params=query).json()[0]
    closed = primed.post("/iserver/marketdata/unsubscribe", json={"conid": AAPL})
    assert closed.json() == {"success": True}
    assert "31" not in primed.get(SNAPSHOT, params=query).json()[0]  # a pre-flight again
    assert "31" in primed.get(SNAPSHOT, params=query).json()[0]
    assert primed.get("/iserver/marketdata/unsubscribeall").json() == {"unsubscribed": True}
    assert "31" not in primed.get(SNAPSHOT, params=query).json()[0]


def test_scanner_params_and_a_top_gainers_scan(
    primed: Api, gateway: SimulatedGateway, clock: ManualClock
) -> None:
    params = primed.get("/iserver/scanner/params").json()
    assert "TOP_PERC_GAIN" in [scan["code"] for scan in params["scan_type_list"]]
    assert "STK.US.MAJOR" in [
        place["type"] for tree in params["location_tree"] for place in tree["locations"]
    ]
    gateway.set_price(IBM, 400.0)  # far above its prior close: the top gainer
    run = {"instrument": "STK", "type": "TOP_PERC_GAIN", "location": "STK.US.MAJOR"}
    contracts = primed.post("/iserver/scanner/run", json=run).json()["contracts"]
    assert contracts[0]["con_id"] == IBM
    assert {c["symbol"] for c in contracts} == {"AAPL", "IBM", "MSFT"}  # stocks, no ETFs
    assert contracts[0]["scan_data"].startswith("+")
    clock.advance(1)
    filtered = {**run, "filter": [{"code": "priceAbove", "value": 300}]}
    assert [
        c["symbol"] for c in primed.post("/iserver/scanner/run", json=filtered).json()["contracts"]
    ] == ["IBM", "MSFT"]
    clock.advance(1)
    bad = primed.post("/iserver/scanner/run", json={**run, "type": "NOPE"})
    assert bad.status_code == 400


def test_scanner_runs_are_paced_at_one_per_second(
    make_gateway: Callable[..., SimulatedGateway], clock: ManualClock
) -> None:
    api = Api(make_gateway(pacing=True, penalty_seconds=60.0))
    api.prime()
    run = {"instrument": "STK", "type": "TOP_PERC_GAIN", "location": "STK.US.MAJOR"}
    assert api.post("/iserver/scanner/run", json=run).status_code == 200
    clock.advance(0.5)
    assert api.post("/iserver/scanner/run", json=run).status_code == 429
    clock.advance(60)
    assert api.post("/iserver/scanner/run", json=run).status_code == 200
    clock.advance(1.01)
    assert api.post("/iserver/scanner/run", json=run).status_code == 200


def test_scanner_params_are_paced_at_one_per_fifteen_minutes(
    make_gateway: Callable[..., SimulatedGateway], clock: ManualClock
) -> None:
    api = Api(make_gateway(pacing=True, penalty_seconds=1.0, idle_timeout=3600.0))
    api.prime()
    assert api.get("/iserver/scanner/params").status_code == 200
    clock.advance(600)
    assert api.get("/iserver/scanner/params").status_code == 429
    clock.advance(301)
    assert api.get("/iserver/scanner/params").status_code == 200


def test_iserver_reference_endpoints_need_the_brokerage_session(
    primed: Api, gateway: SimulatedGateway
) -> None:
    gateway.expire_brokerage()
    assert primed.get("/iserver/scanner/params").status_code == 401
    assert primed.get("/iserver/secdef/strikes", params={"conid": "1"}).status_code == 401
    assert primed.get("/trsrv/stocks", params={"symbols": "AAPL"}).status_code == 200  # SSO
