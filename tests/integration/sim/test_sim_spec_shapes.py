"""The wider API answers with the keys and JSON types of the examples in IBKR's spec.

The examples are copied unchanged from the spec into ``spec_examples.json`` (so the
repository runs its tests alone). Where ``tests/recorded/`` has a real answer (trades,
accounts, orders) ``test_sim_shapes`` checks against it instead; here the spec's 200
examples are the reference. Lists are compared element by element against the example's
first element; a ``null`` in the example matches anything.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.integration.sim.conftest import ACCOUNT, Api
from tests.integration.sim.test_sim_shapes import shape_mismatches

AAPL, IBM = 265598, 8314


_EXAMPLES = Path(__file__).with_name("spec_examples.json")


@cache
def _examples() -> dict[str, Any]:
    examples: dict[str, Any] = json.loads(_EXAMPLES.read_text(encoding="utf-8"))
    return examples


def spec_example(method: str, path: str, name: str | None = None) -> Any:
    """The 200 example ``name`` (or the first) of ``method path`` in IBKR's spec, as
    copied into ``spec_examples.json``."""
    return _examples()[f"{method} {path}" + (f" #{name}" if name else "")]


@pytest.fixture
def trader(api: Api) -> Api:
    """Primed, AAPL bought (market data line open), so every page has something to show."""
    api.prime()
    api.get("/iserver/account/orders")
    query = {"conids": str(AAPL), "fields": "31"}
    api.get("/iserver/marketdata/snapshot", params=query)
    api.get("/iserver/marketdata/snapshot", params=query)
    order = {"conid": AAPL, "side": "BUY", "quantity": 5, "orderType": "MKT", "cOID": "s"}
    api.post(f"/iserver/account/{ACCOUNT}/orders", json={"orders": [order]})
    api.get("/iserver/secdef/search", params={"symbol": "AAPL"})
    return api


def _order_id(api: Api) -> str:
    return str(api.get("/iserver/account/orders").json()["orders"][0]["orderId"])


def _alert(api: Api) -> Any:
    alert = {"alertName": "a", "conditions": [{"conidex": f"{AAPL}@SMART", "type": 1,
             "operator": ">=", "value": "999"}]}  # fmt: skip
    api.post(f"/iserver/account/{ACCOUNT}/alert", json=alert)
    return api.get(f"/iserver/account/{ACCOUNT}/alerts").json()[0]


def _watchlist(api: Api) -> Any:
    api.post("/iserver/watchlist", json={"id": "7", "name": "w", "rows": [{"C": AAPL}]})
    return api.get("/iserver/watchlist", params={"id": "7"}).json()


Ask = Callable[[Api], Any]
CASES: list[tuple[str, str, str | None, Ask]] = [
    ("GET", "/iserver/account/order/status/{orderId}", None,
     lambda a: a.get(f"/iserver/account/order/status/{_order_id(a)}").json()),
    ("GET", "/iserver/account/pnl/partitioned", "success",
     lambda a: [a.get("/iserver/account/pnl/partitioned") for _ in "ab"][-1].json()),
    ("POST", "/iserver/account/{accountId}/orders/whatif", None,
     lambda a: a.post(f"/iserver/account/{ACCOUNT}/orders/whatif", json={"orders": [
         {"conid": IBM, "side": "BUY", "quantity": 1, "orderType": "MKT"}]}).json()),
    ("GET", "/iserver/account/{accountId}/summary", None,
     lambda a: a.get(f"/iserver/account/{ACCOUNT}/summary").json()),
    ("GET", "/iserver/account/{accountId}/summary/balances", None,
     lambda a: a.get(f"/iserver/account/{ACCOUNT}/summary/balances").json()),
    ("GET", "/iserver/account/{accountId}/summary/margins", None,
     lambda a: a.get(f"/iserver/account/{ACCOUNT}/summary/margins").json()),
    ("GET", "/iserver/account/{accountId}/summary/available_funds", None,
     lambda a: a.get(f"/iserver/account/{ACCOUNT}/summary/available_funds").json()),
    ("GET", "/portfolio/{accountid}/position/{conid}", "individualPositionStk",
     lambda a: a.get(f"/portfolio/{ACCOUNT}/position/{AAPL}").json()),
    ("POST", "/portfolio/{accountId}/positions/invalidate", None,
     lambda a: a.post(f"/portfolio/{ACCOUNT}/positions/invalidate").json()),
    ("GET", "/trsrv/stocks", None,
     lambda a: {"IBM": a.get("/trsrv/stocks", params={"symbols": "IBM"}).json()["IBM"]}),
    ("GET", "/trsrv/futures", None,
     lambda a: a.get("/trsrv/futures", params={"symbols": "ES"}).json()),
    ("GET", "/trsrv/secdef", None,
     lambda a: a.get("/trsrv/secdef", params={"conids": str(IBM)}).json()),
    ("GET", "/trsrv/secdef/schedule", None,
     lambda a: a.get("/trsrv/secdef/schedule", params={"assetClass": "STK",
                                                       "symbol": "IBM"}).json()),
    ("GET", "/iserver/secdef/strikes", None,
     lambda a: a.get("/iserver/secdef/strikes", params={"conid": str(AAPL), "sectype": "OPT",
                                                        "month": "FEB26"}).json()),
    ("GET", "/iserver/secdef/info", None,
     lambda a: a.get("/iserver/secdef/info", params={"conid": str(IBM),
                                                     "sectype": "STK"}).json()[0]),
    ("POST", "/iserver/contract/rules", None,
     lambda a: a.post("/iserver/contract/rules", json={"conid": AAPL, "isBuy": True}).json()),
    ("POST", "/iserver/marketdata/unsubscribe", None,
     lambda a: a.post("/iserver/marketdata/unsubscribe", json={"conid": AAPL}).json()),
    ("GET", "/iserver/marketdata/unsubscribeall", None,
     lambda a: a.get("/iserver/marketdata/unsubscribeall").json()),
    ("GET", "/iserver/scanner/params", None, lambda a: a.get("/iserver/scanner/params").json()),
    ("POST", "/iserver/scanner/run", None,
     lambda a: a.post("/iserver/scanner/run", json={"instrument": "STK", "type": "MOST_ACTIVE",
                                                    "location": "STK.US.MAJOR"}).json()),
    ("GET", "/iserver/account/{accountId}/alerts", "found-alerts", _alert),
    ("GET", "/iserver/account/alert/{alertId}", None,
     lambda a: a.get(f"/iserver/account/alert/{_alert(a)['order_id']}",
                     params={"type": "Q"}).json()),
    ("POST", "/iserver/account/{accountId}/alert", None,
     lambda a: a.post(f"/iserver/account/{ACCOUNT}/alert", json={"alertName": "x"}).json()),
    ("GET", "/iserver/watchlists", None,
     lambda a: [_watchlist(a), a.get("/iserver/watchlists").json()][-1]),
    ("GET", "/iserver/watchlist", None, _watchlist),
    ("DELETE", "/iserver/watchlist", None,
     lambda a: [_watchlist(a), a.delete("/iserver/watchlist", params={"id": "7"}).json()][-1]),
    ("POST", "/pa/performance", None,
     lambda a: a.post("/pa/performance", json={"acctIds": [ACCOUNT], "period": "12M"}).json()),
    ("POST", "/pa/transactions", None,
     lambda a: a.post("/pa/transactions", json={"acctIds": [ACCOUNT], "conids": [AAPL]}).json()),
    ("GET", "/fyi/notifications", None,
     lambda a: a.get("/fyi/notifications", params={"max": "5"}).json()),
    ("POST", "/iserver/questions/suppress/reset", None,
     lambda a: a.post("/iserver/questions/suppress/reset").json()),
    ("POST", "/logout", None, lambda a: a.post("/logout").json()),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "example", "ask"), CASES, ids=[f"{m} {p}" for m, p, _, _ in CASES]
)
def test_answers_have_the_spec_examples_shape(
    trader: Api, method: str, path: str, example: str | None, ask: Ask
) -> None:
    problems = list(shape_mismatches(ask(trader), spec_example(method, path, example)))
    assert problems == [], "; ".join(problems)


def test_market_value_has_the_spec_examples_shape_per_currency(trader: Api) -> None:
    ours = trader.get(f"/iserver/account/{ACCOUNT}/summary/market_value").json()
    theirs = spec_example("GET", "/iserver/account/{accountId}/summary/market_value")
    for currency in ("USD", "Total (in USD)"):
        assert list(shape_mismatches(ours[currency], theirs[currency])) == [], currency
