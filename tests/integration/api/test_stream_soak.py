"""Hours of streaming 100 conids on the simulator's clock: every ``smd`` renewed before its
silent 15-minute end, quotes still fresh at the end, memory flat, no gap, no 429.

The 8-hour run is ``slow``; the ordinary suite streams for 20 minutes, past the 15-minute
end.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections import deque

import pytest

from ibkr_api import IbkrClient, QuoteEvent, Stream, StreamGap
from ibkr_session import ManualClock
from ibkr_sim import SimulatedGateway
from ibkr_sim.instruments import UNIVERSE
from ibkr_sim.options import OptionKey, listed_months, option_conid, option_instrument

AAPL = 265598
STEP = 10.0  # seconds of the clock per step: the gateway's heartbeat period


def hundred_conids(clock: ManualClock) -> list[int]:
    """The simulated stocks and ETFs, then AAPL options of the front months."""
    stocks = [c for c, i in UNIVERSE.items() if i.sec_type in ("STK", "ETF")][:10]
    options: list[int] = []
    for year, month in listed_months(clock.now().timestamp()):
        for strike in (230.0, 235.0, 240.0, 245.0, 250.0, 255.0, 260.0, 265.0):
            for right in ("C", "P"):
                conid = option_conid(OptionKey(AAPL, year, month, strike, right))
                if option_instrument(conid) is not None:
                    options.append(conid)
    conids = list(dict.fromkeys(stocks + options))[:100]
    assert len(conids) == 100
    return conids


_NOT_THE_STREAMS = frozenset(
    {"_client", "_session", "_clock", "_connect", "_conn", "_thread", "_lock", "_ready"}
    | {"_stop", "_callbacks", "_rng"}
)


def held_by_the_stream(stream: Stream) -> int:
    """Bytes of everything the stream itself holds (views, queue, subscriptions, memory of
    trades), not the client, the socket or the simulator sharing this process."""
    seen: set[int] = set()
    todo: list[object] = [v for k, v in vars(stream).items() if k not in _NOT_THE_STREAMS]
    total = 0
    while todo:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        if isinstance(item, dict):
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset | deque):
            todo.extend(item)
        elif hasattr(item, "__dict__") and not isinstance(item, type):
            todo.extend(vars(item).values())
    return total


def soak(hours: float, clock: ManualClock, *, count: int = 100) -> None:
    with (
        SimulatedGateway(clock) as sim,
        IbkrClient(sim.url, clock=clock, timeout=5.0) as ibkr,
        ibkr.stream(poll=0.01, watchdog_grace=2.0) as stream,
    ):
        conids = hundred_conids(clock)[:count]
        stream.subscribe_quotes(conids, fields=("31", "84", "86"))
        gaps: list[StreamGap] = []
        updates = 0
        memory: list[int] = []
        steps = int(hours * 3600 / STEP)
        for step in range(steps):
            clock.advance(STEP)
            # Keep pace with the gateway: read until its heartbeat carries this clock
            # reading, then whatever follows within a moment.
            deadline = time.monotonic() + 10.0
            while True:
                beat = stream.heartbeat_at
                caught_up = beat is not None and beat >= clock.now()
                event = stream.next_event(0.01 if caught_up else 0.05)
                if isinstance(event, StreamGap):
                    gaps.append(event)
                elif isinstance(event, QuoteEvent):
                    updates += 1
                if (event is None and caught_up) or time.monotonic() > deadline:
                    break
            if step in (steps // 4, steps - 1):
                memory.append(held_by_the_stream(stream))

        assert gaps == []
        fresh = [
            c
            for c in conids
            if (quote := stream.latest(c)) is not None
            and not quote.stale
            and quote.received_at is not None
            # renewals resend every field, so even a closed market's quote is recent
            and clock.now() - quote.received_at < dt.timedelta(minutes=11)
        ]
        assert len(fresh) >= 0.95 * count, f"{count - len(fresh)} conids went quiet"
        renewals_each = stream.stats.renewals / len(conids)
        assert renewals_each >= int(hours * 3600 / 900)  # before every 15-minute end
        assert not [r for r in sim.requests if r.status == 429]
        assert memory[-1] - memory[0] < 250_000, memory  # flat: no growth with time
        assert stream.stats.connects == 1


def test_twenty_minutes_of_a_hundred_quotes_outlive_the_fifteen_minute_end(
    clock: ManualClock,
) -> None:
    soak(1 / 3, clock)


@pytest.mark.slow
def test_eight_hours_of_a_hundred_quotes_stay_live_without_gaps(clock: ManualClock) -> None:
    soak(8.0, clock)
