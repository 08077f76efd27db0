"""The reference's three recipes, unchanged, run 30+ virtual minutes against the simulator."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import pytest

from ibkr_api.client import IbkrClient
from ibkr_host.host import WorkerContext
from ibkr_host.runner import load_worker, run_worker
from ibkr_session.clock import ManualClock
from ibkr_sim.gateway import SimulatedGateway
from tests.logcapture import capture_logs

TICKS = 30


def run_recipe(name: str, client: IbkrClient, examples: Path) -> WorkerContext:
    ctx = WorkerContext(name, client=client)
    with capture_logs() as events:
        result = run_worker(load_worker(examples / f"{name}.py"), ctx, ticks=TICKS)
    assert (result.ticks, result.failed, result.paused) == (TICKS, 0, 0), events
    assert result.setup_attempts == 1
    assert not [e for e in events if e["log_level"] in ("error", "critical")]
    return ctx


def assert_well_behaved(sim: SimulatedGateway) -> None:
    assert [r for r in sim.requests if r.status == 429] == []
    assert [coid for coid, fills in sim.executions_by_coid().items() if fills > 1] == []


def test_nlv_summary_reports_the_total_every_tick(
    client: IbkrClient, sim: SimulatedGateway, examples: Path
) -> None:
    ctx = run_recipe("nlv_summary", client, examples)
    series = ctx.monitor.series("ibkr_total_nlv")
    assert len(series) == TICKS
    assert series[0].value == pytest.approx(1_000_000.0)
    assert (series[-1].time - series[0].time).total_seconds() == 60 * (TICKS - 1)
    assert_well_behaved(sim)


def test_mean_reversion_caches_its_setup_and_trades_on_a_dip(
    client: IbkrClient, sim: SimulatedGateway, clock: ManualClock, examples: Path
) -> None:
    clock.advance(5 * 3600)  # 14:30: enough 15-minute bars today for the SMA20
    sim.set_price(265598, sim.market.price(265598) * 0.95)
    ctx = run_recipe("mean_reversion", client, examples)
    assert ctx.state.get("aapl_conid") == 265598
    assert ctx.state.get("account") == "U1234567"
    positions = client.get_positions("U1234567")
    assert [(p["conid"], p["position"]) for p in positions if p["position"]] == [(265598, 10)]
    assert_well_behaved(sim)


def test_order_ladder_keeps_exactly_five_working_rungs(
    client: IbkrClient, sim: SimulatedGateway, examples: Path
) -> None:
    run_recipe("order_ladder", client, examples)
    orders = client.get_orders()["orders"]
    working = [o for o in orders if o["status"] in ("PreSubmitted", "Submitted")]
    assert len(working) == 5
    assert_well_behaved(sim)


@pytest.mark.parametrize("name", ["nlv_summary", "mean_reversion"])
def test_recipes_ride_through_the_nightly_reset(
    name: str, client: IbkrClient, sim: SimulatedGateway, clock: ManualClock, examples: Path
) -> None:
    clock.advance(_dt.timedelta(hours=15, minutes=10).total_seconds())  # Tue 00:40 EDT
    ctx = WorkerContext(name, client=client)
    with capture_logs() as events:
        result = run_worker(load_worker(examples / f"{name}.py"), ctx, ticks=50)
    assert (result.ticks, result.failed) == (50, 0)
    paused = [e for e in events if e["event"] == "worker.paused" and e["log_level"] == "warning"]
    if name == "mean_reversion":  # it needs /iserver: it waits the window out, once
        assert [e["reason"] for e in paused] == ["reset window until 01:10 EDT, resuming then"]
        assert result.paused == 15
        assert any(e["event"] == "worker.resumed" for e in events)
    else:  # /portfolio keeps answering through the reset
        assert (paused, result.paused) == ([], 0)
    assert_well_behaved(sim)
