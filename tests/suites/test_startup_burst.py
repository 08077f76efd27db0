"""The start-up burst: 16 threads of one client against a gateway in its own process.

The gateway counts requests when they arrive. The first requests of a burst open new TLS
connections and arrive late, while later ones leave on warm connections: a pacer that
counted from the moment it granted a slot let eleven land in one gateway-second (5 of 6
runs earned a 429, then the penalty box). Counting each request until its answer is back
keeps the limit as the gateway counts it. The 429s are counted by the server itself.

Real time (the gateway is another process), pinned to a market hour by a shifted clock so
the test passes at any hour, including inside the nightly reset window.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import multiprocessing.connection
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from ibkr_api import IbkrClient, IbkrError
from ibkr_host.market_time import NEW_YORK, ShiftedClock
from ibkr_session.coordination import MemoryStore

MARKET_HOUR = dt.datetime(2026, 6, 15, 10, 30, tzinfo=NEW_YORK)
THREADS = 16
RUNS = 10
SECONDS_PER_RUN = 1.2
ACCOUNT = "U1234567"

CALLS: list[Callable[[IbkrClient], object]] = [
    lambda c: c.search_contract("AAPL"),
    lambda c: c.get_contract_details(265598),
    lambda c: c.get_summary(ACCOUNT),
    lambda c: c.get_ledger(ACCOUNT),
    lambda c: c.get_market_snapshot(265598, ["31"]),
    lambda c: c.get_historical_data(265598, "1d", "5min"),
    lambda c: c.auth_status(),
    lambda c: c.get_positions(ACCOUNT),
]


def _serve(conn: multiprocessing.connection.Connection) -> None:
    """The gateway's process: a simulator with IBKR's limits; answers the parent's asks."""
    from ibkr_sim import SimulatedGateway

    sim = SimulatedGateway(ShiftedClock(MARKET_HOUR), penalty_seconds=600.0)
    conn.send(sim.start())
    while True:
        ask = conn.recv()
        if ask == "stop":
            sim.stop()
            conn.send("stopped")
            return
        conn.send([f"{r.method} {r.path}" for r in sim.requests if r.status == 429])


@pytest.fixture
def gateway() -> Iterator[tuple[str, Callable[[], list[str]]]]:
    parent, child = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_serve, args=(child,))
    process.start()
    try:
        assert parent.poll(60), "the simulator process did not start"
        url = parent.recv()

        def rate_limited() -> list[str]:
            parent.send("count")
            return list(parent.recv())

        yield url, rate_limited
        parent.send("stop")
        parent.poll(10)
    finally:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()


def _burst(url: str, shared: MemoryStore, clock: ShiftedClock) -> list[BaseException]:
    """16 threads share one fresh client (cold connections) and call for a while.

    Runs follow each other at once: the clients share their pacing through one store, as
    processes on one machine do through the default file store.
    """
    failures: list[BaseException] = []
    with IbkrClient(url, clock=clock, coordination=shared) as client:
        end = time.monotonic() + SECONDS_PER_RUN

        def worker(index: int) -> None:
            calls = 0
            while time.monotonic() < end:
                try:
                    CALLS[(index + calls) % len(CALLS)](client)
                except IbkrError as exc:
                    failures.append(exc)
                calls += 1

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    return failures


@pytest.mark.parametrize(
    "runs", [pytest.param(2, id="2-runs"), pytest.param(RUNS, id="10-runs", marks=pytest.mark.slow)]
)
def test_sixteen_threads_starting_cold_never_earn_a_429(
    gateway: tuple[str, Callable[[], list[str]]], runs: int
) -> None:
    url, rate_limited = gateway
    shared, clock = MemoryStore(), ShiftedClock(MARKET_HOUR)
    for run in range(runs):
        failures = _burst(url, shared, clock)
        assert rate_limited() == [], f"run {run}: the gateway answered 429"
        assert failures == [], f"run {run}: {failures[:3]}"
