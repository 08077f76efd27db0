"""examples/bracket_pnl.py, hosted like any worker, against the simulator on virtual time."""

from __future__ import annotations

from pathlib import Path

from ibkr_api import IbkrClient
from ibkr_host.host import WorkerContext
from ibkr_host.runner import load_worker, run_worker
from ibkr_session import ManualClock
from ibkr_sim import SimulatedGateway
from tests.logcapture import capture_logs

RECIPE = Path(__file__).resolve().parents[3] / "examples" / "bracket_pnl.py"
AAPL = 265598


def test_the_bracket_recipe_trades_one_bracket_at_a_time_and_reports_pnl(
    ibkr: IbkrClient, sim: SimulatedGateway, clock: ManualClock
) -> None:
    ctx = WorkerContext("bracket_pnl", client=ibkr)
    worker = load_worker(RECIPE)
    with capture_logs() as events:
        first = run_worker(worker, ctx, ticks=3)
        entry = ctx.state.get("bracket")
        sim.set_price(AAPL, sim.market.price(AAPL) * 1.03)  # the take-profit fills
        second = run_worker(worker, ctx, ticks=3)

    assert (first.failed, second.failed) == (0, 0), events
    assert entry is not None
    orders = {o.get("order_ref"): o for o in ibkr.get_orders()["orders"]}
    assert orders[entry]["status"] == "Filled"
    assert orders[f"{entry}-tp"]["status"] == "Filled"
    assert orders[f"{entry}-sl"]["status"] == "Cancelled"
    assert [coid for coid, fills in sim.executions_by_coid().items() if fills > 1] == []
    assert [r for r in sim.requests if r.status == 429] == []
    assert ctx.monitor.series("ibkr_unrealized_pnl")
