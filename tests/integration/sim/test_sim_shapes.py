"""Every endpoint answers with the keys and JSON types of IBKR's recorded response.

A recorded ``null`` says nothing about the type, so it matches anything; numbers match
numbers (JSON does not tell 1 from 1.0), never booleans. Lists are compared element by
element against the recording's first element.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ibkr_session.clock import ManualClock
from tests.integration.sim.conftest import ACCOUNT, Api

Recorded = Callable[[str], dict[str, Any]]


def shape_mismatches(actual: object, recorded: object, where: str = "$") -> Iterator[str]:
    """Where ``actual`` lacks a recorded key or has another JSON type."""
    if recorded is None:
        return
    if _kind(actual) != _kind(recorded):
        yield f"{where}: {_kind(actual)} instead of {_kind(recorded)}"
    elif isinstance(recorded, dict) and isinstance(actual, dict):
        for key, value in recorded.items():
            if key not in actual:
                yield f"{where}.{key}: missing"
            else:
                yield from shape_mismatches(actual[key], value, f"{where}.{key}")
    elif isinstance(recorded, list) and isinstance(actual, list) and recorded and actual:
        for index, element in enumerate(actual):
            yield from shape_mismatches(element, recorded[0], f"{where}[{index}]")


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def assert_shape(actual: object, recorded: Recorded, stem: str, status: int = 200) -> None:
    response = recorded(stem)["Response"]
    assert status == response["StatusCode"], stem
    problems = list(shape_mismatches(actual, response["Body"]))
    assert problems == [], f"{stem}: {problems}"


def test_the_shape_checker_notices_differences() -> None:
    recorded = {"a": 1, "b": [{"c": "x"}], "d": None}
    assert list(shape_mismatches({"a": 2.5, "b": [{"c": "y"}], "d": 3}, recorded)) == []
    assert list(shape_mismatches({"a": True, "b": [{"c": 1}], "d": None}, recorded)) == [
        "$.a: boolean instead of number",
        "$.b[0].c: number instead of string",
    ]
    assert list(shape_mismatches({"b": []}, recorded)) == ["$.a: missing", "$.d: missing"]


@pytest.fixture
def primed(api: Api, clock: ManualClock) -> Api:
    api.prime()
    return api


@pytest.mark.parametrize(
    ("stem", "method", "path", "options"),
    [
        ("Session__POST-tickle", "POST", "/tickle", {}),
        ("Session__GET-auth-status", "GET", "/iserver/auth/status", {}),
        ("Session__GET-auth-status", "POST", "/iserver/auth/status", {}),
        (
            "Session__POST-ssodh-init",
            "POST",
            "/iserver/auth/ssodh/init",
            {"json": {"publish": True}},
        ),
        ("Accounts__GET-iserver-accounts", "GET", "/iserver/accounts", {}),
        ("Contracts__GET-contract-info", "GET", "/iserver/contract/756733/info", {}),
        (
            "MarketData__GET-history",
            "GET",
            "/iserver/marketdata/history",
            {"params": {"conid": "756733", "period": "1d", "bar": "1min", "outsideRth": "false"}},
        ),
    ],
)
def test_session_and_market_answers_match_the_recordings(
    primed: Api,
    recorded: Recorded,
    stem: str,
    method: str,
    path: str,
    options: dict[str, Any],
) -> None:
    answer = primed.request(method, path, **options)
    assert answer.headers["Content-Type"].startswith("application/json")
    assert_shape(answer.json(), recorded, stem, answer.status_code)


def test_snapshot_matches_the_recording_after_the_preflight(
    primed: Api, recorded: Recorded
) -> None:
    query = {"conids": "756733", "fields": "31,84,86,85,88,87,70,71,82,83,6509"}
    assert primed.get("/iserver/marketdata/snapshot", params=query).json() == [
        {"conid": 756733, "conidEx": "756733"}
    ]
    answer = primed.get("/iserver/marketdata/snapshot", params=query)
    assert_shape(answer.json(), recorded, "MarketData__GET-snapshot", answer.status_code)


def _subscribe_spy(api: Api) -> None:
    """Open SPY's market-data line (pre-flight, then the quote): orders skip o354."""
    query = {"conids": "756733", "fields": "31"}
    api.get("/iserver/marketdata/snapshot", params=query)
    api.get("/iserver/marketdata/snapshot", params=query)


def _buy_spy(api: Api, coid: str) -> Any:
    """One SPY at market; the gateway's first answer."""
    order = {"conid": 756733, "side": "BUY", "quantity": 1, "orderType": "MKT", "tif": "DAY"}
    return api.post(
        f"/iserver/account/{ACCOUNT}/orders", json={"orders": [{**order, "cOID": coid}]}
    ).json()


@pytest.mark.parametrize(
    ("stem", "path"),
    [
        ("Portfolio__GET-portfolio-accounts", "/portfolio/accounts"),
        ("Portfolio__GET-portfolio-subaccounts", "/portfolio/subaccounts"),
        ("Portfolio__GET-portfolio-summary", f"/portfolio/{ACCOUNT}/summary"),
        ("Portfolio__GET-portfolio-ledger", f"/portfolio/{ACCOUNT}/ledger"),
        ("Portfolio__GET-portfolio-positions-page0", f"/portfolio/{ACCOUNT}/positions/0"),
        ("Portfolio__GET-portfolio-positions-empty", f"/portfolio/{ACCOUNT}/positions/999"),
        ("Orders__GET-live-orders", "/iserver/account/orders"),
        ("Orders__GET-trades", "/iserver/account/trades"),
    ],
)
def test_portfolio_and_order_lists_match_the_recordings(
    primed: Api, recorded: Recorded, stem: str, path: str
) -> None:
    _subscribe_spy(primed)
    _buy_spy(primed, "shape")
    answer = primed.get(path)
    assert answer.json() != [] or stem.endswith("empty")
    assert_shape(answer.json(), recorded, stem, answer.status_code)


def test_order_answers_match_the_recordings(primed: Api, recorded: Recorded) -> None:
    assert_shape(
        primed.get("/iserver/account/orders").json(), recorded, "Orders__GET-live-orders-empty"
    )
    question = _buy_spy(primed, "asked")  # no market data line yet: o354
    assert_shape(question, recorded, "Orders__POST-place-order-confirmation")
    reply = primed.post(f"/iserver/reply/{question[0]['id']}", json={"confirmed": True})
    assert_shape(reply.json(), recorded, "Orders__POST-reply-submitted", reply.status_code)
    _subscribe_spy(primed)
    assert_shape(_buy_spy(primed, "direct"), recorded, "Orders__POST-place-order-submitted")

    limit = {"conid": 756733, "side": "BUY", "quantity": 1, "orderType": "LMT", "tif": "GTC"}
    price = float(primed.get("/iserver/account/trades").json()[0]["price"]) * 0.98
    resting = {**limit, "price": round(price, 2), "cOID": "resting"}
    placed = primed.post(f"/iserver/account/{ACCOUNT}/orders", json={"orders": [resting]})
    order_id = placed.json()[0]["order_id"]
    order_path = f"/iserver/account/{ACCOUNT}/order/{order_id}"
    modified = primed.post(order_path, json={**resting, "price": round(price - 1, 2)})
    assert_shape(modified.json(), recorded, "Orders__POST-modify-order-submitted")
    cancelled = primed.delete(order_path)
    assert_shape(cancelled.json(), recorded, "Orders__DELETE-cancel-order")


@pytest.mark.parametrize(
    ("stem", "path", "body"),
    [
        ("Session__POST-suppress", "/iserver/questions/suppress", {"messageIds": ["o163"]}),
        ("Session__POST-suppress-reset", "/iserver/questions/suppress/reset", None),
    ],
)
def test_suppression_answers_match_the_recordings(
    primed: Api, recorded: Recorded, stem: str, path: str, body: object
) -> None:
    answer = primed.post(path, json=body)
    assert_shape(answer.json(), recorded, stem, answer.status_code)
