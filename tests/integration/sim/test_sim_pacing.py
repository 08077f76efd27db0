"""Pacing as IBKR-FACTS §3: 429, the penalty box, and the 5-concurrent history limit."""

from __future__ import annotations

import threading
from collections.abc import Callable

from ibkr_session.clock import ManualClock
from ibkr_sim import SimulatedGateway
from tests.integration.sim.conftest import ACCOUNT, Api

HISTORY = "/iserver/marketdata/history"
BUSY = "Too many history charts requests, please try again later."


def test_eleventh_request_in_a_second_opens_the_penalty_box(
    make_gateway: Callable[..., SimulatedGateway], clock: ManualClock
) -> None:
    api = Api(make_gateway(pacing=True, penalty_seconds=600.0))
    statuses = [api.post("/iserver/auth/status").status_code for _ in range(11)]
    assert statuses == [200] * 10 + [429]
    clock.advance(5)
    assert api.post("/iserver/auth/status").status_code == 429  # everything, for 10 min
    assert api.get("/sso/validate").status_code == 429
    clock.advance(594.9)
    assert api.post("/tickle").status_code == 429
    clock.advance(0.2)
    assert api.post("/tickle").status_code == 200


def test_sliding_window_admits_again_once_the_second_has_passed(
    make_gateway: Callable[..., SimulatedGateway], clock: ManualClock
) -> None:
    api = Api(make_gateway(pacing=True))
    for _ in range(2):
        statuses = {api.post("/iserver/auth/status").status_code for _ in range(10)}
        assert statuses == {200}
        clock.advance(1.0)  # the previous ten slid out of the window


def test_per_endpoint_limits(
    make_gateway: Callable[..., SimulatedGateway], clock: ManualClock
) -> None:
    api = Api(make_gateway(pacing=True, penalty_seconds=1.0))
    assert api.post("/tickle").status_code == 200
    assert api.post("/tickle").status_code == 429  # tickle: 1 per second
    clock.advance(1.0)
    assert api.get("/sso/validate").status_code == 200
    clock.advance(30)
    assert api.get("/sso/validate").status_code == 429  # 1 per minute


def test_pacing_off_lets_everything_through(
    make_gateway: Callable[..., SimulatedGateway],
) -> None:
    api = Api(make_gateway(pacing=False))
    assert {api.post("/tickle").status_code for _ in range(15)} == {200}


def test_sixth_concurrent_history_request_is_refused_without_penalty(
    make_gateway: Callable[..., SimulatedGateway], clock: ManualClock
) -> None:
    gateway = make_gateway(pacing=True)
    Api(gateway).prime()
    clock.advance(1)
    # Each request stalls a real second inside the gateway, holding its history slot:
    # six started together overlap, whatever order they arrive in.
    gateway.delay_next(6, 1.0, path=HISTORY)
    start = threading.Barrier(6)
    answers: list[tuple[int, object]] = []

    def fetch() -> None:
        api = Api(gateway)
        start.wait()
        reply = api.get(HISTORY, params={"conid": "265598", "period": "1d", "bar": "1h"})
        answers.append((reply.status_code, reply.json()))

    threads = [threading.Thread(target=fetch) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(status for status, _ in answers) == [200] * 5 + [429]
    assert (429, {"error": BUSY, "statusCode": 429}) in answers
    clock.advance(1)  # no penalty box: the next history request is served
    assert Api(gateway).get(HISTORY, params={"conid": "265598", "bar": "1h"}).status_code == 200


def test_accounts_then_subaccounts_a_moment_later_are_both_served(
    make_gateway: Callable[..., SimulatedGateway], clock: ManualClock
) -> None:
    """IBKR lists the two account lists as separate 1-per-5 s rows (IBKR-FACTS §3)."""
    api = Api(make_gateway(pacing=True, penalty_seconds=600.0))
    assert api.get("/portfolio/accounts").status_code == 200
    clock.advance(0.3)
    assert api.get("/portfolio/subaccounts").status_code == 200
    clock.advance(0.3)
    assert api.get(f"/portfolio/{ACCOUNT}/ledger").status_code == 200  # no penalty box
    assert api.get("/portfolio/subaccounts").status_code == 429  # its own 1 per 5 s
