"""How much of IBKR's pacing allowance the limiter uses, and how many 429s it meets.

Client and simulated gateway share a ``LockstepClock`` (virtual time that moves only when
every worker waits), with IBKR's limits enforced by the gateway, so the figures are about
the limiter and not about this machine's CPU.

- mixed: five workers call as fast as they can, each its own kind (snapshots, the live
  orders, positions, history, tickles), for 10 virtual minutes: achieved ÷ permitted for
  the whole gateway (the binding 10/s) and for the limits that bind within the mix;
- alone: one worker per limit hammers its endpoint: achieved ÷ permitted for that limit;
- history fan-out: 50 history requests from 8 threads (the 6 well-known conids, cycled),
  each held 0.5 real seconds by the gateway before it builds the answer: average requests
  in flight from the gateway's view, by Little's law (time spent at the gateway ÷ elapsed
  time), against the 5 permitted. Time at the gateway = the hold + the round trip of an
  unheld history request measured just before (an upper bound of the building time);
  the hold alone gives a lower bound, also reported.

"Permitted" is the rate the client allows itself: IBKR's limit times the pacer's safety
(0.9), see benchmarks/README.md.

    python benchmarks/pacing.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench import quiet_logs, report
from lockstep import LockstepClock

from ibkr_api.client import IbkrClient
from ibkr_session.endpoints import PACING_ROWS, PacingRow, endpoint_for
from ibkr_sim.gateway import SimRequest, SimulatedGateway

START = _dt.datetime(2026, 1, 5, 15, 0, tzinfo=_dt.UTC)  # Monday 10:00 New York
ACCOUNT = "U1234567"
AAPL = 265598
WELL_KNOWN = (265598, 8314, 272093, 756733, 320227571, 12087792)
SAFETY = 0.9
TARGET_RATIO = 0.95
TARGET_IN_FLIGHT = 4.5
FAN_OUT = 50
FAN_OUT_THREADS = 8
HELD = 0.5
UNHELD_SAMPLES = 6
WINDOW_CLEARED = 2.0
"""Virtual seconds let pass before the fan-out, so earlier requests do not count."""

Call = Callable[[IbkrClient], object]
KINDS: dict[str, Call] = {
    "snapshot": lambda c: c.get_market_snapshot([AAPL], ["31", "84", "86"]),
    "orders": lambda c: c.get_orders(),
    "positions": lambda c: c.get_positions(ACCOUNT),
    "history": lambda c: c.get_historical_data(AAPL, "1d", "5min"),
    "tickle": lambda c: c.tickle(),
}
ALONE: dict[str, tuple[Call, float]] = {
    "gateway": (KINDS["positions"], 2.0),  # positions are bound by the gateway's 10/s only
    "snapshot": (KINDS["snapshot"], 2.0),
    "orders": (KINDS["orders"], 10.0),
    "tickle": (KINDS["tickle"], 2.0),
    "portfolio-accounts": (lambda c: c.get_accounts(), 10.0),
}
"""The limit a lone worker saturates, what it calls, and for how many virtual minutes."""


def permitted(limit: PacingRow) -> float:
    """Requests per second the pacer allows itself under ``limit``."""
    assert limit.rate is not None
    return limit.rate / limit.per * SAFETY


LIMITS = PACING_ROWS


def counts_against(limit: PacingRow, method: str, path: str) -> bool:
    """Whether ``method path`` counts against ``limit`` (the endpoint table says)."""
    return limit in endpoint_for(method, path.split("?", 1)[0]).pacing_rows


@dataclass
class Phase:
    """Requests the gateway saw during one phase, and how long the phase lasted."""

    requests: list[SimRequest]
    seconds: float

    def rate(self, limit: PacingRow) -> float:
        hits = sum(1 for r in self.requests if counts_against(limit, r.method, r.path))
        return hits / self.seconds

    def rate_limited(self) -> int:
        return sum(1 for r in self.requests if r.status == 429)


@dataclass
class World:
    """A client and a simulated gateway (IBKR's limits on) on one lockstep clock."""

    clock: LockstepClock
    sim: SimulatedGateway
    client: IbkrClient

    @classmethod
    def open(cls) -> World:
        clock = LockstepClock(START)
        sim = SimulatedGateway(clock)
        sim.start()
        return cls(clock, sim, IbkrClient(sim.url, clock=clock, timeout=30.0))

    def close(self) -> None:
        self.client.close()
        self.sim.stop()


def run_workers(clock: LockstepClock, targets: Sequence[Callable[[], None]]) -> None:
    def registered(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            with clock.worker():
                target()

        return run

    threads = [threading.Thread(target=registered(target)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def saturate(world: World, calls: Sequence[Call], minutes: float) -> Phase:
    """One worker per call, each calling as fast as it can for ``minutes`` virtual minutes."""
    client, clock, sim = world.client, world.clock, world.sim
    before = len(sim.requests)
    begin = clock.monotonic()
    end = begin + minutes * 60

    def loop(call: Call) -> Callable[[], None]:
        def run() -> None:
            while clock.monotonic() < end:
                call(client)

        return run

    run_workers(clock, [loop(call) for call in calls])
    return Phase(sim.requests[before:], clock.monotonic() - begin)


def fan_out(world: World) -> dict[str, float]:
    """50 history requests from 8 threads; in flight measured from the gateway's side."""
    client, clock, sim = world.client, world.clock, world.sim
    unheld = []
    for conid in WELL_KNOWN[:UNHELD_SAMPLES]:  # after one each, no pre-flight
        started = time.perf_counter()
        client.get_historical_data(conid, "1d", "5min")
        unheld.append(time.perf_counter() - started)
    building = statistics.median(unheld)
    clock.advance(WINDOW_CLEARED)  # start with the gateway's 10/s window empty
    sim.delay_next(FAN_OUT, HELD, path="/iserver/marketdata/history")
    pending = [WELL_KNOWN[i % len(WELL_KNOWN)] for i in range(FAN_OUT)]
    lock = threading.Lock()
    before = len(sim.requests)

    def run() -> None:
        while True:
            with lock:
                if not pending:
                    return
                conid = pending.pop()
            client.get_historical_data(conid, "1d", "5min")

    started = time.perf_counter()
    run_workers(clock, [run] * FAN_OUT_THREADS)
    elapsed = time.perf_counter() - started
    served = [r for r in sim.requests[before:] if r.path == "/iserver/marketdata/history"]
    return {
        "requests": len(served),
        "elapsed_s": round(elapsed, 3),
        "unheld_round_trip_s": round(building, 4),
        "in_flight_avg": round(len(served) * (HELD + building) / elapsed, 2),
        "in_flight_lower_bound": round(len(served) * HELD / elapsed, 2),
        "rate_limited": sum(1 for r in served if r.status == 429),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="virtual minutes, mixed")
    options = parser.parse_args()
    quiet_logs()

    world = World.open()
    try:
        world.client.get_accounts()  # the session's own first requests, outside the phases
        world.client.get_orders()
        mixed = saturate(world, list(KINDS.values()), options.minutes)
        alone = {name: saturate(world, [call], minutes) for name, (call, minutes) in ALONE.items()}
        history = fan_out(world)
    finally:
        world.close()

    overall = mixed.rate(LIMITS["gateway"]) / permitted(LIMITS["gateway"])
    in_mix = {
        name: mixed.rate(LIMITS[name]) / permitted(LIMITS[name]) for name in ("orders", "tickle")
    }
    ratios = {
        name: phase.rate(LIMITS[name]) / permitted(LIMITS[name]) for name, phase in alone.items()
    }
    rate_limited = mixed.rate_limited() + sum(p.rate_limited() for p in alone.values())
    figures = {
        "clock": "LockstepClock (virtual), shared by client and simulator",
        "safety": SAFETY,
        "mixed": {
            "virtual_seconds": round(mixed.seconds, 1),
            "requests": len(mixed.requests),
            "overall_ratio": round(overall, 3),
            "binding_limit_ratios": {k: round(v, 3) for k, v in in_mix.items()},
            "rate_limited": mixed.rate_limited(),
        },
        "alone_ratios": {k: round(v, 3) for k, v in ratios.items()},
        "rate_limited_total": rate_limited,
        "history_fan_out": history,
        "targets": {"ratio": TARGET_RATIO, "in_flight": TARGET_IN_FLIGHT, "rate_limited": 0},
    }
    rows = [("mixed: whole gateway", f"{overall:.3f}", f">= {TARGET_RATIO}")]
    rows += [(f"mixed: {k}", f"{v:.3f}", f">= {TARGET_RATIO}") for k, v in in_mix.items()]
    rows += [(f"alone: {k}", f"{v:.3f}", f">= {TARGET_RATIO}") for k, v in ratios.items()]
    rows += [
        ("429 answers (mixed + alone)", str(rate_limited), "0"),
        (
            "history in flight (avg of 5)",
            f"{history['in_flight_avg']:.2f}",
            f">= {TARGET_IN_FLIGHT}",
        ),
        ("history 429 answers", f"{history['rate_limited']:g}", "0"),
    ]
    report("pacing", figures, rows)


if __name__ == "__main__":
    main()
