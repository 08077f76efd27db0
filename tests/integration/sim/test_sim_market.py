"""Market data over HTTP: the snapshot pre-flight, string values, history bars."""

from __future__ import annotations

from collections.abc import Callable

from ibkr_session.clock import ManualClock
from ibkr_sim import SimulatedGateway
from tests.integration.sim.conftest import Api

SNAPSHOT = "/iserver/marketdata/snapshot"
QUOTES = {"conids": "265598,8314", "fields": "31,84,86,88,85,7059,6509"}


def test_first_snapshot_is_a_preflight_then_fields_arrive_as_strings(api: Api) -> None:
    api.prime()
    first = api.get(SNAPSHOT, params=QUOTES).json()
    assert first == [
        {"conid": 265598, "conidEx": "265598"},
        {"conid": 8314, "conidEx": "8314"},
    ]
    second = api.get(SNAPSHOT, params=QUOTES).json()
    assert [row["conid"] for row in second] == [265598, 8314]
    for row in second:
        assert {"31", "84", "86", "88", "85", "7059", "6509", "_updated"} <= row.keys()
        assert all(isinstance(row[tag], str) for tag in ("31", "84", "86", "88"))
        assert float(row["86"]) > float(row["84"])  # ask above bid


def test_the_preflight_repeats_after_a_new_brokerage_session(
    gateway: SimulatedGateway, api: Api
) -> None:
    api.prime()
    api.get(SNAPSHOT, params=QUOTES)
    gateway.expire_brokerage()
    api.post("/iserver/auth/ssodh/init", json={"publish": True, "compete": False})
    api.prime()
    assert all(
        row.keys() == {"conid", "conidEx"} for row in api.get(SNAPSHOT, params=QUOTES).json()
    )


def test_set_price_moves_the_quote(gateway: SimulatedGateway, api: Api) -> None:
    api.prime()
    api.get(SNAPSHOT, params=QUOTES)
    gateway.set_price(265598, 200.0)
    row = api.get(SNAPSHOT, params={"conids": "265598", "fields": "31"}).json()[0]
    assert row["31"] == "200.00"


def test_history_bars_are_ordered_and_move_with_the_clock(
    make_gateway: Callable[..., SimulatedGateway], clock: ManualClock
) -> None:
    api = Api(make_gateway(idle_timeout=1e9))  # travel without the session idling out
    clock.advance(3600)  # 11:00 New York: the last hour is all today's session
    query = {"conid": "265598", "period": "1h", "bar": "5min"}
    before = api.get("/iserver/marketdata/history", params=query).json()
    times = [bar["t"] for bar in before["data"]]
    assert times == sorted(times)
    assert len(times) == 12
    assert all(times[i + 1] - times[i] == 300_000 for i in range(len(times) - 1))
    clock.advance(600)
    after = api.get("/iserver/marketdata/history", params=query).json()
    assert after["data"][-1]["t"] == times[-1] + 600_000
