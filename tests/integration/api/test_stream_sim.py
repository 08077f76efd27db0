"""The stream against the simulated gateway: real ``wss://`` on loopback, the session
cookie from ``/tickle``, one ManualClock for both sides.

The test moves the clock a step at a time and reads the stream's events between steps
(a queue read with a short real timeout: the reader thread and the simulator's stream
thread answer a clock step within milliseconds).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ibkr_api import (
    IbkrClient,
    OrderEvent,
    QuoteEvent,
    Stream,
    StreamEvent,
    StreamGap,
    TradeEvent,
)
from ibkr_session import ManualClock, SessionState
from ibkr_sim import SimulatedGateway

AAPL = 265598
IBM = 8314
ACCOUNT = "U1234567"
RESET_START = dt.datetime(2026, 1, 6, 6, 0, tzinfo=dt.UTC)  # 01:00 New York in winter
OPTIONS = {"poll": 0.01}
"""Fast reads. The watchdog's real-time grace stays the default (0.5 s): a longer one
would let a whole minute of the virtual clock's silence pass unnoticed."""
CONFIRM = ("o163", "o383", "o451", "o354", "o403", "o10151")


class Watch:
    """A stream, the clock, and every event seen so far."""

    def __init__(self, stream: Stream, clock: ManualClock) -> None:
        self.stream = stream
        self.clock = clock
        self.events: list[StreamEvent] = []

    def read(self, timeout: float = 0.05) -> None:
        while (event := self.stream.next_event(timeout)) is not None:
            self.events.append(event)
            timeout = 0.01

    def until(self, wanted: Callable[[], bool], *, step: float = 1.0, limit: float = 300.0) -> None:
        """Move the clock ``step`` at a time until ``wanted()``, reading events meanwhile."""
        moved = 0.0
        while True:
            self.read()
            if wanted():
                return
            if moved >= limit:
                kinds = [type(event).__name__ for event in self.events]
                raise AssertionError(f"not reached after {limit} s; gaps {self.gaps()}, {kinds}")
            self.clock.advance(step)
            moved += step

    def idle(self, seconds: float, *, step: float = 1.0) -> None:
        """Let ``seconds`` of the clock pass, reading events."""
        moved = 0.0
        while moved < seconds:
            self.clock.advance(step)
            moved += step
            self.read(0.02)
        self.read()

    def gaps(self) -> list[StreamGap]:
        return [event for event in self.events if isinstance(event, StreamGap)]

    def orders(self, coid: str) -> list[OrderEvent]:
        return [e for e in self.events if isinstance(e, OrderEvent) and e.coid == coid]


def fresh_last(stream: Stream, conid: int) -> float | None:
    quote = stream.latest(conid)
    return None if quote is None or quote.stale else quote.last


@pytest.fixture
def watch(ibkr: IbkrClient, clock: ManualClock) -> Iterator[Watch]:
    with ibkr.stream(**OPTIONS) as stream:
        yield Watch(stream, clock)


def settle(watch: Watch, conid: int = AAPL) -> None:
    """Subscribe quotes and orders and wait for the first full quote."""
    watch.stream.subscribe_quotes([conid], fields=("31", "84", "86"))
    watch.stream.subscribe_orders()
    watch.stream.subscribe_trades()
    watch.until(lambda: fresh_last(watch.stream, conid) is not None)


def place_limit_buy(ibkr: IbkrClient, watch: Watch, coid: str) -> float:
    """A working BUY 10 AAPL limit 2 below the market; returns the limit."""
    last = fresh_last(watch.stream, AAPL)
    assert last is not None
    limit = round(last - 2.0, 2)
    answer = ibkr.place_order(ACCOUNT, AAPL, "BUY", 10, "LMT", limit, coid=coid)
    while isinstance(answer, list) and answer and "id" in answer[0]:
        answer = ibkr.reply_to_order(answer[0]["id"], True)
    watch.until(lambda: any(e.status == "Submitted" for e in watch.orders(coid)))
    return limit


def assert_fill_delivered_once(watch: Watch, sim: SimulatedGateway, coid: str) -> None:
    fills = [e for e in watch.orders(coid) if e.status == "Filled"]
    assert len(fills) == 1
    assert fills[0].filled_quantity == 10
    assert sim.executions_by_coid() == {coid: 1}
    trades = [e for e in watch.events if isinstance(e, TradeEvent) and e.coid == coid]
    assert len(trades) == 1


# -- data ------------------------------------------------------------------------------------


def test_quotes_arrive_and_merge_into_latest(watch: Watch, sim: SimulatedGateway) -> None:
    watch.stream.subscribe_quotes([AAPL, IBM], fields=("31", "84", "86"))
    watch.until(lambda: all(fresh_last(watch.stream, c) is not None for c in (AAPL, IBM)))
    quote = watch.stream.latest(AAPL)
    assert quote is not None
    assert quote.bid is not None
    assert quote.ask is not None
    assert quote.bid <= quote.ask
    sim.set_price(AAPL, 123.45)
    watch.until(lambda: fresh_last(watch.stream, AAPL) == 123.45)
    quotes = [e for e in watch.events if isinstance(e, QuoteEvent) and e.conid == AAPL]
    assert quotes[-1].quote.last == 123.45
    assert watch.gaps() == []


def test_an_order_placed_by_rest_is_seen_filling_through_sor(
    connect: Callable[..., IbkrClient], sim: SimulatedGateway, clock: ManualClock
) -> None:
    ibkr = connect(auto_confirm=CONFIRM)
    with ibkr.stream(**OPTIONS) as stream:
        watch = Watch(stream, clock)
        settle(watch)
        limit = place_limit_buy(ibkr, watch, "stream-fill-1")
        sim.set_price(AAPL, limit - 1.0)
        watch.until(lambda: any(e.status == "Filled" for e in watch.orders("stream-fill-1")))
        watch.idle(30)
        assert_fill_delivered_once(watch, sim, "stream-fill-1")
        assert not any(e.reconciled for e in watch.orders("stream-fill-1"))
        assert stream.orders()[watch.orders("stream-fill-1")[0].order_id]["order_ref"] == (
            "stream-fill-1"
        )


# -- disturbances -------------------------------------------------------------------------------


def ride_through(
    ibkr: IbkrClient,
    sim: SimulatedGateway,
    clock: ManualClock,
    disturb: Callable[[Watch], Any],
    *,
    fill: bool = True,
    limit: float = 900.0,
    step: float = 1.0,
) -> Watch:
    """Quotes and a working order; disturb; meanwhile the order fills. The stream must
    recover by itself with one gap, refill quotes after it (post-gap prices) and deliver
    the fill once. ``fill=False``: no order (markets closed at night)."""
    with ibkr.stream(**OPTIONS) as stream:
        watch = Watch(stream, clock)
        settle(watch)
        coid = "ride-1"
        limit_price = place_limit_buy(ibkr, watch, coid) if fill else 0.0
        disturb(watch)
        if fill:
            sim.set_price(AAPL, limit_price - 1.0)  # fills while the stream is disturbed
        watch.until(lambda: len(watch.gaps()) == 1, step=step, limit=limit)
        (gap,) = watch.gaps()

        def refills() -> list[QuoteEvent]:
            after = watch.events[watch.events.index(gap) + 1 :]
            return [e for e in after if isinstance(e, QuoteEvent) and e.refill]

        watch.until(lambda: bool(refills()), step=step)  # refilled by snapshot after the gap
        assert refills()[0].quote.updated is not None
        assert refills()[0].quote.updated >= gap.started
        quote = stream.latest(AAPL)
        assert quote is not None
        assert not quote.stale
        watch.idle(60)
        assert len(watch.gaps()) == 1
        if fill:
            assert_fill_delivered_once(watch, sim, coid)
        sim.set_price(AAPL, 321.0)  # the stream is live again
        watch.until(lambda: fresh_last(stream, AAPL) == 321.0)
        assert len(watch.gaps()) == 1
        assert not [r for r in sim.requests if r.status == 429]
        return watch


def test_drop_streams_is_one_gap_and_the_stream_comes_back(
    connect: Callable[..., IbkrClient], sim: SimulatedGateway, clock: ManualClock
) -> None:
    watch = ride_through(connect(auto_confirm=CONFIRM), sim, clock, lambda w: sim.drop_streams())
    assert watch.gaps()[0].reason.startswith("connection lost")


def test_a_gateway_down_and_up_again_is_one_gap(
    connect: Callable[..., IbkrClient], sim: SimulatedGateway, clock: ManualClock
) -> None:
    def outage(watch: Watch) -> None:
        sim.down()
        watch.until(lambda: watch.stream.in_gap)
        watch.idle(120, step=2)
        sim.up()

    watch = ride_through(connect(auto_confirm=CONFIRM), sim, clock, outage)
    assert watch.gaps()[0].seconds >= 120


def test_silence_streams_is_one_gap_noticed_by_the_heartbeat_watchdog(
    connect: Callable[..., IbkrClient], sim: SimulatedGateway, clock: ManualClock
) -> None:
    watch = ride_through(
        connect(auto_confirm=CONFIRM), sim, clock, lambda w: sim.silence_streams(60)
    )
    (gap,) = watch.gaps()
    assert "no message from the gateway" in gap.reason
    assert gap.seconds >= 20


def test_an_expired_brokerage_session_is_one_gap_and_healed(
    connect: Callable[..., IbkrClient], sim: SimulatedGateway, clock: ManualClock
) -> None:
    watch = ride_through(
        connect(auto_confirm=CONFIRM), sim, clock, lambda w: sim.expire_brokerage()
    )
    assert "authenticated=false" in watch.gaps()[0].reason


def test_a_competing_login_is_one_gap_and_the_stream_waits_for_it_to_end(
    connect: Callable[..., IbkrClient], sim: SimulatedGateway, clock: ManualClock
) -> None:
    def compete(watch: Watch) -> None:
        sim.start_competing()
        watch.until(lambda: watch.stream.in_gap)
        opened = sim.open_streams
        watch.idle(300, step=5)
        assert sim.open_streams == opened == 0  # no reconnect while competing
        sim.stop_competing()

    watch = ride_through(connect(auto_confirm=CONFIRM), sim, clock, compete)
    assert "competing" in watch.gaps()[0].reason


def test_a_session_that_takes_over_brings_the_stream_back_during_a_competing_login(
    connect: Callable[..., IbkrClient], sim: SimulatedGateway, clock: ManualClock
) -> None:
    ibkr = connect(auto_confirm=CONFIRM, on_competing="take_over")
    with ibkr.stream(**OPTIONS) as stream:
        watch = Watch(stream, clock)
        settle(watch)
        sim.start_competing()  # the user asked us to take the session back
        watch.until(lambda: watch.stream.in_gap)
        watch.until(lambda: not watch.stream.in_gap and fresh_last(stream, AAPL) is not None)
    assert len(watch.gaps()) == 1
    assert "competing" in watch.gaps()[0].reason
    assert ibkr.session.state is SessionState.AUTHENTICATED


def test_the_nightly_reset_is_one_gap_and_no_reconnect_inside_the_window(
    clock: ManualClock,
) -> None:
    clock.set(RESET_START - dt.timedelta(minutes=10))
    with (
        SimulatedGateway(clock, reset_minutes=15) as sim,
        IbkrClient(sim.url, clock=clock, timeout=5.0) as ibkr,
    ):

        def wait_out_the_window(watch: Watch) -> None:
            after = RESET_START + dt.timedelta(minutes=5)
            watch.until(lambda: clock.now() >= after, step=5, limit=900)
            assert watch.stream.in_gap
            assert sim.open_streams == 0  # no reconnect inside the window

        watch = ride_through(ibkr, sim, clock, wait_out_the_window, fill=False, step=5)
        (gap,) = watch.gaps()
        # The session's window opens at 00:55 New York, the gateway goes dark at 01:00.
        assert RESET_START - dt.timedelta(minutes=5) <= gap.started <= RESET_START
        assert gap.ended >= RESET_START + dt.timedelta(minutes=15)
