"""What happens before an /iserver call leaves: window, staleness, recovery, competition."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from ibkr_session import (
    CompetingSessionError,
    ManualClock,
    NotAuthenticatedError,
    ResetWindowError,
    SessionManager,
    SessionState,
)
from tests.logcapture import capture_logs
from tests.unit.session.session_fakes import ACCOUNT, API, FakeGateway, auth_body, tickle_body

S = SessionState
Make = Callable[..., SessionManager]
PRIMING = ["GET /iserver/accounts", "POST /iserver/account"]


def in_new_york(day: dt.date, hour: int, minute: int) -> dt.datetime:
    wall = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZoneInfo("America/New_York"))
    return wall.astimezone(dt.UTC)


def test_first_iserver_call_probes_primes_and_selects_the_account(
    make_manager: Make, gateway: FakeGateway
) -> None:
    gateway.serve_session()
    gateway.on("GET", "/iserver/account/orders", {"orders": [], "snapshot": True})
    manager = make_manager()
    assert manager.request("GET", "/iserver/account/orders") == {"orders": [], "snapshot": True}
    assert gateway.sent() == [
        "POST /iserver/auth/status",
        *PRIMING,
        "GET /iserver/account/orders",
    ]
    assert gateway.body(2) == {"acctId": ACCOUNT}
    assert manager.state is S.AUTHENTICATED
    assert manager.brokerage_generation == 1
    gateway.forget()
    manager.request("GET", "/iserver/account/orders")
    assert gateway.sent() == ["GET /iserver/account/orders"]  # primed once per session


def test_inside_the_window_iserver_is_refused_locally_and_portfolio_goes_through(
    make_manager: Make, gateway: FakeGateway, clock: ManualClock
) -> None:
    gateway.serve_session()
    gateway.on("GET", "/portfolio/accounts", [{"id": ACCOUNT}])
    clock.set(in_new_york(dt.date(2026, 7, 16), 1, 2))
    manager = make_manager()
    with pytest.raises(ResetWindowError) as caught:
        manager.request("GET", "/iserver/accounts")
    assert caught.value.retry_after == 8 * 60
    assert caught.value.resumes_at == in_new_york(dt.date(2026, 7, 16), 1, 10)
    assert manager.request("GET", "/portfolio/accounts") == [{"id": ACCOUNT}]
    assert manager.refresh() is S.RESET_WINDOW
    assert gateway.sent() == ["GET /portfolio/accounts"]
    assert manager.state is S.RESET_WINDOW


def test_after_the_window_the_next_call_recovers_in_order_then_sends(
    make_manager: Make, gateway: FakeGateway, clock: ManualClock
) -> None:
    night = dt.date(2026, 7, 16)
    clock.set(in_new_york(night, 0, 30))
    gateway.serve_session()
    gateway.on("GET", "/iserver/account/orders", {"orders": []})
    manager = make_manager()
    manager.remember_suppressed(["o163", "o354"])
    manager.request("GET", "/iserver/account/orders")
    assert manager.brokerage_generation == 1
    heard: list[tuple[S, S]] = []
    manager.on_transition(lambda old, new, reason: heard.append((old, new)))

    clock.set(in_new_york(night, 1, 0))
    assert manager.state is S.RESET_WINDOW
    clock.set(in_new_york(night, 1, 15))
    gateway.mock.replace("POST", API + "/iserver/auth/status", json=auth_body(authenticated=False))
    gateway.forget()
    with capture_logs() as logs:
        manager.request("GET", "/iserver/account/orders")
    assert gateway.sent() == [
        "POST /iserver/auth/status",
        "POST /iserver/auth/ssodh/init",
        *PRIMING,
        "POST /iserver/questions/suppress",
        "GET /iserver/account/orders",
    ]
    assert gateway.body(1) == {"publish": True, "compete": False}
    assert gateway.body(3) == {"acctId": ACCOUNT}
    assert gateway.body(4) == {"messageIds": ["o163", "o354"]}
    assert manager.brokerage_generation == 2
    expected = [
        (S.AUTHENTICATED, S.RESET_WINDOW),
        (S.RESET_WINDOW, S.STALE),
        (S.STALE, S.UNAUTHENTICATED),
        (S.UNAUTHENTICATED, S.AUTHENTICATED),
    ]
    assert heard == expected
    logged = [
        (entry["old"], entry["new"]) for entry in logs if entry["event"] == "session.transition"
    ]
    assert logged == [(old.name, new.name) for old, new in expected[1:]]  # once each


def test_stale_after_quiet_period_probes_before_the_next_call(
    make_manager: Make, gateway: FakeGateway, clock: ManualClock
) -> None:
    gateway.serve_session()
    gateway.on("GET", "/iserver/accounts", {"accounts": [ACCOUNT]})
    manager = make_manager(stale_after=300.0)
    manager.request("GET", "/iserver/accounts")
    clock.advance(299)
    states = [manager.state]
    clock.advance(2)
    states.append(manager.state)
    assert states == [S.AUTHENTICATED, S.STALE]
    gateway.forget()
    manager.request("GET", "/iserver/accounts")
    assert gateway.sent() == ["POST /iserver/auth/status", "GET /iserver/accounts"]
    assert manager.state is S.AUTHENTICATED
    assert manager.brokerage_generation == 1  # the same session went on: no re-priming


def test_competing_is_raised_then_cleared_by_a_probe(
    make_manager: Make, gateway: FakeGateway
) -> None:
    gateway.on("POST", "/iserver/auth/status", auth_body(competing=True))
    gateway.on("POST", "/iserver/auth/status", auth_body())
    gateway.serve_session()
    gateway.on("GET", "/iserver/accounts", {"accounts": [ACCOUNT]})
    manager = make_manager()
    with pytest.raises(CompetingSessionError) as caught:
        manager.request("GET", "/iserver/accounts")
    assert "competing" in str(caught.value).lower()
    states = [manager.state]
    assert "POST /iserver/auth/ssodh/init" not in gateway.sent()  # wait: never kick the other
    assert manager.request("GET", "/iserver/accounts") == {"accounts": [ACCOUNT]}
    states.append(manager.state)
    assert states == [S.COMPETING, S.AUTHENTICATED]


def test_take_over_sends_compete_true(make_manager: Make, gateway: FakeGateway) -> None:
    gateway.on("POST", "/iserver/auth/status", auth_body(competing=True))
    gateway.serve_session()
    manager = make_manager(on_competing="take_over")
    manager.request("GET", "/iserver/accounts")
    assert gateway.sent()[:2] == ["POST /iserver/auth/status", "POST /iserver/auth/ssodh/init"]
    assert gateway.body(1) == {"publish": True, "compete": True}
    assert manager.state is S.AUTHENTICATED


def test_no_sso_session_tells_the_user_to_log_in_at_the_gateway(
    make_manager: Make, gateway: FakeGateway
) -> None:
    gateway.on("POST", "/iserver/auth/status", "", status=401, content_type="text/plain")
    manager = make_manager()
    with pytest.raises(NotAuthenticatedError) as caught:
        manager.request("GET", "/iserver/accounts")
    assert "log in at https://localhost:5000" in str(caught.value)
    assert manager.state is S.UNAUTHENTICATED
    assert gateway.sent() == ["POST /iserver/auth/status"]


def test_ssodh_init_that_does_not_authenticate_asks_for_a_login(
    make_manager: Make, gateway: FakeGateway
) -> None:
    gateway.serve_session(authenticated=False)
    manager = make_manager()
    with pytest.raises(NotAuthenticatedError, match="log in at https://localhost:5000"):
        manager.request("GET", "/iserver/accounts")
    assert gateway.sent() == ["POST /iserver/auth/status", "POST /iserver/auth/ssodh/init"]
    assert manager.state is S.UNAUTHENTICATED


def test_a_401_on_an_ordinary_call_heals_the_session_and_sends_the_call_once_more(
    make_manager: Make, gateway: FakeGateway
) -> None:
    gateway.serve_session()
    gateway.on("POST", "/iserver/auth/status", auth_body(authenticated=False))
    gateway.on("GET", "/iserver/account/orders", "", status=401, content_type="text/plain")
    gateway.on("GET", "/iserver/account/orders", {"orders": []})
    manager = make_manager()
    assert manager.request("GET", "/iserver/account/orders") == {"orders": []}
    assert manager.state is S.AUTHENTICATED
    assert gateway.sent() == [
        "POST /iserver/auth/status",
        *PRIMING,
        "GET /iserver/account/orders",  # 401: the brokerage session expired meanwhile
        "POST /iserver/auth/status",
        "POST /iserver/auth/ssodh/init",
        *PRIMING,
        "GET /iserver/account/orders",
    ]


def test_a_401_with_the_sso_session_gone_asks_for_a_login_and_sends_the_call_once(
    make_manager: Make, gateway: FakeGateway
) -> None:
    gateway.serve_session()
    gateway.on("POST", "/iserver/auth/status", "", status=401, content_type="text/plain")
    gateway.on("GET", "/iserver/account/orders", "", status=401, content_type="text/plain")
    manager = make_manager()
    with pytest.raises(NotAuthenticatedError, match="log in at https://localhost:5000"):
        manager.request("GET", "/iserver/account/orders")
    assert manager.state is S.UNAUTHENTICATED
    assert gateway.sent().count("GET /iserver/account/orders") == 1


def test_please_query_accounts_first_primes_and_resends_once(
    make_manager: Make, gateway: FakeGateway
) -> None:
    gateway.serve_session()
    refusal = {"error": "Bad Request: Please query /accounts first", "statusCode": 400}
    path = f"/iserver/account/{ACCOUNT}/orders"
    gateway.on("POST", path, refusal, status=400)
    gateway.on("POST", path, [{"order_id": "1", "order_status": "Submitted"}])
    manager = make_manager()
    result = manager.request("POST", path, json={"orders": [{"cOID": "c1"}]})
    assert result == [{"order_id": "1", "order_status": "Submitted"}]
    assert gateway.sent() == [
        "POST /iserver/auth/status",
        *PRIMING,
        f"POST {path}",  # refused: "Please query /accounts first"
        *PRIMING,
        f"POST {path}",
    ]


def test_a_pending_question_lets_the_reply_go_straight_out(
    make_manager: Make, gateway: FakeGateway, clock: ManualClock
) -> None:
    gateway.serve_session()
    gateway.on("POST", "/iserver/reply/r1", [{"order_id": "7", "order_status": "Submitted"}])
    manager = make_manager()
    manager.request("GET", "/iserver/accounts")
    clock.advance(400)  # stale: a probe would normally go first
    manager.question_pending("r1")
    gateway.forget()
    manager.request("POST", "/iserver/reply/r1", json={"confirmed": True})
    assert gateway.sent() == ["POST /iserver/reply/r1"]


@pytest.mark.parametrize("reply_id", ["r1", 71])  # the order desk reads both as questions
def test_an_order_question_holds_the_keepalive_until_its_reply_without_being_told(
    make_manager: Make, gateway: FakeGateway, clock: ManualClock, reply_id: object
) -> None:
    gateway.serve_session()
    orders = f"/iserver/account/{ACCOUNT}/orders"
    question = [{"id": reply_id, "message": ["Are you sure?"], "messageIds": ["o163"]}]
    gateway.on("POST", orders, question)
    reply = f"/iserver/reply/{reply_id}"
    gateway.on("POST", reply, [{"order_id": "7", "order_status": "Submitted"}])
    manager = make_manager()
    assert manager.request("POST", orders, json={"orders": [{"cOID": "c1"}]}) == question
    gateway.forget()
    clock.advance(30)  # a tickle is due, but the gateway would cancel the order
    manager.keepalive()
    assert gateway.sent() == []
    manager.request("POST", reply, json={"confirmed": True})
    manager.keepalive()
    assert gateway.sent() == [f"POST {reply}", "POST /tickle"]


def test_select_account_is_remembered_for_the_next_session(
    make_manager: Make, gateway: FakeGateway
) -> None:
    gateway.serve_session()
    manager = make_manager(account_id=None)
    assert manager.select_account("U7654321") == {"set": True, "acctId": ACCOUNT}
    assert manager.account_id == "U7654321"
    assert gateway.sent() == [
        "POST /iserver/auth/status",
        "GET /iserver/accounts",
        "POST /iserver/account",
    ]


def test_the_system_clock_under_freezegun_sees_the_window_too(gateway: FakeGateway) -> None:
    with freeze_time("2026-01-06T06:02:00Z"), SessionManager() as manager:  # 01:02 EST
        with pytest.raises(ResetWindowError) as caught:
            manager.request("GET", "/iserver/accounts")
        assert caught.value.retry_after == 8 * 60
    assert gateway.sent() == []


def test_a_tickle_answered_before_a_recovery_does_not_undo_it(
    make_manager: Make, gateway: FakeGateway
) -> None:
    """A user's /tickle leaves while the brokerage session is down; another thread
    recovers it (ssodh/init: a new generation) before the tickle's stale answer arrives.
    That answer is news about the old session: the state stays AUTHENTICATED and no second
    ssodh/init follows."""
    gateway.on("POST", "/iserver/auth/status", auth_body(authenticated=False))
    gateway.on("POST", "/iserver/auth/ssodh/init", auth_body())
    gateway.on("GET", "/iserver/accounts", {"accounts": [ACCOUNT], "selectedAccount": ACCOUNT})
    gateway.on("POST", "/iserver/account", {"set": True, "acctId": ACCOUNT})
    manager = make_manager()

    def stale_tickle(request: Any) -> tuple[int, dict[str, str], str]:
        recovery = threading.Thread(target=manager.ensure_ready)
        recovery.start()  # the other thread recovers while this answer travels
        recovery.join(timeout=10)
        return 200, {}, json.dumps(tickle_body(authenticated=False))

    gateway.mock.add_callback("POST", API + "/tickle", callback=stale_tickle)
    manager.request("POST", "/tickle")
    assert manager.state is S.AUTHENTICATED
    assert gateway.sent().count("POST /iserver/auth/ssodh/init") == 1
