"""Merged views: smd carries only changed fields, sor rows merge per order id, trades and
P&L arrive once; what a worker reads from ``latest``, ``orders`` and the events."""

from __future__ import annotations

import pytest

from ibkr_api import InvalidRequestError, OrderEvent, QuoteEvent, StreamClosedError, TradeEvent
from tests.unit.api.test_stream_fakes import Rig, smd, sor


def test_subscriptions_go_out_on_connect_with_the_tickle_session_cookie() -> None:
    rig = Rig()
    rig.stream.subscribe_quotes([265598, "8314"], fields=("31", 84, "86"))
    rig.stream.subscribe_orders()
    rig.stream.subscribe_pnl()
    rig.stream.subscribe_trades()
    rig.pump()
    sock = rig.gateway.current
    assert sock.session_id == "sess1"
    assert ("POST", "/tickle") in rig.session.requests
    assert sock.sent[:2] == [
        'smd+265598+{"fields": ["31", "84", "86"]}',
        'smd+8314+{"fields": ["31", "84", "86"]}',
    ]
    assert {"sor+{}", "spl+{}", 'str+{"realtimeUpdatesOnly":true,"days":1}'} <= set(sock.sent)


def test_latest_merges_the_changed_fields_of_each_smd_message() -> None:
    rig = Rig()
    rig.stream.subscribe_quotes([265598])
    rig.pump()
    assert rig.stream.latest(265598) is None
    rig.gateway.current.push(smd(265598, **{"31": "168.42", "84": "168.41", "86": "168.43"}))
    rig.gateway.current.push(smd(265598, **{"84": "168.40", "_updated": 1767625200000}))
    rig.pump()
    quote = rig.stream.latest(265598)
    assert quote is not None
    assert (quote.last, quote.bid, quote.ask) == (168.42, 168.40, 168.43)
    assert quote.updated is not None
    assert quote.updated.year == 2026
    assert quote.received_at == rig.clock.now()
    assert quote.stale is False


def test_an_unchanged_smd_message_is_no_event() -> None:
    rig = Rig()
    rig.stream.subscribe_quotes([8314])
    rig.pump()
    rig.gateway.current.push(smd(8314, **{"31": "190.10"}))
    rig.pump()
    rig.gateway.current.push(smd(8314, **{"31": "190.10", "_updated": 2}))
    rig.pump()
    events = rig.drain()
    assert [type(event) for event in events] == [QuoteEvent]
    assert isinstance(events[0], QuoteEvent)
    assert events[0].changed == frozenset({"31"})


def test_unsubscribe_sends_umd_and_forgets_the_quote() -> None:
    rig = Rig()
    rig.stream.subscribe_quotes([265598, 8314])
    rig.pump()
    rig.gateway.current.push(smd(265598, **{"31": "1.0"}))
    rig.pump()
    rig.stream.unsubscribe_quotes(265598)
    rig.pump()
    assert "umd+265598+{}" in rig.gateway.current.sent
    assert rig.stream.latest(265598) is None
    rig.gateway.current.push(smd(265598, **{"31": "2.0"}))  # in flight when we unsubscribed
    rig.pump()
    assert rig.stream.latest(265598) is None


def test_order_updates_merge_per_order_id_and_carry_our_coid() -> None:
    rig = Rig()
    rig.stream.subscribe_orders()
    rig.pump()
    rig.gateway.current.push(
        sor(
            {
                "orderId": 111,
                "conid": 265598,
                "status": "Submitted",
                "filledQuantity": 0,
                "remainingQuantity": 10,
                "order_ref": "bot-1",
            }
        )
    )
    rig.gateway.current.push(
        sor({"orderId": 111, "status": "Filled", "filledQuantity": 10, "remainingQuantity": 0})
    )
    rig.pump()
    events = [event for event in rig.drain() if isinstance(event, OrderEvent)]
    assert [(e.status, e.filled_quantity, e.coid) for e in events] == [
        ("Submitted", 0.0, "bot-1"),
        ("Filled", 10.0, "bot-1"),
    ]
    assert events[-1].order.coid == "bot-1"
    assert rig.stream.orders()["111"]["order_ref"] == "bot-1"


def test_a_repeated_order_row_is_delivered_once() -> None:
    rig = Rig()
    rig.stream.subscribe_orders()
    rig.pump()
    row = {"orderId": "7", "status": "Filled", "filledQuantity": "1,000", "order_ref": "c7"}
    rig.gateway.current.push(sor(row))
    rig.gateway.current.push(sor({**row, "filledQuantity": 1000.0, "lastExecutionTime_r": 5}))
    rig.pump()
    assert len([e for e in rig.drain() if isinstance(e, OrderEvent)]) == 1


def test_trades_arrive_once_per_execution_id() -> None:
    rig = Rig()
    rig.stream.subscribe_trades()
    rig.pump()
    trade = {"execution_id": "0001.01", "conid": 265598, "size": 10, "order_ref": "bot-1"}
    rig.gateway.current.push({"topic": "str", "args": [trade]})
    rig.gateway.current.push({"topic": "str", "args": [trade]})
    rig.pump()
    trades = [e for e in rig.drain() if isinstance(e, TradeEvent)]
    assert [(t.execution_id, t.coid, t.conid) for t in trades] == [("0001.01", "bot-1", 265598)]


def test_pnl_rows_merge_and_the_latest_wins() -> None:
    rig = Rig()
    rig.stream.subscribe_pnl()
    rig.pump()
    rig.gateway.current.push({"topic": "spl", "args": {"U1.Core": {"dpl": 1.0, "upl": 5.0}}})
    rig.gateway.current.push({"topic": "spl", "args": {"U1.Core": {"dpl": 2.0}}})
    rig.pump()
    events = rig.drain()
    assert len(events) == 1
    assert rig.stream.pnl() == {"U1.Core": {"dpl": 2.0, "upl": 5.0}}


def test_callbacks_see_every_event_on_the_reader() -> None:
    rig = Rig()
    seen: list[float | None] = []
    orders: list[str] = []
    rig.stream.on_quote(lambda event: seen.append(event.quote.last))
    rig.stream.on_order(lambda event: orders.append(event.order_id))
    rig.stream.on_event(lambda event: None)
    rig.stream.subscribe_quotes([1])
    rig.stream.subscribe_orders()
    rig.pump()
    for price in ("1.0", "1.5", "2.0"):
        rig.gateway.current.push(smd(1, **{"31": price}))
    rig.gateway.current.push(sor({"orderId": 9, "status": "Submitted"}))
    rig.pump(5)
    assert seen == [1.0, 1.5, 2.0]
    assert orders == ["9"]


def test_a_callback_that_raises_does_not_stop_the_stream() -> None:
    rig = Rig()

    def boom(event: object) -> None:
        raise RuntimeError("user bug")

    rig.stream.on_event(boom)
    rig.stream.subscribe_quotes([1])
    rig.pump()
    rig.gateway.current.push(smd(1, **{"31": "3.0"}))
    rig.pump()
    quote = rig.stream.latest(1)
    assert quote is not None
    assert quote.last == 3.0


@pytest.mark.parametrize("conids", [[0], ["AAPL"], [], [-5], [True]])
def test_bad_conids_are_refused_before_anything_is_sent(conids: list[object]) -> None:
    rig = Rig()
    with pytest.raises(InvalidRequestError):
        rig.stream.subscribe_quotes(conids)  # type: ignore[arg-type]
    rig.pump()
    assert not any(text.startswith("smd") for text in rig.gateway.current.sent)


def test_bad_fields_are_refused() -> None:
    rig = Rig()
    with pytest.raises(InvalidRequestError, match="fields"):
        rig.stream.subscribe_quotes([1], fields=("last",))


def test_a_closed_stream_refuses_new_subscriptions_and_closes_its_socket() -> None:
    rig = Rig()
    rig.pump()
    rig.stream.close()
    assert rig.gateway.current.closed
    with pytest.raises(StreamClosedError):
        rig.stream.subscribe_orders()
    assert list(rig.stream.events(timeout=0)) == []


def test_finished_orders_are_forgotten_beyond_the_cap_working_ones_never() -> None:
    rig = Rig()
    rig.stream.subscribe_orders()
    rig.pump()
    rig.gateway.current.push(sor({"orderId": "working", "status": "Submitted"}))
    rows = [{"orderId": n, "status": "Filled", "filledQuantity": 1} for n in range(10_050)]
    rig.gateway.current.push(sor(*rows))
    rig.pump()
    orders = rig.stream.orders()
    assert len(orders) <= 10_001
    assert "working" in orders
    assert "10049" in orders  # the newest are kept
