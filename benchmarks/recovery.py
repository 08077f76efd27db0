"""How soon a worker trades again once the gateway is usable again.

A worker calls a guarded method (``get_contract_details``) in a loop and, like the runner,
backs off on the session's typed errors: for ``retry_after`` when the error gives one,
else for ``WORKER_BACKOFF`` seconds. The figure is the wall time from the moment the
gateway is usable again to the worker's first successful call, over ``--trials`` trials
of each disturbance, with the library's default settings:

- reset: virtual time travels into the nightly reset (the simulated gateway's window is
  made to end with the client's, 01:10 New York); the worker sleeps ``retry_after`` on
  the shared ``ManualClock`` and the clock is at the window's end when it wakes;
- down/up: the gateway refuses connections for ``OUTAGE`` real seconds, then ``up()``;
- competing: another platform holds the session for ``COMPETING`` real seconds.

    python benchmarks/recovery.py [--trials 20]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import statistics
import threading
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from bench import percentile, quiet_logs, report

from ibkr_api.client import IbkrClient
from ibkr_host.runner import SESSION_ERRORS
from ibkr_session.clock import ManualClock
from ibkr_sim.gateway import SimulatedGateway

AAPL = 265598
NEW_YORK = ZoneInfo("America/New_York")
START = _dt.datetime(2026, 1, 5, 15, 0, tzinfo=_dt.UTC)
WORKER_BACKOFF = 0.25
OUTAGE = 1.0
COMPETING = 0.5
TARGET_P95 = 1.0

Wait = Callable[[float], object]


def call_until_success(client: IbkrClient, wait: Wait) -> float:
    """The worker: returns ``time.perf_counter()`` at its first successful call."""
    while True:
        try:
            client.get_contract_details(AAPL)
        except SESSION_ERRORS as exc:
            retry_after = getattr(exc, "retry_after", None)
            wait(float(retry_after) if isinstance(retry_after, int | float) else WORKER_BACKOFF)
            continue
        return time.perf_counter()


def reset_trials(trials: int) -> list[float]:
    """Time travel to 01:02 New York each night; measure from 01:10 to the first success."""
    clock = ManualClock(START)
    seconds: list[float] = []
    with (
        SimulatedGateway(clock, reset_minutes=10.0) as sim,
        IbkrClient(sim.url, clock=clock) as client,
    ):
        client.get_contract_details(AAPL)
        for _ in range(trials):
            seconds.append(_one_night(clock, client))
            clock.set(clock.now().astimezone(NEW_YORK).replace(hour=10, minute=0))
    return seconds


def _one_night(clock: ManualClock, client: IbkrClient) -> float:
    night = (clock.now().astimezone(NEW_YORK) + _dt.timedelta(days=1)).replace(hour=1, minute=2)
    clock.set(night)
    usable_at: list[float] = []

    def sleep_to_window_end(step: float) -> None:
        clock.sleep(step)
        usable_at.append(time.perf_counter())  # the window has ended: usable again

    succeeded = call_until_success(client, sleep_to_window_end)
    return succeeded - usable_at[-1]


def real_time_trials(
    trials: int,
    disturb: Callable[[SimulatedGateway], None],
    restore: Callable[[SimulatedGateway], None],
    lasting: float,
) -> list[float]:
    """Disturb, let it last ``lasting`` real seconds with the worker failing, restore, and
    measure from the restore to the worker's first success."""
    seconds: list[float] = []
    with SimulatedGateway() as sim, IbkrClient(sim.url) as client:
        for _ in range(trials):
            client.get_contract_details(AAPL)
            seconds.append(_one_disturbance(sim, client, disturb, restore, lasting))
    return seconds


def _one_disturbance(
    sim: SimulatedGateway,
    client: IbkrClient,
    disturb: Callable[[SimulatedGateway], None],
    restore: Callable[[SimulatedGateway], None],
    lasting: float,
) -> float:
    disturb(sim)
    succeeded: list[float] = []
    asleep = threading.Event()  # never set: the worker's backoff is a plain real wait
    worker = threading.Thread(
        target=lambda: succeeded.append(call_until_success(client, asleep.wait))
    )
    worker.start()
    time.sleep(lasting)  # the disturbance itself lasts real time
    if succeeded:
        raise RuntimeError("the worker succeeded while the gateway was disturbed")
    restore(sim)
    usable = time.perf_counter()
    worker.join()
    return succeeded[0] - usable


def summary(seconds: list[float]) -> dict[str, float]:
    return {
        "trials": len(seconds),
        "p50_s": round(statistics.median(seconds), 4),
        "p95_s": round(percentile(seconds, 0.95), 4),
        "max_s": round(max(seconds), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    options = parser.parse_args()
    quiet_logs()

    results = {
        "reset": summary(reset_trials(options.trials)),
        "down/up": summary(
            real_time_trials(options.trials, SimulatedGateway.down, SimulatedGateway.up, OUTAGE)
        ),
        "competing": summary(
            real_time_trials(
                options.trials,
                SimulatedGateway.start_competing,
                SimulatedGateway.stop_competing,
                COMPETING,
            )
        ),
    }
    report(
        "recovery",
        {
            "worker_backoff_s": WORKER_BACKOFF,
            "outage_s": OUTAGE,
            "competing_s": COMPETING,
            **results,
            "target_p95_s": TARGET_P95,
            "met": all(r["p95_s"] <= TARGET_P95 for r in results.values()),
        },
        [
            (
                f"{name}: p50 / p95",
                f"{r['p50_s']:.3f} / {r['p95_s']:.3f} s",
                f"p95 <= {TARGET_P95} s",
            )
            for name, r in results.items()
        ],
    )


if __name__ == "__main__":
    main()
