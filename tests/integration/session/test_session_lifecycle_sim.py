"""The manager's whole life against the simulated gateway, on one virtual clock."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest

from ibkr_session import (
    CompetingSessionError,
    GatewayUnreachableError,
    ManualClock,
    NotAuthenticatedError,
    ResetWindowError,
    SessionManager,
    SessionState,
)
from ibkr_sim import SimulatedGateway

S = SessionState
Connect = Callable[..., SessionManager]
ACCOUNT = "U1234567"


def snapshot(manager: SessionManager) -> object:
    """A call that needs a primed brokerage session (the simulator refuses it otherwise)."""
    return manager.request(
        "GET", "/iserver/marketdata/snapshot", params={"conids": "265598", "fields": "31"}
    )


def paths_since(sim: SimulatedGateway, start: int) -> list[str]:
    return [f"{request.method} {request.path}" for request in sim.requests[start:]]


def test_expired_brokerage_session_is_recovered_before_the_next_call(
    connect: Connect, sim: SimulatedGateway
) -> None:
    manager = connect()
    assert manager.request("GET", "/iserver/accounts")["accounts"]
    sim.expire_brokerage()
    mark = len(sim.requests)
    manager.refresh()
    assert isinstance(snapshot(manager), list)
    assert paths_since(sim, mark) == [
        "POST /iserver/auth/status",
        "POST /iserver/auth/ssodh/init",
        "GET /iserver/accounts",
        "POST /iserver/account",
        "GET /iserver/marketdata/snapshot",
    ]
    assert manager.brokerage_generation == 2


def test_the_nightly_reset_is_sat_out_locally_and_recovered_after(
    connect: Connect, sim: SimulatedGateway, clock: ManualClock
) -> None:
    new_york = ZoneInfo("America/New_York")
    manager = connect()
    manager.request("GET", "/iserver/accounts")
    clock.set(dt.datetime(2026, 1, 6, 1, 2, tzinfo=new_york))
    mark = len(sim.requests)
    with pytest.raises(ResetWindowError):
        snapshot(manager)
    manager.request("GET", "/sso/validate")  # SSO-level calls still go through
    assert paths_since(sim, mark) == ["GET /sso/validate"]

    clock.set(dt.datetime(2026, 1, 6, 1, 20, tzinfo=new_york))
    assert isinstance(snapshot(manager), list)
    assert manager.state is S.AUTHENTICATED
    assert manager.brokerage_generation == 2


def test_competing_login_is_raised_until_the_other_platform_lets_go(
    connect: Connect, sim: SimulatedGateway
) -> None:
    manager = connect()
    manager.request("GET", "/iserver/accounts")
    sim.start_competing()
    assert manager.refresh() is S.COMPETING
    with pytest.raises(CompetingSessionError, match="competing"):
        snapshot(manager)
    sim.stop_competing()
    assert isinstance(snapshot(manager), list)
    assert manager.state is S.AUTHENTICATED


def test_logged_out_gateway_asks_for_a_human_login(connect: Connect, sim: SimulatedGateway) -> None:
    manager = connect()
    sim.logout()
    with pytest.raises(NotAuthenticatedError, match=f"log in at {sim.url}"):
        manager.request("GET", "/iserver/accounts")
    assert manager.state is S.UNAUTHENTICATED


def test_gateway_down_then_up_recovers_on_the_next_user_call(
    connect: Connect, sim: SimulatedGateway
) -> None:
    manager = connect()
    manager.request("GET", "/iserver/accounts")
    sim.down()
    manager.keepalive()
    states = [manager.state]
    sim.up()
    assert isinstance(snapshot(manager), list)  # at once: the user's call ignores the backoff
    states.append(manager.state)
    assert states == [S.DISCONNECTED, S.AUTHENTICATED]


def test_a_connection_dropped_after_the_order_was_taken_may_have_been_sent(
    connect: Connect, sim: SimulatedGateway
) -> None:
    manager = connect()
    manager.request("GET", "/iserver/accounts")
    path = f"/iserver/account/{ACCOUNT}/orders"
    sim.drop_after_accept(1, path=path)
    order = {"conid": 265598, "side": "BUY", "quantity": 1, "orderType": "MKT", "tif": "DAY"}
    with pytest.raises(GatewayUnreachableError) as caught:
        manager.request("POST", path, json={"orders": [{**order, "cOID": "drop-1"}]})
    assert caught.value.maybe_sent is True


def test_close_ends_promptly_while_a_tickle_hangs_on_the_gateway(
    connect: Connect, sim: SimulatedGateway
) -> None:
    """A keep-alive stuck on a hanging gateway must not hold a shutdown (SIGTERM, exit)."""
    manager = connect(timeout=30.0)
    sim.delay_next(1, 8.0, path="/tickle")  # real seconds: the gateway hangs
    manager.start()
    time.sleep(0.5)  # the keep-alive's first tickle is now stuck in the gateway
    started = time.monotonic()
    manager.close()
    assert time.monotonic() - started < 4.0
    assert not manager.keeping_alive
