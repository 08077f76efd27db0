"""The refusals the gateway tells apart only by text become classes, once, in ``interpret``.

The session heals "no bridge" and "Please query /accounts first" and the order desk
reconciles a duplicate cOID: both decide on these classes, so a worker that catches the old
classes still catches them (each is a subclass of what it was before).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

import ibkr_api
import ibkr_session
from ibkr_session import (
    DuplicateOrderError,
    GatewayUnavailableError,
    IbkrAPIError,
    NoBridgeError,
    NotAuthenticatedError,
    NotPrimedError,
    OrderRejectedError,
)
from ibkr_session.transport import interpret

URL = "https://localhost:5000"
NOW = dt.datetime(2026, 1, 5, 15, 0, tzinfo=dt.UTC)
JSON = {"Content-Type": "application/json"}
PLACE = "/iserver/account/U1234567/orders"


def answer(status: int, body: Any, *, path: str = "/iserver/marketdata/snapshot") -> Any:
    content = json.dumps(body).encode()
    method = "POST" if path == PLACE else "GET"
    return interpret(method, path, status, JSON, content, gateway_url=URL, now=NOW)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"error": "Bad Request: Please query /accounts first", "statusCode": 400}),
        (500, {"error": "Please query /accounts first"}),
    ],
    ids=["400", "500-without-statusCode"],
)
def test_please_query_accounts_first_is_not_primed_whatever_the_status(
    status: int, body: dict[str, Any]
) -> None:
    with pytest.raises(NotPrimedError) as caught:
        answer(status, body)
    assert caught.value.code == status
    assert isinstance(caught.value, IbkrAPIError)
    # A refusal the gateway did not act on, not an outage: order safety depends on that.
    assert not isinstance(caught.value, GatewayUnavailableError)


def test_not_primed_on_an_order_path_is_not_an_order_rejection() -> None:
    with pytest.raises(NotPrimedError) as caught:
        answer(400, {"error": "Bad Request: Please query /accounts first"}, path=PLACE)
    assert not isinstance(caught.value, OrderRejectedError)


def test_no_bridge_is_a_typed_not_authenticated_error() -> None:
    with pytest.raises(NoBridgeError) as caught:
        answer(400, {"error": "Bad Request: no bridge", "statusCode": 400})
    assert isinstance(caught.value, NotAuthenticatedError)
    assert caught.value.code == 400


def test_no_session_stays_plain_not_authenticated() -> None:
    with pytest.raises(NotAuthenticatedError) as caught:
        answer(200, {"error": "no session"}, path="/tickle")
    assert not isinstance(caught.value, NoBridgeError)


@pytest.mark.parametrize(
    "coid", ["ibkr-20260105143000-3f9a1c2b7d4e", "bot 1", "a.b=c"], ids=["generated", "space", "eq"]
)
def test_duplicate_coid_refusal_names_the_coid(coid: str) -> None:
    text = f"Order couldn't be submitted: Local order ID={coid} is already registered."
    with pytest.raises(DuplicateOrderError) as caught:
        answer(200, {"error": text}, path=PLACE)
    assert isinstance(caught.value, OrderRejectedError)
    assert caught.value.coid == coid
    assert caught.value.existing is None
    assert caught.value.msg == text


def test_an_ordinary_order_rejection_is_not_a_duplicate() -> None:
    text = "We cannot accept an order at the limit price you selected."
    with pytest.raises(OrderRejectedError) as caught:
        answer(200, {"error": text}, path=PLACE)
    assert not isinstance(caught.value, DuplicateOrderError)


def test_duplicate_text_off_the_order_paths_is_no_duplicate_order() -> None:
    text = "Local order ID=x is already registered."
    with pytest.raises(IbkrAPIError) as caught:
        answer(200, {"error": text}, path="/iserver/marketdata/history")
    assert not isinstance(caught.value, OrderRejectedError)


@pytest.mark.parametrize("package", [ibkr_session, ibkr_api], ids=["ibkr_session", "ibkr_api"])
def test_the_typed_refusals_are_public(package: Any) -> None:
    for name in ("NotPrimedError", "NoBridgeError", "DuplicateOrderError"):
        assert name in package.__all__
        assert getattr(package, name) is getattr(ibkr_session.errors, name)
