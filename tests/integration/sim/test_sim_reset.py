"""The nightly reset at 01:00 region-local time, travelled through on a ManualClock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from ibkr_session.clock import ManualClock
from ibkr_sim import SimulatedGateway
from tests.integration.sim.conftest import Api

QUOTE = {"conids": "265598", "fields": "31"}


def _utc(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("region", "before", "reset_start"),
    [
        ("america", _utc(2026, 1, 6, 5, 58), _utc(2026, 1, 6, 6, 0)),  # EST: UTC-5
        ("america", _utc(2026, 7, 7, 4, 58), _utc(2026, 7, 7, 5, 0)),  # EDT: UTC-4
        ("europe", _utc(2026, 1, 6, 23, 58), _utc(2026, 1, 7, 0, 0)),  # CET: UTC+1
        ("asia", _utc(2026, 1, 6, 16, 58), _utc(2026, 1, 6, 17, 0)),  # HKT: UTC+8
    ],
)
def test_iserver_is_503_during_the_window_and_portfolio_keeps_working(
    make_gateway: Callable[..., SimulatedGateway],
    clock: ManualClock,
    region: str,
    before: dt.datetime,
    reset_start: dt.datetime,
) -> None:
    clock.set(before)
    api = Api(make_gateway(region=region))
    api.prime()
    clock.set(reset_start + dt.timedelta(seconds=30))
    for method, path in [("GET", "/iserver/accounts"), ("POST", "/iserver/auth/status")]:
        answer = api.request(method, path)
        assert (answer.status_code, answer.content) == (503, b""), path
    assert api.get("/sso/validate").status_code == 200
    assert api.post("/tickle").json() == {"error": "no session"}
    clock.set(reset_start + dt.timedelta(minutes=5, seconds=1))
    assert api.get("/iserver/accounts").status_code == 401


def test_an_hour_off_is_no_reset(
    make_gateway: Callable[..., SimulatedGateway], clock: ManualClock
) -> None:
    clock.set(_utc(2026, 7, 7, 5, 58))  # 06:00 UTC is 02:00 New York in summer
    api = Api(make_gateway())
    clock.set(_utc(2026, 7, 7, 6, 1))
    assert api.get("/iserver/accounts").status_code == 200


def test_after_the_reset_the_session_subscriptions_and_priming_are_gone(
    make_gateway: Callable[..., SimulatedGateway], clock: ManualClock
) -> None:
    clock.set(_utc(2026, 1, 6, 5, 50))
    api = Api(make_gateway(reset_minutes=10.0))
    api.prime()
    assert api.get("/iserver/marketdata/snapshot", params=QUOTE).json()[0].keys() == {
        "conid",
        "conidEx",
    }
    clock.set(_utc(2026, 1, 6, 6, 9, 59))
    assert api.get("/iserver/auth/status").status_code == 503
    clock.set(_utc(2026, 1, 6, 6, 10))
    status = api.post("/iserver/auth/status").json()
    assert (status["authenticated"], status["connected"]) == (False, True)
    assert api.post("/iserver/auth/ssodh/init", json={"publish": True}).json()["authenticated"]
    assert api.get("/iserver/marketdata/snapshot", params=QUOTE).status_code == 400
    api.prime()
    preflight = api.get("/iserver/marketdata/snapshot", params=QUOTE).json()
    assert preflight == [{"conid": 265598, "conidEx": "265598"}]


def test_a_reset_slept_through_still_ends_the_session(
    make_gateway: Callable[..., SimulatedGateway], clock: ManualClock
) -> None:
    clock.set(_utc(2026, 1, 6, 4, 0))
    api = Api(make_gateway(idle_timeout=1e9))
    clock.set(_utc(2026, 1, 6, 9, 0))  # the window opened and closed without a request
    assert api.post("/iserver/auth/status").json()["authenticated"] is False
