"""Scripted faults: refused connections, failures, stalls and answers lost on the way."""

from __future__ import annotations

import time

import pytest
import requests

from ibkr_sim import SimulatedGateway
from tests.integration.sim.conftest import Api

QUOTE = {"conids": "265598", "fields": "31"}


def test_down_refuses_connections_fast_and_up_serves_again_on_the_same_url(
    gateway: SimulatedGateway, api: Api
) -> None:
    url = gateway.url
    assert api.post("/tickle").status_code == 200  # a pooled keep-alive connection
    gateway.down()
    started = time.monotonic()
    with pytest.raises(requests.ConnectionError, match="refused"):
        api.post("/tickle")
    assert time.monotonic() - started < 1.0
    gateway.up()
    assert gateway.url == url
    assert api.post("/tickle").status_code == 200


def test_fail_next_answers_the_scripted_status_then_recovers(
    gateway: SimulatedGateway, api: Api
) -> None:
    gateway.fail_next(2, 503, path="/iserver/accounts")
    gateway.fail_next(1, 500, {"error": "Internal Server Error"}, method="post", path="/tickle")
    assert api.get("/sso/validate").status_code == 200  # not matched
    assert api.post("/tickle").json() == {"error": "Internal Server Error"}
    first, second = api.get("/iserver/accounts"), api.get("/iserver/accounts")
    assert [(r.status_code, r.content) for r in (first, second)] == [(503, b""), (503, b"")]
    assert api.get("/iserver/accounts").status_code == 200
    assert [r.status for r in gateway.requests] == [200, 500, 503, 503, 200]


def test_fail_next_paths_take_patterns(gateway: SimulatedGateway, api: Api) -> None:
    gateway.fail_next(1, 401, path="/iserver/contract/*/info")
    assert api.get("/iserver/contract/8314/info").status_code == 401
    assert api.get("/iserver/contract/8314/info").status_code == 200


def test_a_stalled_answer_times_the_client_out_without_blocking_others(
    gateway: SimulatedGateway, api: Api
) -> None:
    gateway.delay_next(1, 0.5, path="/iserver/accounts")
    with pytest.raises(requests.ReadTimeout):
        api.get("/iserver/accounts", timeout=0.1)
    started = time.monotonic()
    assert api.post("/tickle").status_code == 200  # served while the other one stalls
    assert time.monotonic() - started < 0.3


def test_drop_after_accept_processes_then_closes_without_answering(
    gateway: SimulatedGateway, api: Api
) -> None:
    gateway.drop_after_accept(path="/iserver/accounts")
    with pytest.raises(requests.ConnectionError):
        api.get("/iserver/accounts")
    assert api.get("/iserver/marketdata/snapshot", params=QUOTE).status_code == 200
    dropped = [r for r in gateway.requests if r.dropped]
    assert [(r.path, r.status) for r in dropped] == [("/iserver/accounts", 200)]


@pytest.mark.parametrize(
    ("arm", "message"),
    [
        (lambda g: g.fail_next(0, 500), "positive number"),
        (lambda g: g.delay_next(1, -1.0), "negative"),
        (lambda g: g.drop_after_accept(-2), "positive number"),
    ],
)
def test_nonsense_faults_are_refused(gateway: SimulatedGateway, arm: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        arm(gateway)  # type: ignore[operator]
