"""Orders against a hostile gateway: a cOID is never a silent success for another order,
an answer that is none of IBKR's families is looked up, and every error names the cOID.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator

import pytest

from ibkr_api import (
    DuplicateOrderError,
    GatewayUnreachableError,
    IbkrClient,
    IbkrError,
    OrderOutcomeUnknownError,
    OrderRejectedError,
)
from ibkr_session import ManualClock, NotAuthenticatedError
from tests.conftest import MARKET_OPEN
from tests.hostile import ACCOUNT, BAD_ANSWERS, HostileGateway, Reply, json_reply

PLACE = rf"/iserver/account/{ACCOUNT}/orders"
LIVE = "/iserver/account/orders"
KIND = {kind.name: kind for kind in BAD_ANSWERS}


@pytest.fixture
def gateway() -> Iterator[HostileGateway]:
    with HostileGateway() as server:
        yield server


@pytest.fixture
def client(gateway: HostileGateway) -> Iterator[IbkrClient]:
    ibkr = IbkrClient(
        gateway.url, clock=ManualClock(MARKET_OPEN), retry_attempts=2, rng=random.Random(7)
    )
    yield ibkr
    ibkr.close()


def test_a_coid_reused_for_a_different_order_is_a_duplicate_error_carrying_the_first(
    client: IbkrClient, gateway: HostileGateway
) -> None:
    first = client.place_order(ACCOUNT, 265598, "BUY", 1, coid="bot-1")
    with pytest.raises(DuplicateOrderError) as caught:
        client.place_order(ACCOUNT, 265598, "SELL", 5, coid="bot-1")
    assert caught.value.coid == "bot-1"
    assert caught.value.existing is not None
    assert str(caught.value.existing["orderId"]) == first[0]["order_id"]
    assert caught.value.existing["side"] == "BUY"
    assert gateway.placements == ["bot-1"]  # the SELL was never traded


@pytest.mark.parametrize(
    ("conid", "side", "quantity", "price"),
    [(8314, "BUY", 1, None), (265598, "BUY", 2, None), (265598, "BUY", 1, 150.0)],
    ids=["other-conid", "other-quantity", "other-price"],
)
def test_any_difference_from_the_order_holding_the_coid_is_refused(
    client: IbkrClient, conid: int, side: str, quantity: int, price: float | None
) -> None:
    client.place_order(ACCOUNT, 265598, "BUY", 1, "LMT", 149.0, coid="bot-2")
    with pytest.raises(DuplicateOrderError):
        client.place_order(ACCOUNT, conid, side, quantity, "LMT", price or 149.0, coid="bot-2")


def test_the_same_order_resent_under_its_coid_is_reconciled(
    client: IbkrClient, gateway: HostileGateway
) -> None:
    first = client.place_order(ACCOUNT, 265598, "BUY", 1, coid="bot-3")
    again = client.place_order(ACCOUNT, 265598, "BUY", 1, coid="bot-3")
    assert again == [{"order_id": first[0]["order_id"], "order_status": "Submitted",
                      "reconciled": True}]  # fmt: skip
    assert gateway.placements == ["bot-3"]


@pytest.mark.parametrize(
    "kind",
    ["empty-200", "empty-object", "empty-list", "null", "a-string", "close-after-status-line",
     "deep-nesting", "gzip-bomb", "html-200", "truncated-json"],
)  # fmt: skip
def test_an_order_answer_of_no_ibkr_family_is_looked_up_not_taken_for_success(
    client: IbkrClient, gateway: HostileGateway, kind: str
) -> None:
    gateway.fault(PLACE, KIND[kind].reply, acts=True, times=1)
    answer = client.place_order(ACCOUNT, 265598, "BUY", 1, coid="bot-4")
    assert answer == [{"order_id": "1000000001", "order_status": "Submitted",
                       "reconciled": True}]  # fmt: skip
    assert gateway.sent("GET", LIVE)  # it looked
    assert gateway.placements == ["bot-4"]


def test_an_odd_answer_for_an_order_that_is_not_there_is_resent_under_the_same_coid(
    client: IbkrClient, gateway: HostileGateway
) -> None:
    gateway.fault(PLACE, lambda: json_reply({}), acts=False, times=1)
    answer = client.place_order(ACCOUNT, 265598, "BUY", 1, coid="bot-5")
    assert answer == [{"order_id": "1000000001", "order_status": "Submitted"}]
    assert [r.body["orders"][0]["cOID"] for r in gateway.sent("POST", PLACE)] == ["bot-5"] * 2
    assert gateway.placements == ["bot-5"]


def test_when_the_lookup_cannot_be_read_either_the_error_carries_the_coid(
    client: IbkrClient, gateway: HostileGateway
) -> None:
    gateway.bad_answer(KIND["deep-nesting"], PLACE)
    gateway.bad_answer(KIND["deep-nesting"], LIVE)
    with pytest.raises(OrderOutcomeUnknownError) as caught:
        client.place_order(ACCOUNT, 265598, "BUY", 1, coid="bot-6")
    assert caught.value.coid == "bot-6"
    assert len(gateway.sent("POST", PLACE)) == 1  # never resent blindly


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (lambda: json_reply({"error": "We cannot accept an order at the limit price"}),
         OrderRejectedError),
        (lambda: Reply(status=401, content_type="text/plain"), NotAuthenticatedError),
        (lambda: json_reply({"error": "Bad Request: no bridge"}, 400), NotAuthenticatedError),
    ],
    ids=["rejected", "401", "no-bridge"],
)  # fmt: skip
def test_every_order_error_names_the_coid(
    client: IbkrClient, gateway: HostileGateway, reply: object, error: type[IbkrError]
) -> None:
    gateway.fault(PLACE, reply, acts=False)  # type: ignore[arg-type]
    with pytest.raises(error) as caught:
        client.place_order(ACCOUNT, 265598, "BUY", 1, coid="bot-7")
    assert caught.value.coid == "bot-7"
    assert gateway.placements == []


def test_a_probe_failure_before_the_order_left_is_not_an_unknown_outcome(
    gateway: HostileGateway,
) -> None:
    # The guard probes first (the session is new); the probe's connection is cut twice.
    # The order never left, so there is nothing to look up: it is simply sent (once).
    client = IbkrClient(gateway.url, clock=ManualClock(MARKET_OPEN), retry_attempts=1)
    gateway.fault("/iserver/auth/status", KIND["close-without-answer"].reply, times=2)
    answer = client.place_order(ACCOUNT, 265598, "BUY", 1, coid="bot-8")
    assert answer == [{"order_id": "1000000001", "order_status": "Submitted"}]
    assert gateway.placements == ["bot-8"]


def test_a_gateway_gone_before_the_order_left_says_not_sent(
    client: IbkrClient, gateway: HostileGateway
) -> None:
    gateway.fault("/iserver/auth/status", KIND["close-without-answer"].reply)
    with pytest.raises(GatewayUnreachableError) as caught:
        client.place_order(ACCOUNT, 265598, "BUY", 1, coid="bot-9")
    assert not isinstance(caught.value, OrderOutcomeUnknownError)
    assert caught.value.maybe_sent is False
    assert caught.value.coid == "bot-9"
    assert gateway.sent("POST", PLACE) == []


def test_warnings_about_an_order_never_name_the_account(
    client: IbkrClient, gateway: HostileGateway, caplog: pytest.LogCaptureFixture
) -> None:
    gateway.fault(PLACE, KIND["deep-nesting"].reply, acts=True, times=1)
    with caplog.at_level(logging.INFO):
        client.place_order(ACCOUNT, 265598, "BUY", 1, coid="bot-10")
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert any("bot-10" in message for message in loud)  # the cOID is what to look for
    assert not [message for message in loud if ACCOUNT in message]
