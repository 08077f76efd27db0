"""Orders: exact requests, questions, and no order ever traded twice."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from ibkr_api.client import IbkrClient
from ibkr_api.orders import OrderOutcomeUnknownError
from ibkr_session import (
    GatewayUnavailableError,
    GatewayUnreachableError,
    ManualClock,
    OrderRejectedError,
)

from .conftest import ACCOUNT, Gateway, Reply

PLACE = f"/iserver/account/{ACCOUNT}/orders"
LIVE = "/iserver/account/orders"
COID = "bot-42"


def live_order(gateway: Gateway, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict(gateway.body("Orders__GET-live-orders")["orders"][0])
    row.update(changes)
    return row


def live(*orders: dict[str, Any]) -> dict[str, Any]:
    return {"orders": list(orders), "snapshot": True}


def posts(gateway: Gateway) -> list[Any]:
    return [r.body for r in gateway.sent() if r.method == "POST"]


def test_place_order_sends_one_wrapped_order_in_the_gateways_names(
    client: IbkrClient, gateway: Gateway
) -> None:
    submitted = gateway.body("Orders__POST-place-order-submitted")
    gateway.answer("POST", PLACE, submitted)

    answer = client.place_order(ACCOUNT, 265598, "buy", 10, coid=COID)

    assert answer == submitted
    assert posts(gateway) == [
        {
            "orders": [
                {
                    "acctId": ACCOUNT,
                    "conid": 265598,
                    "side": "BUY",
                    "quantity": 10,
                    "orderType": "MKT",
                    "tif": "DAY",
                    "outsideRTH": False,
                    "cOID": COID,
                }
            ]
        }
    ]


def test_stop_limit_maps_to_the_gateways_type_and_carries_the_stop_as_aux_price(
    client: IbkrClient, gateway: Gateway
) -> None:
    gateway.answer("POST", PLACE, gateway.body("Orders__POST-place-order-submitted"))

    client.place_order(
        ACCOUNT, "265598", "SELL", 5, "STP_LMT", 99.5, "GTC", aux_price=100.0, outside_rth=True
    )

    (order,) = posts(gateway)[0]["orders"]
    assert order["orderType"] == "STOP_LIMIT"
    assert (order["price"], order["auxPrice"], order["tif"]) == (99.5, 100.0, "GTC")
    assert order["outsideRTH"] is True


def test_every_order_gets_a_coid_when_the_caller_gives_none(
    client: IbkrClient, gateway: Gateway, clock: ManualClock
) -> None:
    gateway.answer("POST", PLACE, gateway.body("Orders__POST-place-order-submitted"))

    client.place_order(ACCOUNT, 265598, "BUY", 1)
    client.place_order(ACCOUNT, 265598, "BUY", 1)

    coids = [body["orders"][0]["cOID"] for body in posts(gateway)]
    stamp = clock.now().strftime("%Y%m%d%H%M%S")
    assert all(re.fullmatch(rf"ibkr-{stamp}-[0-9a-f]{{12}}", coid) for coid in coids)
    assert len(set(coids)) == 2


def test_modify_order_sends_one_unwrapped_order(client: IbkrClient, gateway: Gateway) -> None:
    modified = gateway.body("Orders__POST-modify-order-submitted")
    gateway.answer("POST", f"/iserver/account/{ACCOUNT}/order/473740665", modified)

    answer = client.modify_order(ACCOUNT, 473740665, 756733, "BUY", 2, price=640.5)

    assert answer == modified
    assert posts(gateway) == [
        {
            "acctId": ACCOUNT,
            "conid": 756733,
            "side": "BUY",
            "quantity": 2,
            "orderType": "LMT",
            "price": 640.5,
            "tif": "DAY",
            "outsideRTH": False,
        }
    ]


def test_a_lost_answer_is_looked_up_by_coid_before_anything_is_resent(
    client: IbkrClient, gateway: Gateway
) -> None:
    gateway.answer("POST", PLACE, requests.exceptions.ReadTimeout("read timed out"))
    gateway.answer(
        "GET", LIVE, live(live_order(gateway, orderId=555, order_ref=COID, conid=265598))
    )

    answer = client.place_order(ACCOUNT, 265598, "BUY", 1, coid=COID)

    assert answer == [{"order_id": "555", "order_status": "Filled", "reconciled": True}]
    assert gateway.paths() == [f"POST {PLACE}", f"GET {LIVE}"]


def test_an_order_surely_absent_is_resent_under_the_same_coid(
    client: IbkrClient, gateway: Gateway
) -> None:
    submitted = gateway.body("Orders__POST-place-order-submitted")
    gateway.answer("POST", PLACE, requests.exceptions.ConnectionError("reset by peer"), submitted)
    gateway.answer("GET", LIVE, live(live_order(gateway, order_ref="someone-else")))

    assert client.place_order(ACCOUNT, 265598, "BUY", 1, coid=COID) == submitted
    assert gateway.paths() == [f"POST {PLACE}", f"GET {LIVE}", f"POST {PLACE}"]
    assert [body["orders"][0]["cOID"] for body in posts(gateway)] == [COID, COID]


def test_a_duplicate_coid_answer_yields_the_original_order_not_a_second_trade(
    client: IbkrClient, gateway: Gateway
) -> None:
    duplicate = {
        "error": f"Order couldn't be submitted: Local order ID={COID} is already registered."
    }
    gateway.answer("POST", PLACE, requests.exceptions.ReadTimeout("read timed out"), duplicate)
    # The live list lags: the order shows only on the lookup after the duplicate answer.
    gateway.answer(
        "GET",
        LIVE,
        live(live_order(gateway, order_ref="other")),
        live(live_order(gateway, orderId=777, order_ref=COID, status="Submitted", conid=265598)),
    )

    answer = client.place_order(ACCOUNT, 265598, "BUY", 1, coid=COID)

    assert answer == [{"order_id": "777", "order_status": "Submitted", "reconciled": True}]
    assert gateway.paths() == [f"POST {PLACE}", f"GET {LIVE}", f"POST {PLACE}", f"GET {LIVE}"]


def test_a_gateway_failure_on_the_order_post_is_reconciled_too(
    client: IbkrClient, gateway: Gateway
) -> None:
    gateway.answer("POST", PLACE, Reply(503))
    gateway.answer("GET", LIVE, live(live_order(gateway, orderId=9, order_ref=COID, conid=265598)))

    answer = client.place_order(ACCOUNT, 265598, "BUY", 1, coid=COID)

    assert answer[0]["reconciled"] is True
    assert gateway.paths() == [f"POST {PLACE}", f"GET {LIVE}"]


def test_when_nothing_can_be_established_the_error_carries_the_coid(
    client: IbkrClient, gateway: Gateway
) -> None:
    gateway.answer("POST", PLACE, requests.exceptions.ReadTimeout("read timed out"))
    gateway.answer("GET", LIVE, Reply(503))

    with pytest.raises(OrderOutcomeUnknownError) as raised:
        client.place_order(ACCOUNT, 265598, "BUY", 1, coid=COID)

    assert raised.value.coid == COID
    assert isinstance(raised.value, GatewayUnreachableError)
    assert [p for p in gateway.paths() if p.startswith("POST")] == [f"POST {PLACE}"]


def test_a_request_that_never_left_is_resent_without_a_lookup(
    client: IbkrClient, gateway: Gateway
) -> None:
    submitted = gateway.body("Orders__POST-place-order-submitted")
    gateway.answer(
        "POST", PLACE, requests.exceptions.ConnectTimeout("connect timed out"), submitted
    )

    assert client.place_order(ACCOUNT, 265598, "BUY", 1, coid=COID) == submitted
    assert gateway.paths() == [f"POST {PLACE}", f"POST {PLACE}"]


def test_resends_are_bounded_and_the_last_doubt_is_reported(
    client: IbkrClient, gateway: Gateway
) -> None:
    gateway.answer("POST", PLACE, Reply(500))
    gateway.answer("GET", LIVE, live(live_order(gateway, order_ref="other")))

    with pytest.raises(OrderOutcomeUnknownError) as raised:
        client.place_order(ACCOUNT, 265598, "BUY", 1, coid=COID)

    assert isinstance(raised.value, GatewayUnavailableError)
    assert raised.value.coid == COID
    assert len(posts(gateway)) == 3


def test_a_rejected_order_is_raised_once_and_never_looked_up(
    client: IbkrClient, gateway: Gateway
) -> None:
    gateway.answer("POST", PLACE, {"error": "We cannot accept an order at the limit price"})

    with pytest.raises(OrderRejectedError, match="limit price"):
        client.place_order(ACCOUNT, 265598, "BUY", 1, "LMT", 1.0)

    assert gateway.paths() == [f"POST {PLACE}"]


def test_a_lost_modify_that_took_effect_is_not_resent(client: IbkrClient, gateway: Gateway) -> None:
    path = f"/iserver/account/{ACCOUNT}/order/473740665"
    gateway.answer("POST", path, requests.exceptions.ReadTimeout("read timed out"))
    gateway.answer(
        "GET",
        LIVE,
        live(
            live_order(
                gateway, orderId=473740665, status="Submitted", price="640.50", totalSize=2.0
            )
        ),
    )

    answer = client.modify_order(ACCOUNT, "473740665", 756733, "BUY", 2, price=640.5)

    assert answer == [{"order_id": "473740665", "order_status": "Submitted", "reconciled": True}]
    assert gateway.paths() == [f"POST {path}", f"GET {LIVE}"]


def test_a_lost_modify_not_yet_applied_to_a_working_order_is_resent(
    client: IbkrClient, gateway: Gateway
) -> None:
    path = f"/iserver/account/{ACCOUNT}/order/473740665"
    modified = gateway.body("Orders__POST-modify-order-submitted")
    gateway.answer("POST", path, requests.exceptions.ReadTimeout("read timed out"), modified)
    gateway.answer(
        "GET",
        LIVE,
        live(
            live_order(gateway, orderId=473740665, status="Submitted", price="600", totalSize=2.0)
        ),
    )

    assert client.modify_order(ACCOUNT, "473740665", 756733, "BUY", 2, price=640.5) == modified
    assert gateway.paths() == [f"POST {path}", f"GET {LIVE}", f"POST {path}"]


def test_a_lost_modify_of_a_vanished_order_reports_the_order_id(
    client: IbkrClient, gateway: Gateway
) -> None:
    path = f"/iserver/account/{ACCOUNT}/order/473740665"
    gateway.answer("POST", path, requests.exceptions.ReadTimeout("read timed out"))
    gateway.answer("GET", LIVE, live(live_order(gateway, orderId=1)))

    with pytest.raises(OrderOutcomeUnknownError) as raised:
        client.modify_order(ACCOUNT, "473740665", 756733, "BUY", 2, price=640.5)

    assert raised.value.order_id == "473740665"
    assert len(posts(gateway)) == 1


def test_cancel_is_retried_because_cancelling_twice_is_harmless(
    client: IbkrClient, gateway: Gateway
) -> None:
    path = f"/iserver/account/{ACCOUNT}/order/602801486"
    ack = gateway.body("Orders__DELETE-cancel-order")
    gateway.answer("DELETE", path, requests.exceptions.ReadTimeout("read timed out"), ack)

    assert client.cancel_order(ACCOUNT, "602801486") == ack
    assert gateway.paths() == [f"DELETE {path}", f"DELETE {path}"]
