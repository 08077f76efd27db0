"""Real clients in real processes, one simulated gateway, one coordination: no 429.

The simulator runs here on the real clock with IBKR's limits and penalty box; each worker
process is an ``IbkrClient`` whose manager paces through the shared store (file or
Redis). What the gateway saw decides: not one 429, and most of the 10/s x 0.9 used.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ibkr_session.clock import SystemClock
from ibkr_session.schedule import ResetSchedule
from ibkr_sim.gateway import SimulatedGateway
from tests.integration.coordination.conftest import Backend, result_of, start_together

Spawn = Callable[[dict[str, Any]], Any]
DURATION = 4.0


def _quiet_region() -> str:
    """A region whose nightly reset is nowhere near now: the real clock then never meets a
    window, whatever the hour (the three regions' windows are hours apart)."""
    now = dt.datetime.now(dt.UTC)
    for region in ("america", "europe", "asia"):
        schedule = ResetSchedule(region)
        start, end = schedule.next_window(now - dt.timedelta(minutes=10))
        if not start - dt.timedelta(minutes=10) <= now <= end + dt.timedelta(minutes=10):
            return region
    raise AssertionError("every region's reset window is near: impossible")


REGION = _quiet_region()


@pytest.fixture
def real_sim() -> Iterator[SimulatedGateway]:
    with SimulatedGateway(SystemClock(), region=REGION) as gateway:
        yield gateway


def test_four_client_processes_share_the_limits(
    shared_backend: Backend, spawn: Spawn, real_sim: SimulatedGateway
) -> None:
    args = {
        "mode": "client",
        "url": shared_backend.url,
        "namespace": "unused",
        "gateway": real_sim.url,
        "duration": DURATION,
        "region": REGION,
    }
    workers = [spawn(args) for _ in range(4)]
    start_together(workers, delay=0.5)
    started = time.time() + 0.5
    outcomes = [result_of(worker, timeout=120)["outcomes"] for worker in workers]
    seen = real_sim.requests
    limited = [f"{r.method} {r.path}" for r in seen if r.status == 429]
    assert limited == [], limited
    assert all(set(outcome) <= {"ok"} for outcome in outcomes), outcomes
    served = [r for r in seen if started + 1.0 <= r.time.timestamp() < started + DURATION]
    assert len(served) >= 0.7 * 9 * (DURATION - 1.0), len(served)  # of 9/s permitted


def test_redis_killed_and_restarted_under_two_client_processes(
    spawn: Spawn, real_sim: SimulatedGateway, tmp_path: Any
) -> None:
    """No crash, no 429, nothing but typed outcomes: the workers go on alone at their
    share while Redis is gone (and restarted empty), then together again."""
    from tests.coordination_fixtures import RedisServer

    server = RedisServer(tmp_path)
    server.start()
    try:
        args = {
            "mode": "client",
            "url": server.url,
            "namespace": "unused",
            "gateway": real_sim.url,
            "duration": 6.0,
            "region": REGION,
        }
        workers = [spawn(args) for _ in range(2)]
        start_together(workers, delay=0.5)
        time.sleep(0.5 + 1.5)
        server.kill()
        down_at = time.time()
        time.sleep(2.0)
        server.start()
        up_at = time.time()
        outcomes = [result_of(worker, timeout=120)["outcomes"] for worker in workers]
    finally:
        server.stop()
    assert all(set(outcome) <= {"ok", "RateLimitedError"} for outcome in outcomes), outcomes
    during = [r for r in real_sim.requests if down_at <= r.time.timestamp() < up_at]
    after = [r for r in real_sim.requests if r.time.timestamp() >= up_at + 1.0]
    limited = [
        f"{r.method} {r.path} {r.time.timestamp() - down_at:.3f}"
        for r in real_sim.requests
        if r.status == 429
    ]
    assert limited == [], limited  # alone, each kept its share; back, they merged
    assert during, "the workers stopped while Redis was gone"
    assert after, "the workers stopped after Redis came back"
