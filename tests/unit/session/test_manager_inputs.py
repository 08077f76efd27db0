"""Bad arguments are refused with a typed error before anything reaches the gateway."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from ibkr_session import IbkrAPIError, InvalidRequestError, SessionManager, SessionState
from tests.unit.session.session_fakes import FakeGateway

Make = Callable[..., SessionManager]


@pytest.mark.parametrize(
    "options",
    [
        {"on_competing": "kick"},
        {"tickle_interval": 0},
        {"stale_after": -5},
        {"question_hold": float("inf")},
        {"timeout": 0},
        {"account_id": ""},
        {"region": "mars"},
        {"backoff_initial": 10.0, "backoff_max": 1.0},
    ],
)
def test_bad_options_are_refused_at_construction(
    make_manager: Make, options: dict[str, Any]
) -> None:
    with pytest.raises(InvalidRequestError):
        make_manager(**options)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "iserver/accounts"), ("GET", "https://evil.example/x"), ("FETCH", "/tickle")],
)
def test_bad_requests_send_nothing(
    make_manager: Make, gateway: FakeGateway, method: str, path: str
) -> None:
    with pytest.raises(InvalidRequestError):
        make_manager().request(method, path)
    assert gateway.sent() == []


def test_bad_account_and_suppression_ids_send_nothing(
    make_manager: Make, gateway: FakeGateway
) -> None:
    manager = make_manager()
    with pytest.raises(InvalidRequestError, match="account id"):
        manager.select_account("  ")
    with pytest.raises(InvalidRequestError, match="message ids"):
        manager.remember_suppressed(["o163", ""])
    assert gateway.sent() == []
    assert manager.account_id == "U1234567"


def test_unknown_route_is_an_api_error_404(make_manager: Make, gateway: FakeGateway) -> None:
    gateway.on(
        "GET", "/portfolio/nope", "<html>404 Not Found</html>", status=404, content_type="text/html"
    )
    with pytest.raises(IbkrAPIError) as caught:
        make_manager().request("GET", "/portfolio/nope")
    assert caught.value.code == 404


def test_a_raising_transition_listener_does_not_break_requests(
    make_manager: Make, gateway: FakeGateway
) -> None:
    gateway.serve_session()
    manager = make_manager()

    def broken(*_: object) -> None:
        raise RuntimeError("user bug")

    manager.on_transition(broken)
    assert manager.request("GET", "/iserver/accounts") is not None
    assert manager.state is SessionState.AUTHENTICATED


def test_refresh_probes_and_returns_the_state(make_manager: Make, gateway: FakeGateway) -> None:
    gateway.serve_session(competing=True)
    manager = make_manager()
    assert manager.refresh() is SessionState.COMPETING
    assert gateway.sent() == ["POST /iserver/auth/status"]


@pytest.mark.parametrize("price", [float("nan"), Decimal("1.5")])
def test_an_unencodable_body_is_refused_and_the_session_stays_up(
    make_manager: Make, gateway: FakeGateway, price: object
) -> None:
    gateway.serve_session()
    manager = make_manager()
    manager.request("GET", "/iserver/accounts")
    gateway.forget()
    with pytest.raises(InvalidRequestError) as caught:
        manager.request("POST", "/iserver/account/U1234567/orders", json={"price": price})
    assert caught.value.field == "json"
    assert gateway.sent() == []
    assert manager.state is SessionState.AUTHENTICATED
