"""The hooks a host builds on: ``on_alert`` (only a human can help) and ``on_question``."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from ibkr_session import ManualClock, RateLimitedError, SessionManager, SessionState
from ibkr_session.alerts import Alert
from ibkr_session.errors import CompetingSessionError
from ibkr_session.hooks import QuestionHold
from tests.unit.session.session_fakes import ACCOUNT, FakeGateway, auth_body, tickle_body

Make = Callable[..., SessionManager]
S = SessionState
ORDERS = f"/iserver/account/{ACCOUNT}/orders"
QUESTION = [{"id": "r1", "message": ["Order size exceeds..."], "messageIds": ["o383"]}]
SUBMITTED = [{"order_id": "1", "order_status": "Submitted"}]


class Received:
    """What a listener got, read after the alerts' thread delivered everything."""

    def __init__(self, manager: SessionManager) -> None:
        self._manager = manager
        self.alerts: list[Alert] = []
        manager.on_alert(self.alerts.append)

    def seen(self) -> list[tuple[str, str]]:
        assert self._manager.alerts.flush(timeout=10)
        return [(alert.status, alert.kind) for alert in self.alerts]


def test_no_sso_session_alerts_once_and_resolves_when_someone_logs_in(
    make_manager: Make, gateway: FakeGateway, clock: ManualClock
) -> None:
    for _ in range(4):
        gateway.on("POST", "/tickle", {"error": "no session"})
    gateway.on("POST", "/iserver/auth/status", "", status=401, content_type="text/plain")
    gateway.on("POST", "/tickle", tickle_body())
    manager = make_manager()
    received = Received(manager)
    for _ in range(4):  # four keep-alive steps meet it: one alert, not four
        manager.keepalive()
        clock.advance(61)
    assert received.seen() == [("raised", "login_required")]
    assert "log in at https://localhost:5000" in received.alerts[0].reason
    manager.keepalive()
    assert received.seen() == [("raised", "login_required"), ("resolved", "login_required")]


def test_a_lost_brokerage_session_alone_raises_nothing(
    make_manager: Make, gateway: FakeGateway
) -> None:
    gateway.on("GET", "/iserver/account/trades", "", status=401, content_type="text/plain")
    gateway.on("POST", "/iserver/auth/status", auth_body(authenticated=False))
    gateway.serve_session()
    gateway.on("GET", "/iserver/account/trades", [])
    manager = make_manager()
    received = Received(manager)
    manager.ensure_ready()
    manager.request("GET", "/iserver/account/trades")  # 401, then ssodh/init heals it
    assert manager.state is S.AUTHENTICATED
    assert received.seen() == []


def test_a_competing_login_alerts_after_the_threshold_once(
    make_manager: Make, gateway: FakeGateway, clock: ManualClock
) -> None:
    gateway.on("POST", "/iserver/auth/status", auth_body(competing=True))
    gateway.on("POST", "/tickle", tickle_body(competing=True))
    manager = make_manager(competing_alert_after=300.0)
    received = Received(manager)
    with pytest.raises(CompetingSessionError):
        manager.ensure_ready()
    assert manager.state is S.COMPETING
    clock.advance(299)
    manager.keepalive()
    assert received.seen() == []
    for _ in range(3):
        clock.advance(61)
        manager.keepalive()
    assert received.seen() == [("raised", "competing_session")]
    gateway.forget()
    gateway.serve_session()
    manager.refresh()
    assert received.seen() == [("raised", "competing_session"), ("resolved", "competing_session")]


def test_alerts_asked_for_during_a_competing_login_count_from_then(
    make_manager: Make, gateway: FakeGateway, clock: ManualClock
) -> None:
    gateway.on("POST", "/iserver/auth/status", auth_body(competing=True))
    manager = make_manager(competing_alert_after=60.0)
    manager.refresh()
    received = Received(manager)
    clock.advance(60)
    manager.keepalive()
    assert received.seen() == [("raised", "competing_session")]


def test_the_penalty_box_alerts_and_resolves_once_answers_come_back(
    make_manager: Make, gateway: FakeGateway, clock: ManualClock
) -> None:
    gateway.on(
        "GET",
        "/portfolio/accounts",
        "Too Many Requests",
        status=429,
        headers={"Retry-After": "600"},
    )
    gateway.on("GET", "/portfolio/accounts", [{"id": ACCOUNT}])
    manager = make_manager()
    received = Received(manager)
    with pytest.raises(RateLimitedError):
        manager.request("GET", "/portfolio/accounts")
    with pytest.raises(RateLimitedError):  # our pacer keeps us in the box: nothing sent
        manager.request("GET", "/portfolio/accounts")
    assert received.seen() == [("raised", "penalty_box")]
    assert manager.alerts.open_incidents == {"penalty_box": "IBKR's penalty box: quiet for 600 s"}
    assert received.alerts[0].reason == "IBKR's penalty box: quiet for 600 s"
    clock.advance(601)
    manager.request("GET", "/portfolio/accounts")
    assert received.seen() == [("raised", "penalty_box"), ("resolved", "penalty_box")]
    assert gateway.sent() == ["GET /portfolio/accounts", "GET /portfolio/accounts"]


def test_a_slow_alert_listener_never_holds_a_request(
    make_manager: Make, gateway: FakeGateway
) -> None:
    gateway.on("GET", "/portfolio/accounts", "slow down", status=429)
    gateway.on("GET", "/portfolio/U1234567/summary", {})
    manager = make_manager(pacing=False)
    release, delivered = threading.Event(), threading.Event()

    def slow_webhook(alert: Alert) -> None:
        release.wait(10)
        delivered.set()

    manager.on_alert(slow_webhook)
    with pytest.raises(RateLimitedError):
        manager.request("GET", "/portfolio/accounts")  # raises the alert; its delivery waits
    manager.request("GET", f"/portfolio/{ACCOUNT}/summary")  # not behind the listener
    assert not delivered.is_set()
    release.set()
    assert delivered.wait(10)


# -- question holds ------------------------------------------------------------------------


def holds(manager: SessionManager) -> list[QuestionHold]:
    heard: list[QuestionHold] = []
    manager.on_question(heard.append)
    return heard


def test_a_question_and_its_reply_are_one_hold(
    make_manager: Make, gateway: FakeGateway, clock: ManualClock
) -> None:
    gateway.serve_session()
    gateway.on("POST", ORDERS, QUESTION)
    gateway.on("POST", "/iserver/reply/r1", SUBMITTED)
    manager = make_manager()
    heard = holds(manager)
    manager.request("POST", ORDERS, json={"orders": [{"conid": 1}]})
    clock.advance(4)
    manager.request("POST", "/iserver/reply/r1", json={"confirmed": True})
    assert heard == [QuestionHold("r1", "held"), QuestionHold("r1", "answered", 4.0)]


def test_a_chained_question_answers_the_first() -> None:
    clock = ManualClock()
    with SessionManager(clock=clock, coordination="memory") as manager:
        heard = holds(manager)
        manager.question_pending("r1")
        clock.advance(2)
        manager.question_pending("r2")
        clock.advance(3)
        manager.question_answered()
        manager.question_answered()  # nothing open: nothing to tell
    assert heard == [
        QuestionHold("r1", "held"),
        QuestionHold("r1", "answered", 2.0),
        QuestionHold("r2", "held"),
        QuestionHold("r2", "answered", 3.0),
    ]


def test_a_forgotten_question_ends_as_expired(
    make_manager: Make, gateway: FakeGateway, clock: ManualClock
) -> None:
    gateway.serve_session()
    manager = make_manager(question_hold=60.0)
    heard = holds(manager)
    manager.question_pending("r1")
    clock.advance(60)
    manager.keepalive()
    assert heard == [QuestionHold("r1", "held"), QuestionHold("r1", "expired", 60.0)]


def test_a_failed_reply_abandons_its_question(make_manager: Make, gateway: FakeGateway) -> None:
    gateway.serve_session()
    gateway.on("POST", ORDERS, QUESTION)
    gateway.on("POST", "/iserver/reply/r1", {"error": "reply expired"}, status=400)
    manager = make_manager()
    heard = holds(manager)
    manager.request("POST", ORDERS, json={"orders": [{"conid": 1}]})
    with pytest.raises(Exception, match="reply expired"):
        manager.request("POST", "/iserver/reply/r1", json={"confirmed": True})
    assert [hold.phase for hold in heard] == ["held", "abandoned"]
