"""Many workers, one gateway: real `ibkr run` processes sharing the default file backend.

The simulated gateway runs in this process (its request log is the witness); the workers
are separate `ibkr run` processes, as a user starts them, coordinating through one SQLite
file. What a user would notice: no 429 (so no penalty box), every tick done, one
recovery per disturbance for the whole fleet, no order sent twice.

Real time (separate processes), pinned to a market hour by --market-time / a shifted
clock, so the suite passes at any hour.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ibkr_host.market_time import NEW_YORK, ShiftedClock
from ibkr_sim import SimulatedGateway

MARKET = dt.datetime(2026, 6, 15, 10, 30, tzinfo=NEW_YORK)
REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "examples" / "mean_reversion.py"
TICKS = 3


@pytest.fixture
def gateway() -> Iterator[SimulatedGateway]:
    sim = SimulatedGateway(ShiftedClock(MARKET), penalty_seconds=600.0)
    sim.start()
    yield sim
    sim.stop()


def _environment(tmp_path: Path) -> dict[str, str]:
    """The default coordination (the file in the user's state directory), kept in tmp."""
    env = {key: value for key, value in os.environ.items() if key != "IBKR_COORDINATION"}
    return {**env, "XDG_STATE_HOME": str(tmp_path / "state")}


def _ibkr(sim: SimulatedGateway, tmp_path: Path, *words: str) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - our own command, no shell
        [
            sys.executable, "-m", "ibkr_host", *words,
            "--gateway", sim.url, "--market-time", MARKET.isoformat(),
        ],
        env=_environment(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip


def _start_workers(
    sim: SimulatedGateway,
    tmp_path: Path,
    count: int,
    *,
    ticks: int = TICKS,
    recipe: Path = RECIPE,
    interval: float = 2.0,
) -> list[subprocess.Popen[str]]:
    return [
        _ibkr(
            sim, tmp_path, "run", str(recipe), "--interval", str(interval),
            "--ticks", str(ticks), "--state-file", str(tmp_path / f"worker-{index}.json"),
        )
        for index in range(count)
    ]  # fmt: skip


def _finish(workers: list[subprocess.Popen[str]], timeout: float = 60) -> list[tuple[int, str]]:
    """Exit code and output of each worker (read while it runs: a full pipe would block it)."""
    outputs = []
    for worker in workers:
        try:
            outputs.append(worker.communicate(timeout=timeout)[0])
        except subprocess.TimeoutExpired:
            worker.kill()
            outputs.append("TIMEOUT\n" + worker.communicate()[0])
    return [(worker.returncode, output) for worker, output in zip(workers, outputs, strict=True)]


def _paths(sim: SimulatedGateway, path: str) -> int:
    return sum(1 for request in sim.requests if request.path == path)


def test_four_workers_share_one_gateway_without_a_429(
    gateway: SimulatedGateway, tmp_path: Path
) -> None:
    results = _finish(_start_workers(gateway, tmp_path, 4))

    for code, output in results:
        assert code == 0, output
        assert f"{TICKS} ticks: {TICKS} ok, 0 failed" in output, output
    assert [r for r in gateway.requests if r.status == 429] == []
    assert _paths(gateway, "/iserver/auth/ssodh/init") == 0  # nothing to recover
    assert _paths(gateway, "/iserver/accounts") == 1  # primed once for the fleet
    assert all(count <= 1 for count in gateway.executions_by_coid().values())


def test_a_lost_brokerage_session_is_recovered_once_for_the_whole_fleet(
    gateway: SimulatedGateway, tmp_path: Path
) -> None:
    workers = _start_workers(gateway, tmp_path, 4, ticks=6)
    deadline = time.monotonic() + 120
    while _paths(gateway, "/iserver/marketdata/history") < 4 and time.monotonic() < deadline:
        time.sleep(0.2)  # wait for the fleet to be ticking (real processes, real time)
    gateway.expire_brokerage()
    results = _finish(workers)

    assert [code for code, _ in results] == [0, 0, 0, 0], results
    assert all(", 0 failed" in output for _, output in results), results
    assert [r for r in gateway.requests if r.status == 429] == []
    assert _paths(gateway, "/iserver/auth/ssodh/init") == 1


def test_status_then_run_back_to_back_share_the_account_list_budget(
    gateway: SimulatedGateway, tmp_path: Path
) -> None:
    """A user checks the gateway, then starts the bot at once: both read the account list,
    whose budget is 1 per 5 s. Alone, each process would send at once and earn a 429."""
    status = _ibkr(gateway, tmp_path, "status")
    assert status.communicate(timeout=120)[1] is None
    assert status.returncode == 0
    worker = _start_workers(gateway, tmp_path, 1, ticks=1)
    [(code, output)] = _finish(worker)

    assert code == 0, output
    assert [r for r in gateway.requests if r.status == 429] == []
    assert _paths(gateway, "/portfolio/accounts") >= 2


@pytest.mark.slow
def test_eight_order_ladders_share_one_gateway_and_trade_each_order_once(
    gateway: SimulatedGateway, tmp_path: Path
) -> None:
    """Eight ladders re-quote every tick: each cancels and places five orders and reads the
    live orders, whose budget (1 per 5 s) the whole fleet shares; a tick may wait for it up
    to one interval."""
    ladder = REPO / "examples" / "order_ladder.py"
    results = _finish(
        _start_workers(gateway, tmp_path, 8, ticks=2, recipe=ladder, interval=50.0),
        timeout=400,
    )

    for code, output in results:
        assert code == 0, output
        assert "2 ticks: 2 ok, 0 failed" in output, output
    assert [r for r in gateway.requests if r.status == 429] == []
    assert all(count <= 1 for count in gateway.executions_by_coid().values())
