"""Kept alive through everything: tic, smd renewal, the hb watchdog, reconnect backoff that
waits for the session's own recovery, and exactly one StreamGap per disturbance followed by
a snapshot refill and an order reconciliation."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from ibkr_api import OrderEvent, QuoteEvent, StreamGap, StreamOverflowError, TradeEvent
from ibkr_session.state import SessionState
from tests.unit.api.test_stream_fakes import Rig, smd, sor


def gaps(events: list[object]) -> list[StreamGap]:
    return [event for event in events if isinstance(event, StreamGap)]


def test_tic_goes_out_before_the_gateways_one_minute_limit() -> None:
    rig = Rig()
    rig.pump()
    sent_at: list[float] = []
    for _ in range(180):
        before = rig.gateway.current.sent.count("tic")
        rig.advance(1)
        if rig.gateway.current.sent.count("tic") > before:
            sent_at.append(rig.clock.monotonic())
    assert len(sent_at) >= 3
    intervals = [b - a for a, b in zip([0.0, *sent_at], sent_at, strict=False)]
    assert max(intervals) < 60
    assert len(rig.gateway.sockets) == 1  # heartbeats kept the one socket alive


def test_each_smd_is_renewed_before_ibkrs_silent_fifteen_minute_end() -> None:
    rig = Rig()
    rig.stream.subscribe_quotes([265598])
    rig.pump()
    asked_at: list[float] = [rig.clock.monotonic()]
    for _ in range(60 * 60):
        before = len(rig.gateway.current.sent)
        rig.advance(1)
        if any(text.startswith("smd+265598+") for text in rig.gateway.current.sent[before:]):
            asked_at.append(rig.clock.monotonic())
    intervals = [b - a for a, b in itertools.pairwise(asked_at)]
    assert len(intervals) >= 4
    assert max(intervals) < 15 * 60
    assert rig.stream.stats.renewals == len(intervals)
    assert rig.drain() == []  # a renewal is not a gap
    assert len(rig.gateway.sockets) == 1


def test_renewals_of_many_conids_are_spread_out() -> None:
    rig = Rig()
    rig.stream.subscribe_quotes(range(1, 101))
    rig.pump()
    burst = 0
    for _ in range(12 * 60):
        before = len(rig.gateway.current.sent)
        rig.advance(1)
        burst = max(burst, sum(t.startswith("smd") for t in rig.gateway.current.sent[before:]))
    assert rig.stream.stats.renewals == 100
    assert burst <= 20


def test_a_silent_socket_is_replaced_and_the_gap_reported_once() -> None:
    rig = Rig()
    rig.stream.subscribe_quotes([265598])
    rig.pump()
    first = rig.gateway.current
    rig.advance(25, heartbeat=False)  # open but mute: a half-open socket
    assert first.closed
    rig.advance(5)
    assert len(rig.gateway.sockets) == 2
    assert rig.gateway.current.sent[0].startswith("smd+265598+")
    (gap,) = gaps(rig.drain())
    assert "no message from the gateway" in gap.reason
    assert 20 <= gap.seconds <= 30  # from the last message heard to the restored stream


def test_heartbeats_alone_keep_the_socket() -> None:
    rig = Rig()
    rig.pump()
    rig.advance(300)
    assert len(rig.gateway.sockets) == 1
    assert gaps(rig.drain()) == []


def test_many_failed_reconnects_are_still_one_gap_and_back_off_jittered_and_capped() -> None:
    rig = Rig(backoff_initial=1.0, backoff_max=8.0)
    rig.pump()
    rig.gateway.down = True
    rig.gateway.current.broken = True
    rig.advance(120, step=0.5, heartbeat=False)
    attempts = rig.gateway.attempts[1:]
    spacing = [b - a for a, b in itertools.pairwise(attempts)]
    assert 8 <= len(attempts) <= 40  # no storm: about one attempt per backoff step
    assert max(spacing) <= 8.5  # capped
    assert spacing[0] < spacing[3]  # growing
    rig.gateway.down = False
    rig.advance(10)
    (gap,) = gaps(rig.drain())
    assert gap.reason.startswith("connection lost")
    assert gap.seconds >= 120


def test_no_reconnect_during_the_reset_window_then_one_gap_after_it() -> None:
    rig = Rig()
    rig.stream.subscribe_quotes([265598])
    rig.pump()
    rig.session.set_state(SessionState.RESET_WINDOW, "nightly reset window")
    rig.pump()
    assert rig.gateway.current.closed
    tickles = rig.session.requests.count(("POST", "/tickle"))
    rig.advance(15 * 60, step=5, heartbeat=False)
    assert len(rig.gateway.attempts) == 1
    assert rig.session.requests.count(("POST", "/tickle")) == tickles
    rig.session.set_state(SessionState.STALE, "reset window over")
    rig.advance(5)
    assert len(rig.gateway.sockets) == 2
    (gap,) = gaps(rig.drain())
    assert "reset_window" in gap.reason
    assert gap.seconds >= 15 * 60


def test_what_the_reconnect_itself_taught_the_session_is_not_a_second_gap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After the window the stream's own /tickle finds the brokerage session gone (STALE ->
    UNAUTHENTICATED) and the guard recovers it before the socket opens: old news by the
    time the new socket carries data, not a disturbance of it."""
    rig = Rig()
    rig.pump()
    session = rig.session
    session.set_state(SessionState.RESET_WINDOW, "nightly reset window")
    rig.advance(15 * 60, step=5, heartbeat=False)
    plain_request = session.request

    def tickle_finds_the_session_gone(method: str, path: str, **options: Any) -> Any:
        if path == "/tickle" and session.state is SessionState.STALE:
            session.set_state(SessionState.UNAUTHENTICATED, "/tickle: authenticated=false")
            session.brokerage_generation += 1  # ssodh/init
            session.set_state(SessionState.AUTHENTICATED, "ssodh/init: authenticated=true")
        return plain_request(method, path, **options)

    monkeypatch.setattr(session, "request", tickle_finds_the_session_gone)
    session.set_state(SessionState.STALE, "reset window over")
    rig.advance(60)
    assert len(rig.gateway.sockets) == 2
    (gap,) = gaps(rig.drain())
    assert "reset_window" in gap.reason


def test_while_competing_the_stream_only_probes_on_a_capped_backoff() -> None:
    rig = Rig(backoff_max=60.0)
    rig.pump()
    rig.gateway.current.push(
        {"topic": "sts", "args": {"authenticated": True, "competing": True, "connected": True}}
    )
    rig.session.set_state(SessionState.COMPETING, "competing=true")
    rig.pump()
    rig.advance(30 * 60, step=5, heartbeat=False)
    assert len(rig.gateway.attempts) == 1  # no reconnect while another platform holds it
    assert 5 <= rig.session.refreshes <= 60  # probes spaced out, capped at a minute
    rig.session.set_state(SessionState.AUTHENTICATED, "authenticated=true")
    rig.advance(70)
    assert len(rig.gateway.sockets) == 2
    (gap,) = gaps(rig.drain())
    assert "competing" in gap.reason


def test_sts_authenticated_false_is_news_for_the_session_state_machine() -> None:
    rig = Rig()
    rig.pump()
    rig.gateway.current.push({"topic": "sts", "args": {"authenticated": False}})
    rig.pump()
    assert rig.gateway.current.closed
    assert rig.session.refreshes == 1  # the manager probes and learns it itself
    rig.advance(5)
    (gap,) = gaps(rig.drain())
    assert gap.reason == "gateway says authenticated=false"


def test_a_new_brokerage_session_restores_every_subscription() -> None:
    rig = Rig()
    rig.stream.subscribe_quotes([1, 2])
    rig.stream.subscribe_orders()
    rig.stream.subscribe_pnl()
    rig.pump()
    rig.session.brokerage_generation = 2  # e.g. the REST side re-authenticated
    rig.advance(3)
    new = rig.gateway.current
    assert len(rig.gateway.sockets) == 2
    assert new.session_id == "sess2"
    assert {'smd+1+{"fields": ["31", "84", "86", "88", "85", "7059"]}', "sor+{}", "spl+{}"} <= set(
        new.sent
    )
    assert len(gaps(rig.drain())) == 1


def test_after_a_gap_quotes_are_refilled_by_snapshot_and_stale_until_then() -> None:
    rig = Rig()
    rig.stream.subscribe_quotes([265598])
    rig.pump()
    rig.gateway.current.push(smd(265598, **{"31": "100.00"}))
    rig.pump()
    rig.drain()
    rig.gateway.current.broken = True
    rig.pump()
    during = rig.stream.latest(265598)
    assert during is not None
    assert during.stale
    assert during.last == 100.0
    rig.client.prices[265598] = {"31": "101.50", "84": "101.49", "86": "101.51"}
    rig.advance(3)
    after = rig.stream.latest(265598)
    assert after is not None
    assert not after.stale
    assert after.last == 101.5
    events = rig.drain()
    assert isinstance(events[0], StreamGap)
    assert isinstance(events[1], QuoteEvent)
    assert events[1].refill
    assert events[1].quote.last == 101.5
    assert rig.client.snapshots == [[265598]]


def test_a_fill_during_a_gap_arrives_once_as_a_reconciled_order_event() -> None:
    rig = Rig()
    rig.stream.subscribe_orders()
    rig.pump()
    working = {"orderId": 5, "status": "Submitted", "filledQuantity": 0, "order_ref": "c5"}
    rig.gateway.current.push(sor(working))
    rig.pump()
    rig.drain()
    rig.gateway.current.broken = True
    rig.pump()
    filled = {**working, "status": "Filled", "filledQuantity": 100, "remainingQuantity": 0}
    rig.client.live_orders = [filled]
    rig.advance(3)
    rig.gateway.current.push(sor(filled))  # sor's first message repeats the fill
    rig.advance(2)
    events = rig.drain()
    assert isinstance(events[0], StreamGap)
    orders = [event for event in events if isinstance(event, OrderEvent)]
    assert [(o.status, o.filled_quantity, o.coid, o.reconciled) for o in orders] == [
        ("Filled", 100.0, "c5", True)
    ]


def test_quotes_conflate_per_conid_for_a_slow_reader() -> None:
    rig = Rig()
    rig.stream.subscribe_quotes([1, 2])
    rig.pump()
    for tick in range(100):
        rig.gateway.current.push(smd(1, **{"31": f"{100 + tick}.0"}))
    rig.gateway.current.push(smd(2, **{"31": "5.0"}))
    rig.pump(120)
    events = rig.drain()
    assert [event.conid for event in events if isinstance(event, QuoteEvent)] == [1, 2]
    first = events[0]
    assert isinstance(first, QuoteEvent)
    assert first.quote.last == 199.0
    assert first.conflated == 99
    assert rig.stream.stats.conflated == 99


def test_order_events_never_conflate_and_overflow_is_a_typed_error() -> None:
    rig = Rig(max_pending=3)
    rig.stream.subscribe_orders()
    rig.pump()
    for order_id in range(5):
        rig.gateway.current.push(sor({"orderId": order_id, "status": "Submitted"}))
    rig.pump(10)
    with pytest.raises(StreamOverflowError) as caught:
        rig.stream.next_event(0)
    assert caught.value.dropped == 2
    assert sorted(rig.stream.orders()) == ["0", "1", "2", "3", "4"]  # the view is complete
    events = rig.drain()
    assert [e.order_id for e in events[:3] if isinstance(e, OrderEvent)] == ["0", "1", "2"]
    # Caught up: the overflow is a gap, and the orders it missed arrive once more.
    assert isinstance(events[3], StreamGap)
    assert "consumer fell behind" in events[3].reason
    missed = [(e.order_id, e.reconciled) for e in events[4:] if isinstance(e, OrderEvent)]
    assert missed == [("3", True), ("4", True)]
    rig.gateway.current.push(sor({"orderId": 4, "status": "Submitted"}))
    rig.pump()
    assert rig.drain() == []  # nothing twice


def test_a_trade_during_a_gap_is_replayed_once_and_older_ones_stay_history() -> None:
    rig = Rig()
    rig.stream.subscribe_trades()
    rig.pump()
    assert 'str+{"realtimeUpdatesOnly":true,"days":1}' in rig.gateway.current.sent
    subscribed_ms = int(rig.clock.now().timestamp() * 1000)
    seen = {"execution_id": "e1", "order_ref": "c1", "trade_time_r": subscribed_ms + 5}
    rig.gateway.current.push({"topic": "str", "args": [seen]})
    rig.pump()
    rig.gateway.current.broken = True
    rig.advance(3)
    assert 'str+{"days":1}' in rig.gateway.current.sent  # the day's executions again
    old = {"execution_id": "e0", "order_ref": "c0", "trade_time_r": subscribed_ms - 3_600_000}
    missed = {"execution_id": "e2", "order_ref": "c2", "trade_time_r": subscribed_ms + 2_000}
    rig.gateway.current.push({"topic": "str", "args": [old, seen, missed]})
    rig.advance(2)
    trades = [e.execution_id for e in rig.drain() if isinstance(e, TradeEvent)]
    assert trades == ["e1", "e2"]


def test_a_tic_answered_not_alive_is_a_gap() -> None:
    rig = Rig()
    rig.pump()
    rig.gateway.current.push({"topic": "tic", "alive": False, "lastAccessed": 0})
    rig.pump()
    assert rig.gateway.current.closed
    rig.advance(5)
    (gap,) = gaps(rig.drain())
    assert "not alive" in gap.reason
