"""Multi-leg orders: brackets and groups carry a cOID per leg, and no leg trades twice or
goes missing whatever the network does to the group's request."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from ibkr_api.client import IbkrClient
from ibkr_api.orders import OrderOutcomeUnknownError
from ibkr_session import DuplicateOrderError, ManualClock, OrderRejectedError

from .conftest import ACCOUNT, Gateway, Reply

PLACE = f"/iserver/account/{ACCOUNT}/orders"
LIVE = "/iserver/account/orders"
ENTRY = "bot-7"


def bracket_legs() -> list[dict[str, Any]]:
    common = {"acctId": ACCOUNT, "conid": 265598, "quantity": 10, "tif": "GTC"}
    return [
        {
            **common,
            "side": "BUY",
            "orderType": "LMT",
            "price": 100.0,
            "outsideRTH": False,
            "cOID": ENTRY,
        },
        {
            **common,
            "side": "SELL",
            "orderType": "LMT",
            "price": 110.0,
            "outsideRTH": False,
            "cOID": f"{ENTRY}-tp",
            "parentId": ENTRY,
        },
        {
            **common,
            "side": "SELL",
            "orderType": "STP",
            "price": 95.0,
            "auxPrice": 95.0,
            "outsideRTH": False,
            "cOID": f"{ENTRY}-sl",
            "parentId": ENTRY,
        },
    ]


def submitted(*order_ids: int) -> list[dict[str, Any]]:
    return [
        {"order_id": str(oid), "order_status": "PreSubmitted", "encrypt_message": "1"}
        for oid in order_ids
    ]


def live_row(coid: str, order_id: int, side: str, price: float, status: str = "Submitted") -> Any:
    return {
        "orderId": order_id,
        "order_ref": coid,
        "conid": 265598,
        "side": side,
        "totalSize": 10.0,
        "price": price,
        "status": status,
    }


ROWS = {
    ENTRY: live_row(ENTRY, 1, "BUY", 100.0),
    f"{ENTRY}-tp": live_row(f"{ENTRY}-tp", 2, "SELL", 110.0, "PreSubmitted"),
    f"{ENTRY}-sl": live_row(f"{ENTRY}-sl", 3, "SELL", 95.0, "PreSubmitted"),
}


def live(*coids: str) -> dict[str, Any]:
    return {"orders": [ROWS[coid] for coid in coids], "snapshot": True}


def posts(gateway: Gateway) -> list[Any]:
    return [r.body for r in gateway.sent() if r.method == "POST"]


def place_bracket(client: IbkrClient) -> Any:
    return client.place_bracket_order(
        ACCOUNT, 265598, "buy", 10, 100.0, take_profit=110.0, stop_loss=95.0, coid=ENTRY
    )


def test_a_bracket_is_one_request_of_three_legs_linked_by_the_entrys_coid(
    client: IbkrClient, gateway: Gateway
) -> None:
    gateway.answer("POST", PLACE, submitted(1, 2, 3))

    answer = place_bracket(client)

    assert answer == submitted(1, 2, 3)
    assert posts(gateway) == [{"orders": bracket_legs()}]


def test_a_bracket_without_a_coid_gets_fresh_ones_for_every_leg(
    client: IbkrClient, gateway: Gateway
) -> None:
    gateway.answer("POST", PLACE, submitted(1, 2, 3))

    client.place_bracket_order(ACCOUNT, 265598, "SELL", 5, 100.0, 90.0, 104.0, "STP", "DAY")

    entry, profit, stop = posts(gateway)[0]["orders"]
    assert len({entry["cOID"], profit["cOID"], stop["cOID"]}) == 3
    assert profit["parentId"] == stop["parentId"] == entry["cOID"]
    assert (entry["orderType"], profit["side"], stop["orderType"]) == ("STP", "BUY", "STP")


def test_oca_groups_mark_every_leg(client: IbkrClient, gateway: Gateway) -> None:
    gateway.answer("POST", PLACE, submitted(1, 2))
    legs = [
        {"conid": 265598, "side": "SELL", "quantity": 1, "order_type": "LMT", "price": 110},
        {"conid": 265598, "side": "SELL", "quantity": 1, "order_type": "STP", "price": 90},
    ]

    client.place_orders(ACCOUNT, legs, oca=True)

    assert [leg["isSingleGroup"] for leg in posts(gateway)[0]["orders"]] == [True, True]


def test_auto_confirm_answers_the_groups_questions_along_the_chain(
    gateway: Gateway, clock: ManualClock
) -> None:
    question = [{"id": "q1", "message": ["sure?"], "isSuppressed": False, "messageIds": ["o163"]}]
    gateway.answer("POST", PLACE, question)
    gateway.answer("POST", "/iserver/reply/q1", submitted(1, 2, 3))

    with IbkrClient(clock=clock, auto_confirm=("o163",)) as client:
        assert place_bracket(client) == submitted(1, 2, 3)

    assert gateway.paths() == [f"POST {PLACE}", "POST /iserver/reply/q1"]


def test_a_question_not_chosen_comes_back_to_the_worker(
    client: IbkrClient, gateway: Gateway
) -> None:
    question = [{"id": "q9", "message": ["sure?"], "isSuppressed": False, "messageIds": ["o354"]}]
    gateway.answer("POST", PLACE, question)
    gateway.answer("POST", "/iserver/reply/q9", submitted(1, 2, 3))

    assert place_bracket(client) == question
    assert client.reply_to_order("q9") == submitted(1, 2, 3)


def test_a_lost_answer_with_every_leg_live_returns_them_and_resends_nothing(
    client: IbkrClient, gateway: Gateway
) -> None:
    gateway.answer("POST", PLACE, requests.exceptions.ReadTimeout("read timed out"))
    gateway.answer("GET", LIVE, live(ENTRY, f"{ENTRY}-tp", f"{ENTRY}-sl"))

    answer = place_bracket(client)

    assert [(row["order_id"], row["coid"], row["reconciled"]) for row in answer] == [
        ("1", ENTRY, True),
        ("2", f"{ENTRY}-tp", True),
        ("3", f"{ENTRY}-sl", True),
    ]
    assert gateway.paths() == [f"POST {PLACE}", f"GET {LIVE}"]


def test_a_lost_answer_with_no_leg_live_resends_the_group_under_the_same_coids(
    client: IbkrClient, gateway: Gateway
) -> None:
    gateway.answer("POST", PLACE, requests.exceptions.ReadTimeout("lost"), submitted(1, 2, 3))
    gateway.answer("GET", LIVE, {"orders": [live_row("other", 9, "BUY", 1.0)], "snapshot": True})

    assert place_bracket(client) == submitted(1, 2, 3)
    assert posts(gateway) == [{"orders": bracket_legs()}] * 2


def test_a_lost_answer_with_some_legs_live_resends_only_the_missing_ones(
    client: IbkrClient, gateway: Gateway
) -> None:
    gateway.answer("POST", PLACE, requests.exceptions.ReadTimeout("lost"), submitted(3))
    gateway.answer("GET", LIVE, live(ENTRY, f"{ENTRY}-tp"))

    answer = place_bracket(client)

    legs = bracket_legs()
    assert posts(gateway) == [{"orders": legs}, {"orders": [legs[2]]}]
    assert [row.get("coid") for row in answer] == [None, ENTRY, f"{ENTRY}-tp"]
    assert answer[0] == submitted(3)[0]


def test_a_duplicate_refusal_is_reconciled_to_the_legs_not_a_second_group(
    client: IbkrClient, gateway: Gateway
) -> None:
    duplicate = {
        "error": f"Order couldn't be submitted: Local order ID={ENTRY} is already registered."
    }
    gateway.answer("POST", PLACE, requests.exceptions.ConnectionError("reset"), duplicate)
    gateway.answer(
        "GET",
        LIVE,
        {"orders": [live_row("other", 9, "BUY", 1.0)], "snapshot": True},
        live(ENTRY, f"{ENTRY}-tp", f"{ENTRY}-sl"),
    )

    answer = place_bracket(client)

    assert [row["order_id"] for row in answer] == ["1", "2", "3"]
    assert len(posts(gateway)) == 2


def test_a_coid_held_by_a_different_order_is_never_taken_for_the_leg(
    client: IbkrClient, gateway: Gateway
) -> None:
    gateway.answer("POST", PLACE, requests.exceptions.ReadTimeout("lost"))
    stranger = {**ROWS[ENTRY], "conid": 8314}
    gateway.answer("GET", LIVE, {"orders": [stranger], "snapshot": True})

    with pytest.raises(DuplicateOrderError) as raised:
        place_bracket(client)

    assert raised.value.coid == ENTRY
    assert len(posts(gateway)) == 1


def test_when_the_live_orders_cannot_be_read_the_error_names_every_leg(
    client: IbkrClient, gateway: Gateway
) -> None:
    gateway.answer("POST", PLACE, requests.exceptions.ReadTimeout("lost"))
    gateway.answer("GET", LIVE, Reply(503))

    with pytest.raises(OrderOutcomeUnknownError) as raised:
        place_bracket(client)

    assert raised.value.coid == ENTRY
    assert getattr(raised.value, "coids", None) == [ENTRY, f"{ENTRY}-tp", f"{ENTRY}-sl"]
    assert len(posts(gateway)) == 1


def test_a_rejected_group_is_raised_once_and_never_looked_up(
    client: IbkrClient, gateway: Gateway
) -> None:
    gateway.answer("POST", PLACE, {"error": "We cannot accept an order at the limit price"})

    with pytest.raises(OrderRejectedError) as raised:
        place_bracket(client)

    assert raised.value.coid == ENTRY
    assert gateway.paths() == [f"POST {PLACE}"]


def test_a_question_on_the_resend_of_missing_legs_stays_first_for_the_recipe(
    client: IbkrClient, gateway: Gateway
) -> None:
    question = [{"id": "q5", "message": ["sure?"], "isSuppressed": False, "messageIds": ["o354"]}]
    gateway.answer("POST", PLACE, requests.exceptions.ReadTimeout("lost"), question)
    gateway.answer("GET", LIVE, live(ENTRY))

    answer = place_bracket(client)

    assert "message" in answer[0]
    assert [row.get("coid") for row in answer[1:]] == [ENTRY]
    assert [leg["cOID"] for leg in posts(gateway)[1]["orders"]] == [f"{ENTRY}-tp", f"{ENTRY}-sl"]
