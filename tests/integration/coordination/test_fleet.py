"""Real clients in real processes, one simulated gateway, one coordination: no 429.

The simulator runs here on the real clock with IBKR's limits and penalty box; each worker
process is an ``IbkrClient`` whose manager paces through the shared store (file or
Redis). What the gateway saw decides: not one 429, and most of the 10/s x 0.9 used.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ibkr_session.clock import SystemClock
from ibkr_sim.gateway import SimulatedGateway
from tests.integration.coordination.conftest import Backend, result_of, start_together

Spawn = Callable[[dict[str, Any]], Any]
DURATION = 4.0


@pytest.fixture
def real_sim() -> Iterator[SimulatedGateway]:
    with SimulatedGateway(SystemClock()) as gateway:
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
