"""Keep-alive: tickle cadence, backoff while the gateway is gone, silence during questions."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from typing import Any

import pytest
import requests
from urllib3.exceptions import NewConnectionError

from ibkr_session import (
    IbkrAPIError,
    InvalidRequestError,
    ManualClock,
    RateLimitedError,
    ResetWindowError,
    SessionManager,
    SessionState,
)
from ibkr_session.core import backoff_delay
from tests.logcapture import capture_logs
from tests.unit.session.session_fakes import API, FakeGateway, auth_body, tickle_body

S = SessionState
Make = Callable[..., SessionManager]


class Switch:
    """A gateway that refuses connections until switched on."""

    def __init__(self) -> None:
        self.up = False
        self.attempts: list[str] = []  # `responses` does not record refused calls

    def answer(self, body: dict[str, Any]) -> Callable[[Any], tuple[int, dict[str, str], str]]:
        def respond(request: Any) -> tuple[int, dict[str, str], str]:
            self.attempts.append(request.path_url.removeprefix("/v1/api"))
            if not self.up:
                raise requests.exceptions.ConnectionError(
                    NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
                )
            return 200, {"Content-Type": "application/json"}, json.dumps(body)

        return respond


def test_backoff_delays_grow_with_jitter_and_are_capped() -> None:
    class Highest(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b

    class Lowest(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return a

    high = [backoff_delay(n, initial=1.0, cap=60.0, rng=Highest()) for n in range(9)]
    low = [backoff_delay(n, initial=1.0, cap=60.0, rng=Lowest()) for n in range(9)]
    assert high == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert low == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]


def test_disconnected_probes_back_off_and_a_user_call_recovers_at_once(
    make_manager: Make, gateway: FakeGateway, clock: ManualClock
) -> None:
    switch = Switch()
    gateway.mock.add_callback("POST", API + "/tickle", callback=switch.answer(tickle_body()))
    gateway.mock.add_callback(
        "POST", API + "/iserver/auth/status", callback=switch.answer(auth_body())
    )
    gateway.on("GET", "/iserver/accounts", {"accounts": ["U1234567"]})
    gateway.on("POST", "/iserver/account", {"set": True})
    manager = make_manager(rng=random.Random(42), pacing=False)
    manager.keepalive()
    assert switch.attempts == ["/tickle"]
    states = [manager.state]

    twin = random.Random(42)
    delays = [backoff_delay(n, initial=1.0, cap=60.0, rng=twin) for n in range(9)]
    for delay in delays:
        before = len(switch.attempts)
        clock.advance(delay - 0.01)
        manager.keepalive()
        assert len(switch.attempts) == before, "probed before its backoff delay"
        clock.advance(0.02)
        manager.keepalive()
        assert switch.attempts[before:] == ["/iserver/auth/status"]
    growing, capped = delays[:6], delays[6:]  # 1 s doubling reaches the 60 s cap at step 6
    assert growing == sorted(growing)
    assert delays[0] <= 1.0
    assert all(30.0 <= delay <= 60.0 for delay in capped)
    states.append(manager.state)

    switch.up = True
    gateway.forget()
    assert manager.request("GET", "/iserver/accounts") is not None  # no waiting for backoff
    assert gateway.sent()[0] == "POST /iserver/auth/status"
    states.append(manager.state)
    assert states == [S.DISCONNECTED, S.DISCONNECTED, S.AUTHENTICATED]


def test_tickles_every_interval_and_reads_the_nested_status(
    make_manager: Make, gateway: FakeGateway, clock: ManualClock
) -> None:
    gateway.serve_session()
    manager = make_manager(tickle_interval=60.0)
    manager.keepalive()
    assert manager.state is S.AUTHENTICATED
    clock.advance(59)
    manager.keepalive()
    clock.advance(1)
    manager.keepalive()
    assert gateway.sent() == ["POST /tickle", "POST /tickle"]


def test_keepalive_sends_nothing_while_a_question_is_pending(
    make_manager: Make, gateway: FakeGateway, clock: ManualClock
) -> None:
    gateway.serve_session()
    manager = make_manager(tickle_interval=10.0, question_hold=60.0)
    manager.question_pending("reply-1")
    for _ in range(5):
        clock.advance(11)
        manager.keepalive()
    assert gateway.sent() == []
    manager.question_answered()
    manager.keepalive()
    assert gateway.sent() == ["POST /tickle"]


def test_a_forgotten_question_stops_holding_after_question_hold(
    make_manager: Make, gateway: FakeGateway, clock: ManualClock
) -> None:
    gateway.serve_session()
    manager = make_manager(question_hold=60.0)
    manager.question_pending("reply-1")
    clock.advance(59)
    manager.keepalive()
    assert gateway.sent() == []
    clock.advance(1)
    with capture_logs() as logs:
        manager.keepalive()
    assert gateway.sent() == ["POST /tickle"]
    assert "session.question_hold_expired" in [entry["event"] for entry in logs]


def test_tickle_no_session_marks_unauthenticated_and_keepalive_survives(
    make_manager: Make, gateway: FakeGateway
) -> None:
    gateway.on("POST", "/tickle", {"error": "no session"})
    manager = make_manager()
    with capture_logs() as logs:
        manager.keepalive()
    assert manager.state is S.UNAUTHENTICATED
    failures = [entry for entry in logs if entry["event"] == "session.keepalive_failed"]
    assert len(failures) == 1
    assert "log in at https://localhost:5000" in str(failures[0]["error"])


def test_keepalive_in_the_reset_window_keeps_sso_alive_without_touching_iserver(
    make_manager: Make, gateway: FakeGateway, clock: ManualClock
) -> None:
    gateway.on("POST", "/tickle", {"error": "no session"})  # as seen during the reset
    clock.set(clock.now().replace(hour=5, minute=0))  # 01:00 New York (EDT)
    manager = make_manager()
    manager.keepalive()
    assert gateway.sent() == ["POST /tickle"]
    assert manager.state is S.RESET_WINDOW


def test_429_penalizes_the_pacer_so_the_next_request_waits(
    make_manager: Make, gateway: FakeGateway, clock: ManualClock
) -> None:
    gateway.on(
        "GET", "/portfolio/accounts", "Too Many Requests", status=429, headers={"Retry-After": "30"}
    )
    gateway.on("GET", "/portfolio/U1234567/summary", {"netliquidation": {}})
    manager = make_manager()
    with pytest.raises(RateLimitedError) as caught:
        manager.request("GET", "/portfolio/accounts")
    assert caught.value.retry_after == 30
    before = clock.now()
    manager.request("GET", "/portfolio/U1234567/summary")
    assert (clock.now() - before).total_seconds() >= 30


def test_the_thread_tickles_and_stops(make_manager: Make, gateway: FakeGateway) -> None:
    tickled = threading.Event()

    def respond(request: Any) -> tuple[int, dict[str, str], str]:
        tickled.set()
        return 200, {"Content-Type": "application/json"}, json.dumps(tickle_body())

    gateway.mock.add_callback("POST", API + "/tickle", callback=respond)
    with make_manager() as manager:
        manager.start()
        assert manager.keeping_alive
        assert tickled.wait(5.0)
    assert not manager.keeping_alive
    assert "ibkr-session-keepalive" not in [thread.name for thread in threading.enumerate()]
    assert manager.state is S.AUTHENTICATED


def test_the_thread_logs_a_crash_and_keeps_going(
    make_manager: Make, gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = make_manager(tickle_interval=0.05)
    calls: list[int] = []
    second_step = threading.Event()

    def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("bug in a step")
        second_step.set()

    monkeypatch.setattr(manager, "keepalive", flaky)
    with capture_logs() as logs:
        manager.start()
        assert second_step.wait(5.0)
        manager.stop()
    assert "session.keepalive_crashed" in [entry["event"] for entry in logs]


def test_refresh_does_not_probe_between_a_question_and_its_reply(
    make_manager: Make, gateway: FakeGateway
) -> None:
    gateway.serve_session()
    manager = make_manager()
    manager.question_pending("reply-1")
    assert manager.refresh() is S.UNKNOWN
    assert gateway.sent() == []


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [("/tickle", 200, {"error": "no session"}), ("/portfolio/accounts", 503, "")],
    ids=["tickle-no-session", "portfolio-503"],
)
def test_reset_symptoms_inside_the_window_are_reported_as_the_window(
    make_manager: Make, gateway: FakeGateway, clock: ManualClock, path: str, status: int, body: Any
) -> None:
    gateway.on("POST" if path == "/tickle" else "GET", path, body, status=status)
    clock.set(clock.now().replace(hour=5, minute=2))  # 01:02 New York (EDT)
    manager = make_manager()
    with pytest.raises(ResetWindowError) as caught:
        manager.request("POST" if path == "/tickle" else "GET", path)
    assert caught.value.retry_after == 8 * 60
    assert "log in" not in str(caught.value)  # a reset is not a logout
    assert isinstance(caught.value.__cause__, IbkrAPIError)
    assert manager.state is S.RESET_WINDOW


def test_a_request_refused_before_sending_does_not_cut_the_backoff_short(
    make_manager: Make, gateway: FakeGateway
) -> None:
    switch = Switch()
    gateway.mock.add_callback("POST", API + "/tickle", callback=switch.answer(tickle_body()))
    gateway.mock.add_callback(
        "POST", API + "/iserver/auth/status", callback=switch.answer(auth_body())
    )
    manager = make_manager(rng=random.Random(7), pacing=False)
    manager.keepalive()  # refused: DISCONNECTED, next probe only after a backoff
    assert manager.state is S.DISCONNECTED
    with pytest.raises(InvalidRequestError):
        manager.request("POST", "/portfolio/U1234567/positions/invalidate", json=float("nan"))
    manager.keepalive()  # still inside the backoff: the gateway is not knocked on again
    assert switch.attempts == ["/tickle"]
