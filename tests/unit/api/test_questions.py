"""Order questions: returned as the gateway gives them, answered by id, never lost."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from ibkr_api.client import IbkrClient
from ibkr_api.orders import OrderOutcomeUnknownError
from ibkr_session import ManualClock, OrderRejectedError

from .conftest import ACCOUNT, Gateway

PLACE = f"/iserver/account/{ACCOUNT}/orders"


def question(reply_id: str, *message_ids: str) -> list[dict[str, Any]]:
    return [
        {
            "id": reply_id,
            "message": ["Are you sure you want to submit this order?"],
            "isSuppressed": False,
            "messageIds": list(message_ids),
            "messageOptions": ["Yes", "No"],
        }
    ]


def test_the_reference_recipe_answers_a_question(client: IbkrClient, gateway: Gateway) -> None:
    asked = gateway.body("Orders__POST-place-order-confirmation")
    confirmed = gateway.body("Orders__POST-reply-submitted")
    gateway.answer("POST", PLACE, asked)
    gateway.answer("POST", "/iserver/reply/test-reply-id-001", confirmed)

    r = client.place_order(ACCOUNT, 265598, "BUY", 1000, "MKT")
    assert r == asked
    if isinstance(r, list) and r and "message" in r[0]:
        assert client.reply_to_order(r[0]["id"], confirmed=True) == confirmed

    assert gateway.paths() == [f"POST {PLACE}", "POST /iserver/reply/test-reply-id-001"]
    assert gateway.sent()[-1].body == {"confirmed": True}


def test_keep_alive_stays_quiet_between_a_question_and_its_reply(
    client: IbkrClient, gateway: Gateway, clock: ManualClock
) -> None:
    gateway.answer("POST", PLACE, question("q1", "o163"))
    gateway.answer("POST", "/iserver/reply/q1", gateway.body("Orders__POST-reply-submitted"))
    gateway.answer("POST", "/tickle", gateway.body("Session__POST-tickle"))

    client.place_order(ACCOUNT, 265598, "BUY", 10)
    clock.advance(30)
    client.session.keepalive()
    assert "POST /tickle" not in gateway.paths()

    client.reply_to_order("q1")
    client.session.keepalive()
    assert gateway.paths()[-2:] == ["POST /iserver/reply/q1", "POST /tickle"]


def test_a_reply_that_brings_the_next_question_keeps_the_hold(
    client: IbkrClient, gateway: Gateway, clock: ManualClock
) -> None:
    gateway.answer("POST", PLACE, question("q1", "o163"))
    gateway.answer("POST", "/iserver/reply/q1", question("q2", "o451"))
    gateway.answer("POST", "/tickle", gateway.body("Session__POST-tickle"))

    client.place_order(ACCOUNT, 265598, "BUY", 10)
    assert client.reply_to_order("q1") == question("q2", "o451")
    client.session.keepalive()

    assert "POST /tickle" not in gateway.paths()


def test_auto_confirm_follows_a_chain_of_chosen_ids(gateway: Gateway, clock: ManualClock) -> None:
    done = gateway.body("Orders__POST-reply-submitted")
    gateway.answer("POST", PLACE, question("q1", "o354"))
    gateway.answer("POST", "/iserver/reply/q1", question("q2", "o163"))
    gateway.answer("POST", "/iserver/reply/q2", done)

    with IbkrClient(clock=clock, auto_confirm=("o163", "o354")) as client:
        assert client.place_order(ACCOUNT, 265598, "BUY", 10) == done

    assert gateway.paths() == [
        f"POST {PLACE}",
        "POST /iserver/reply/q1",
        "POST /iserver/reply/q2",
    ]
    assert [r.body for r in gateway.sent()[1:]] == [{"confirmed": True}] * 2


def test_auto_confirm_leaves_other_questions_to_the_worker(
    gateway: Gateway, clock: ManualClock
) -> None:
    gateway.answer("POST", PLACE, question("q1", "o163", "o451"))

    with IbkrClient(clock=clock, auto_confirm=("o163",)) as client:
        assert client.place_order(ACCOUNT, 265598, "BUY", 10) == question("q1", "o163", "o451")

    assert gateway.paths() == [f"POST {PLACE}"]


def test_declining_sends_confirmed_false(client: IbkrClient, gateway: Gateway) -> None:
    gateway.answer("POST", "/iserver/reply/q9", [{"order_id": "1", "order_status": "Cancelled"}])

    client.reply_to_order("q9", confirmed=False)

    assert gateway.sent()[-1].body == {"confirmed": False}


def test_a_lost_reply_is_reconciled_by_the_coid_of_the_order_that_asked(
    client: IbkrClient, gateway: Gateway
) -> None:
    row = dict(gateway.body("Orders__GET-live-orders")["orders"][0])
    row.update(orderId=31, order_ref="asked-1", status="Submitted", conid=265598, totalSize=10)
    gateway.answer("POST", PLACE, question("q1", "o163"))
    gateway.answer("POST", "/iserver/reply/q1", requests.exceptions.ReadTimeout("timed out"))
    gateway.answer("GET", "/iserver/account/orders", {"orders": [row], "snapshot": True})

    r = client.place_order(ACCOUNT, 265598, "BUY", 10, coid="asked-1")
    answer = client.reply_to_order(r[0]["id"])

    assert answer == [{"order_id": "31", "order_status": "Submitted", "reconciled": True}]
    assert gateway.paths()[-2:] == ["POST /iserver/reply/q1", "GET /iserver/account/orders"]


def test_a_lost_reply_whose_order_cannot_be_found_reports_the_coid(
    client: IbkrClient, gateway: Gateway
) -> None:
    gateway.answer("POST", PLACE, question("q1", "o163"))
    gateway.answer("POST", "/iserver/reply/q1", requests.exceptions.ReadTimeout("timed out"))
    gateway.answer("GET", "/iserver/account/orders", {"orders": [], "snapshot": True})

    client.place_order(ACCOUNT, 265598, "BUY", 10, coid="asked-2")
    with pytest.raises(OrderOutcomeUnknownError) as raised:
        client.reply_to_order("q1")

    assert raised.value.coid == "asked-2"
    assert [p for p in gateway.paths() if "reply" in p] == ["POST /iserver/reply/q1"]


def test_a_refused_reply_releases_the_keep_alive(
    client: IbkrClient, gateway: Gateway, clock: ManualClock
) -> None:
    gateway.answer("POST", PLACE, question("q1", "o163"))
    gateway.answer("POST", "/iserver/reply/q1", {"error": "reply id expired"})
    gateway.answer("POST", "/tickle", gateway.body("Session__POST-tickle"))

    client.place_order(ACCOUNT, 265598, "BUY", 10)
    with pytest.raises(OrderRejectedError):
        client.reply_to_order("q1")
    client.session.keepalive()

    assert gateway.paths()[-2:] == ["POST /iserver/reply/q1", "POST /tickle"]
