"""A burst of mixed calls never breaks a pacing limit of the gateway (IBKR-FACTS §3).

The limits are restated here from the facts, not imported from the pacer, so this test
checks the pacer's table as well as its use. Time is virtual: the pacer's waits advance a
ManualClock, and the mocked gateway stamps each request with it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

from ibkr_api.client import IbkrClient

from .conftest import ACCOUNT, Gateway, Sent

# (name, method or None for any, path regex, requests, per seconds)
GATEWAY_LIMITS: list[tuple[str, str | None, str, int, float]] = [
    ("whole gateway", None, r".*", 10, 1.0),
    ("snapshot", "GET", r"/iserver/marketdata/snapshot", 10, 1.0),
    ("live orders", "GET", r"/iserver/account/orders", 1, 5.0),
    ("trades", "GET", r"/iserver/account/trades", 1, 5.0),
    ("portfolio accounts", "GET", r"/portfolio/accounts", 1, 5.0),
    ("portfolio subaccounts", "GET", r"/portfolio/subaccounts", 1, 5.0),  # a row of its own
    ("tickle", "POST", r"/tickle", 1, 1.0),
]

CALLS: list[Callable[[IbkrClient], Any]] = [
    lambda c: c.tickle(),
    lambda c: c.auth_status(),
    lambda c: c.get_accounts(),
    lambda c: c.get_subaccounts(),
    lambda c: c.get_summary(ACCOUNT),
    lambda c: c.get_ledger(ACCOUNT),
    lambda c: c.get_positions(ACCOUNT),
    lambda c: c.get_market_snapshot([265598, 8314]),
    lambda c: c.get_market_snapshot(756733),
    lambda c: c.get_historical_data(265598, "1d", "5min"),
    lambda c: c.search_contract("AAPL"),
    lambda c: c.get_contract_details(265598),
    lambda c: c.get_orders(),
    lambda c: c.get_filled_orders(ACCOUNT),
    lambda c: c.place_order(ACCOUNT, 265598, "BUY", 1, "LMT", 100.0),
    lambda c: c.cancel_order(ACCOUNT, "1"),
    lambda c: c.tickle(),
    lambda c: c.get_market_snapshot(265598, ["31"]),
]


def answer_everything(gateway: Gateway) -> None:
    quote = {"conid": 265598, "31": "1", "84": "1", "86": "1", "88": "1", "85": "1"}
    quote.update({"7059": "1", "87": "1"})
    answers: dict[tuple[str, str], Any] = {
        ("POST", "/tickle"): gateway.body("Session__POST-tickle"),
        ("GET", "/portfolio/accounts"): gateway.body("Portfolio__GET-portfolio-accounts"),
        ("GET", "/portfolio/subaccounts"): gateway.body("Portfolio__GET-portfolio-subaccounts"),
        ("GET", f"/portfolio/{ACCOUNT}/summary"): gateway.body("Portfolio__GET-portfolio-summary"),
        ("GET", f"/portfolio/{ACCOUNT}/ledger"): gateway.body("Portfolio__GET-portfolio-ledger"),
        ("GET", f"/portfolio/{ACCOUNT}/positions/0"): [],
        ("GET", "/iserver/marketdata/snapshot"): [
            {**quote, "conid": conid} for conid in (265598, 8314, 756733)
        ],
        ("GET", "/iserver/marketdata/history"): gateway.body("MarketData__GET-history"),
        ("GET", "/iserver/secdef/search"): gateway.body("Contracts__POST-secdef-search"),
        ("GET", "/iserver/contract/265598/info"): gateway.body("Contracts__GET-contract-info"),
        ("GET", "/iserver/account/orders"): gateway.body("Orders__GET-live-orders"),
        ("POST", f"/iserver/account/{ACCOUNT}/orders"): gateway.body(
            "Orders__POST-place-order-submitted"
        ),
        ("DELETE", f"/iserver/account/{ACCOUNT}/order/1"): gateway.body(
            "Orders__DELETE-cancel-order"
        ),
    }
    for (method, path), body in answers.items():
        gateway.answer(method, path, body)


def most_in_any_window(times: list[float], per: float) -> int:
    """The largest number of ``times`` inside one half-open window ``[t, t + per)``."""
    most, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= per - 1e-9:
            start += 1
        most = max(most, end - start + 1)
    return most


def test_a_burst_of_200_mixed_calls_stays_within_every_limit(
    client: IbkrClient, gateway: Gateway
) -> None:
    answer_everything(gateway)

    for call in itertools.islice(itertools.cycle(CALLS), 200):
        call(client)

    sent = gateway.sent(include_session=True)
    assert len(sent) >= 200
    for name, method, pattern, allowed, per in GATEWAY_LIMITS:
        times = [r.at for r in sent if matches(r, method, pattern)]
        assert most_in_any_window(times, per) <= allowed, name
    # The limits bind, but the burst still moves at close to the permitted pace of the
    # tightest one (the account lists: 1 per 5.56 s with margin, plus waits behind others).
    lists = [r.at for r in sent if matches(r, "GET", r"/portfolio/(sub)?accounts")]
    assert lists[-1] - lists[0] < 6.5 * (len(lists) - 1)


def matches(request: Sent, method: str | None, pattern: str) -> bool:
    return (method is None or request.method == method) and re.fullmatch(
        pattern, request.path
    ) is not None


def test_the_window_counter_finds_a_breach() -> None:
    assert most_in_any_window([0.0, 0.5, 0.99, 1.0], 1.0) == 3
    assert most_in_any_window([0.0, 5.0, 10.0], 5.0) == 1
