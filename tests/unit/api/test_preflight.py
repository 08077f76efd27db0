"""Pre-flight answers: the first snapshot (and orders list) of a session still has data."""

from __future__ import annotations

import pytest

from ibkr_api.client import DEFAULT_SNAPSHOT_FIELDS, IbkrClient
from ibkr_session import ManualClock, NotAuthenticatedError

from .conftest import Gateway, Reply

SNAPSHOT = "/iserver/marketdata/snapshot"
ORDERS = "/iserver/account/orders"


def placeholder(*conids: int) -> list[dict[str, object]]:
    return [{"conid": conid, "conidEx": str(conid)} for conid in conids]


def quote(conid: int, last: str = "168.42") -> dict[str, object]:
    row: dict[str, object] = {"conid": conid, "conidEx": str(conid), "_updated": 1712596911593}
    row.update(dict.fromkeys(DEFAULT_SNAPSHOT_FIELDS, "100"))
    row["31"] = last
    return row


def test_first_snapshot_of_a_session_already_has_prices(
    client: IbkrClient, gateway: Gateway, clock: ManualClock
) -> None:
    gateway.answer("GET", SNAPSHOT, placeholder(265598), [quote(265598)])

    started = clock.monotonic()
    rows = client.get_market_snapshot(265598)

    assert rows == [quote(265598)]
    assert float(str(rows[0]["31"])) == 168.42
    sent = gateway.sent()
    assert len(sent) == 2
    assert sent[0].query == {"conids": "265598", "fields": "31,84,86,88,85,7059,87"}
    assert clock.monotonic() - started >= 0.5  # a short wait on the session clock


def test_a_known_subscription_is_asked_once(client: IbkrClient, gateway: Gateway) -> None:
    gateway.answer("GET", SNAPSHOT, placeholder(265598), [quote(265598)])
    client.get_market_snapshot([265598])

    assert client.get_market_snapshot([265598]) == [quote(265598)]
    assert len(gateway.sent()) == 3


def test_the_reference_recipe_call_sleep_call_still_works(
    client: IbkrClient, gateway: Gateway
) -> None:
    gateway.answer("GET", SNAPSHOT, placeholder(265598), [quote(265598, "170.01")])

    client.get_market_snapshot(conids=[265598])
    quote_rows = client.get_market_snapshot(conids=[265598])
    last = float(str(quote_rows[0].get("31", 0)))

    assert last == 170.01


def test_re_asking_is_bounded(gateway: Gateway, clock: ManualClock) -> None:
    gateway.answer("GET", SNAPSHOT, placeholder(8314))
    with IbkrClient(clock=clock, snapshot_attempts=3) as client:
        assert client.get_market_snapshot(8314, fields=[31]) == placeholder(8314)

    assert len(gateway.sent()) == 3


def test_new_fields_of_a_known_conid_are_a_new_subscription(
    client: IbkrClient, gateway: Gateway
) -> None:
    gateway.answer(
        "GET",
        SNAPSHOT,
        [{"conid": 8314, "31": "150"}],
        [{"conid": 8314, "31": "150"}],
        [{"conid": 8314, "31": "150", "7295": "149"}],
    )
    client.get_market_snapshot(8314, fields=["31"])
    rows = client.get_market_snapshot(8314, fields=["31", "7295"])

    assert rows == [{"conid": 8314, "31": "150", "7295": "149"}]
    assert len(gateway.sent()) == 3


def test_more_than_100_conids_are_split_and_concatenated_in_order(
    client: IbkrClient, gateway: Gateway
) -> None:
    conids = list(range(1000, 1150))
    gateway.answer(
        "GET",
        SNAPSHOT,
        [quote(conid) for conid in conids[:100]],
        [quote(conid) for conid in conids[100:]],
    )

    rows = client.get_market_snapshot(conids)

    assert [row["conid"] for row in rows] == conids
    sent = gateway.sent()
    assert [len(r.query["conids"].split(",")) for r in sent] == [100, 50]


def test_subscriptions_die_with_the_brokerage_session(client: IbkrClient, gateway: Gateway) -> None:
    gateway.answer("GET", SNAPSHOT, placeholder(265598), [quote(265598)])
    client.get_market_snapshot(265598)
    # The brokerage session expires (401); recovery opens a new one.
    gateway.answer("GET", "/iserver/contract/8314/info", Reply(401))
    with pytest.raises(NotAuthenticatedError):
        client.get_contract_details(8314)
    gateway.answer("POST", "/iserver/auth/ssodh/init", gateway.body("Session__POST-ssodh-init"))
    gateway.answer("GET", SNAPSHOT, placeholder(265598), [quote(265598, "171.00")])

    assert client.get_market_snapshot(265598) == [quote(265598, "171.00")]
    snapshots = [r for r in gateway.sent() if r.path == SNAPSHOT]
    assert len(snapshots) == 4


def test_first_orders_list_of_a_session_is_asked_again_when_empty(
    client: IbkrClient, gateway: Gateway, clock: ManualClock
) -> None:
    live = gateway.body("Orders__GET-live-orders")
    gateway.answer("GET", ORDERS, gateway.body("Orders__GET-live-orders-empty"), live)

    assert client.get_orders() == live
    assert client.get_orders() == live
    times = [r for r in gateway.sent() if r.path == ORDERS]
    assert len(times) == 3


def test_an_account_without_orders_costs_one_bounded_re_ask(
    client: IbkrClient, gateway: Gateway
) -> None:
    empty = gateway.body("Orders__GET-live-orders-empty")
    gateway.answer("GET", ORDERS, empty)

    assert client.get_orders() == empty
    assert client.get_orders() == empty
    assert len(gateway.sent()) == 3
