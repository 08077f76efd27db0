"""Freshness of quotes: the stream vs polling snapshots at the pacing limit.

Freshness is the wall time from a simulated price change (``set_price`` on the simulated
gateway) to the consumer seeing that price: through ``Stream`` (a consumer thread reading
``stream.events()``), or through a poller calling ``get_market_snapshot`` for all conids
(one request: at most 100) evenly spaced at the pacing limit (IBKR's 10/s times the pacer's
0.9 = one request every 111 ms: polling's best case). Both run for 1, 10 and 100
conids, on a real clock shifted to a trading session, ``--trials`` price changes each,
spread over the conids with a random pause between changes. REST requests per minute are
counted by the gateway over the measured window: the stream's cost and the poller's.

    python benchmarks/streaming.py [--trials 40]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import random
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from bench import percentile, quiet_logs, report

from ibkr_api import IbkrClient, QuoteEvent
from ibkr_session.clock import SystemClock
from ibkr_sim.gateway import SimulatedGateway
from ibkr_sim.instruments import UNIVERSE
from ibkr_sim.options import OptionKey, listed_months, option_conid, option_instrument

AAPL = 265598
MARKET_OPEN = _dt.datetime(2026, 1, 5, 15, 0, tzinfo=_dt.UTC)
SIZES = (1, 10, 100)
SEEN_TIMEOUT = 5.0
POLL_INTERVAL = 1.0 / 9.0
"""IBKR's 10 snapshots/s (and 10 requests/s for the gateway) times the pacer's 0.9."""
TARGET_STREAM_P95 = 0.25


class ShiftedClock(SystemClock):
    """Real time, shifted so that it starts at ``start`` (a trading session)."""

    def __init__(self, start: _dt.datetime) -> None:
        self._offset = start - _dt.datetime.now(_dt.UTC)

    def now(self) -> _dt.datetime:
        return super().now() + self._offset


def conids_for(count: int, clock: ShiftedClock) -> list[int]:
    """Simulated stocks and ETFs first, then AAPL options of the listed months."""
    stocks = [c for c, i in UNIVERSE.items() if i.sec_type in ("STK", "ETF")]
    options = [
        option_conid(OptionKey(AAPL, year, month, strike, right))
        for year, month in listed_months(clock.now().timestamp())
        for strike in (230.0, 235.0, 240.0, 245.0, 250.0, 255.0, 260.0, 265.0)
        for right in ("C", "P")
    ]
    known = [c for c in options if option_instrument(c) is not None]
    return list(dict.fromkeys(stocks + known))[:count]


class Sightings:
    """Price changes awaited and when each was first seen (``time.perf_counter``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[tuple[int, float], float] = {}
        self._seen = threading.Event()
        self.delays: list[float] = []
        self.missed = 0

    def expect(self, conid: int, price: float) -> None:
        with self._lock:
            self._waiting = {(conid, price): time.perf_counter()}
            self._seen.clear()

    def saw(self, conid: int, last: float | None) -> None:
        if last is None:
            return
        now = time.perf_counter()
        with self._lock:
            started = self._waiting.pop((conid, round(last, 2)), None)
            if started is not None:
                self.delays.append(now - started)
                self._seen.set()

    def wait(self) -> None:
        if not self._seen.wait(SEEN_TIMEOUT):
            self.missed += 1


@contextmanager
def gateway() -> Iterator[tuple[SimulatedGateway, IbkrClient, ShiftedClock]]:
    clock = ShiftedClock(MARKET_OPEN)
    with (
        SimulatedGateway(clock) as sim,
        IbkrClient(sim.url, clock=clock, timeout=10.0) as ibkr,
    ):
        yield sim, ibkr, clock


def change_prices(
    sim: SimulatedGateway,
    conids: list[int],
    current: Callable[[int], float],
    sightings: Sightings,
    trials: int,
    rng: random.Random,
) -> None:
    for trial in range(trials):
        conid = conids[trial % len(conids)]
        price = round(current(conid) + 0.5 + 0.01 * (trial % 50), 2)
        sightings.expect(conid, price)
        sim.set_price(conid, price)
        sightings.wait()
        time.sleep(rng.uniform(0.0, 0.2))  # no lockstep with the poller's rhythm


def measure(
    sim: SimulatedGateway, run: Callable[[], None]
) -> tuple[float, float]:  # (seconds, REST requests per minute)
    before = len(sim.requests)
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    return seconds, (len(sim.requests) - before) / (seconds / 60.0)


def stream_run(count: int, trials: int, rng: random.Random) -> dict[str, float]:
    with gateway() as (sim, ibkr, clock), ibkr.stream() as stream:
        conids = conids_for(count, clock)
        stream.subscribe_quotes(conids, fields=("31",))
        deadline = time.monotonic() + 60.0
        while any(stream.latest(c) is None for c in conids) and time.monotonic() < deadline:
            stream.next_event(0.1)
        sightings = Sightings()
        stop = threading.Event()

        def consume() -> None:
            while not stop.is_set():
                for event in stream.events(timeout=0.2):
                    if isinstance(event, QuoteEvent):
                        sightings.saw(event.conid, event.quote.last)

        def last(conid: int) -> float:
            quote = stream.latest(conid)
            return quote.last if quote is not None and quote.last is not None else 100.0

        consumer = threading.Thread(target=consume, daemon=True)
        consumer.start()
        _, per_minute = measure(
            sim, lambda: change_prices(sim, conids, last, sightings, trials, rng)
        )
        stop.set()
        consumer.join()
        return summary(sightings, per_minute)


def polling_run(count: int, trials: int, rng: random.Random) -> dict[str, float]:
    with gateway() as (sim, ibkr, clock):
        conids = conids_for(count, clock)
        latest: dict[int, float] = {}
        ibkr.get_market_snapshot(conids, fields=("31",))  # the pre-flight, before measuring
        sightings = Sightings()
        stop = threading.Event()

        def poll() -> None:
            due = time.perf_counter()
            while not stop.is_set():
                # Evenly spaced at the pacer's rate: polling's best case (as fast as the
                # pacer allows would come in bursts of 10 and pauses of ~0.6 s).
                due += POLL_INTERVAL
                time.sleep(max(0.0, due - time.perf_counter()))
                for row in ibkr.get_market_snapshot(conids, fields=("31",)):
                    text = row.get("31")
                    if isinstance(text, str) and text.lstrip("CH").replace(".", "").isdigit():
                        value = float(text.lstrip("CH"))
                        latest[int(row["conid"])] = value
                        sightings.saw(int(row["conid"]), value)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        while len(latest) < len(conids):
            time.sleep(0.05)
        _, per_minute = measure(
            sim,
            lambda: change_prices(
                sim, conids, lambda c: latest.get(c, 100.0), sightings, trials, rng
            ),
        )
        stop.set()
        poller.join()
        return summary(sightings, per_minute)


def summary(sightings: Sightings, per_minute: float) -> dict[str, float]:
    delays = sightings.delays or [float("nan")]
    return {
        "changes_seen": len(sightings.delays),
        "missed": sightings.missed,
        "p50_ms": round(statistics.median(delays) * 1000, 1),
        "p95_ms": round(percentile(delays, 0.95) * 1000, 1),
        "rest_per_minute": round(per_minute, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    quiet_logs()
    rng = random.Random(options.seed)

    results: dict[str, dict[str, dict[str, float]]] = {}
    for count in SIZES:
        results[str(count)] = {
            "stream": stream_run(count, options.trials, rng),
            "polling": polling_run(count, options.trials, rng),
        }
    rows: list[tuple[str, str, str]] = []
    for count, pair in results.items():
        for way, figures in pair.items():
            rows.append(
                (
                    f"{count} conids, {way}: freshness p50 / p95",
                    f"{figures['p50_ms']:.1f} / {figures['p95_ms']:.1f} ms"
                    + (f" ({figures['missed']:.0f} missed)" if figures["missed"] else ""),
                    f"p95 <= {TARGET_STREAM_P95 * 1000:.0f} ms" if way == "stream" else "-",
                )
            )
            rows.append(
                (
                    f"{count} conids, {way}: REST requests per minute",
                    f"{figures['rest_per_minute']:.1f}",
                    "-",
                )
            )
    report(
        "streaming",
        {
            "trials": options.trials,
            "results": results,
            "target_stream_p95_s": TARGET_STREAM_P95,
            "met": all(
                pair["stream"]["p95_ms"] <= TARGET_STREAM_P95 * 1000
                and pair["stream"]["missed"] == 0
                for pair in results.values()
            ),
        },
        rows,
    )


if __name__ == "__main__":
    main()
