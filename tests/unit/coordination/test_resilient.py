"""Degraded mode, in virtual time: one warning when the backend goes, one note when it is
back, the backend asked at most once per retry interval, the share of the limits."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import pytest

from ibkr_session.coordination import (
    Budget,
    Coordinator,
    Grant,
    MemoryStore,
    ResilientStore,
    StoreUnavailableError,
    Wait,
)
from ibkr_session.logs import EVENT_ATTRIBUTE

T = TypeVar("T")


class FlakyStore:
    """A shared store that can be switched off; counts the updates it was asked for."""

    kind = "flaky"

    def __init__(self, inner: MemoryStore | None = None) -> None:
        self.inner = inner if inner is not None else MemoryStore()
        self.down = False
        self.asked = 0
        self.closed = False

    def update(self, keys: Sequence[str], change: Callable[[dict[str, Any]], T]) -> T:
        self.asked += 1
        if self.down:
            raise StoreUnavailableError("switched off")
        return self.inner.update(keys, change)

    def close(self) -> None:
        self.closed = True


class Ticker:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def flaky() -> FlakyStore:
    return FlakyStore()


@pytest.fixture
def ticker() -> Ticker:
    return Ticker()


@pytest.fixture
def store(flaky: FlakyStore, ticker: Ticker) -> ResilientStore:
    return ResilientStore(flaky, retry_interval=3.0, monotonic=ticker)


def coordinator_over(flaky: FlakyStore, ticker: Ticker) -> Coordinator:
    """A manager's coordinator over ``flaky`` with the rules ``open_store`` gives a shared
    backend: what an outage starts from, and how a rejoin merges."""
    store = ResilientStore(
        flaky,
        retry_interval=3.0,
        monotonic=ticker,
        remember=Coordinator.remembered,
        outage_value=Coordinator.outage_value,
        rejoin_value=Coordinator.rejoin_value,
    )
    return Coordinator(store, namespace="gw")


def events(caplog: pytest.LogCaptureFixture) -> list[tuple[str, int]]:
    found = []
    for record in caplog.records:
        event = getattr(record, EVENT_ATTRIBUTE, {}).get("event", "")
        if event.startswith("coordination."):
            found.append((event, record.levelno))
    return found


@pytest.fixture(autouse=True)
def _logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ibkr_session.coordination")


def bump(values: dict[str, Any]) -> int:
    values["n"] = int(values.get("n", 0)) + 1
    return int(values["n"])


def acquainted(ticker: Ticker, at: float) -> list[Coordinator]:
    """Two managers over one shared store, each having seen the other send just before
    ``at``; ranked by name, as the turns of a degraded row rank them."""
    inner = MemoryStore()
    managers = [
        Coordinator(ResilientStore(FlakyStore(inner), monotonic=ticker), namespace="gw")
        for _ in range(2)
    ]
    gateway = Budget("gateway", capacity=10, window=1.0)
    for now in (at - 0.10, at - 0.05, at - 0.01):
        for manager in managers:
            grant = manager.take_slot([gateway], now)
            assert isinstance(grant, Grant)
            manager.finish_slot(grant, now)
    return sorted(managers, key=lambda manager: manager.holder)


def cut_off(manager: Coordinator) -> None:
    """Switch off the shared store as ``manager`` reaches it."""
    manager.store.backend.down = True  # type: ignore[attr-defined]


def send_alone_then_restart_empty(
    me: Coordinator, budget: Budget, at: float, flaky: FlakyStore, ticker: Ticker
) -> None:
    """One request sent alone at ``at``; then the backend is back, empty (a Redis
    restarted), and the next update probes it."""
    alone = me.take_slot([budget], at)
    assert isinstance(alone, Grant)
    me.finish_slot(alone, at)
    flaky.inner = MemoryStore()
    flaky.down = False
    ticker.now += 3.0


def test_healthy_updates_go_to_the_backend(store: ResilientStore, flaky: FlakyStore) -> None:
    assert [store.update(["n"], bump) for _ in range(3)] == [1, 2, 3]
    assert flaky.asked == 3
    assert not store.degraded
    assert store.kind == "flaky"


def test_a_lost_backend_is_one_warning_and_local_updates(
    store: ResilientStore,
    flaky: FlakyStore,
    ticker: Ticker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store.update(["n"], bump)
    flaky.down = True
    assert store.update(["n"], bump) == 1  # local: it starts empty
    assert store.degraded
    for _ in range(50):
        ticker.now += 0.01
        store.update(["n"], bump)
    assert flaky.asked == 2  # inside the retry interval the backend is left alone
    assert events(caplog) == [("coordination.degraded", logging.WARNING)]
    assert store.degradations == 1


def test_the_backend_is_probed_once_per_interval_and_rejoined(
    store: ResilientStore,
    flaky: FlakyStore,
    ticker: Ticker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    flaky.down = True
    store.update(["n"], bump)
    ticker.now += 2.9
    store.update(["n"], bump)
    assert flaky.asked == 1
    ticker.now += 0.1
    store.update(["n"], bump)  # the probe: still down
    assert flaky.asked == 2
    ticker.now += 3.0
    flaky.down = False
    assert store.update(["n"], bump) == 1  # the shared value, not the local 3
    assert not store.degraded
    for _ in range(3):
        store.update(["n"], bump)
    assert events(caplog) == [
        ("coordination.degraded", logging.WARNING),
        ("coordination.rejoined", logging.INFO),
    ]
    flaky.down = True
    store.update(["n"], bump)
    assert store.update(["n"], bump) == 2  # a second outage starts from a fresh local store
    assert store.degradations == 2


def test_a_bug_in_a_change_is_not_swallowed(store: ResilientStore, flaky: FlakyStore) -> None:
    def broken(values: dict[str, Any]) -> None:
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        store.update(["n"], broken)
    flaky.down = True
    with pytest.raises(ZeroDivisionError):
        store.update(["n"], broken)


def test_close_closes_the_backend_and_never_fails(store: ResilientStore, flaky: FlakyStore) -> None:
    store.close()
    assert flaky.closed

    class Broken(FlakyStore):
        def close(self) -> None:
            raise OSError("already gone")

    ResilientStore(Broken()).close()


def test_the_share_is_one_over_the_workers_last_seen(
    store: ResilientStore, flaky: FlakyStore
) -> None:
    me = Coordinator(store, namespace="gw")
    others = [Coordinator(flaky.inner, namespace="gw") for _ in range(3)]
    for other in others:
        other.heartbeat(100.0, 30.0)
    assert (me.degraded, me.share) == (False, 1.0)
    me.heartbeat(100.0, 30.0)
    assert me.share == 1.0  # shared: the budgets are counted together, all of them
    flaky.down = True
    me.heartbeat(101.0, 30.0)  # degraded here: the local count (1) is not believed
    assert me.degraded
    assert me.share == 0.25


def test_the_share_without_any_heartbeat_is_the_whole(
    store: ResilientStore, flaky: FlakyStore
) -> None:
    me = Coordinator(store, namespace="gw")
    flaky.down = True
    assert isinstance(me.take_slot([Budget("global", capacity=1, window=1.0)], 0.0), Grant)
    assert me.degraded
    assert me.share == 1.0


def test_operations_keep_answering_while_degraded(store: ResilientStore, flaky: FlakyStore) -> None:
    me = Coordinator(store, namespace="gw")
    flaky.down = True
    budget = Budget("global", capacity=1, window=1.0)
    grant = me.take_slot([budget], 0.0)
    assert isinstance(grant, Grant)
    assert isinstance(me.take_slot([budget], 0.1), Wait)  # local pacing still holds
    me.finish_slot(grant, 0.2)
    me.penalize(50.0)
    assert me.acquire("keepalive", 10.0, 0.0)
    assert me.holder_of("keepalive", 1.0) is not None
    assert me.new_generation(0) == 1
    assert me.session().penalty_until == 50.0
    me.leave()


def test_an_outage_starts_from_the_known_penalty_and_session_not_from_others_holds(
    flaky: FlakyStore, ticker: Ticker
) -> None:
    store = ResilientStore(
        flaky, retry_interval=3.0, monotonic=ticker, remember=Coordinator.remembered
    )
    me = Coordinator(store, namespace="gw")
    other = Coordinator(flaky.inner, namespace="gw")
    budget = Budget("global", capacity=1, window=1.0)
    assert isinstance(other.take_slot([budget], 0.0), Grant)  # in flight elsewhere
    assert other.acquire("keepalive", 30.0, 0.0)
    assert me.new_generation(0) == 1
    me.select_account("U7654321")
    me.penalize(500.0)
    flaky.down = True
    wait = me.take_slot([budget], 100.0)
    assert isinstance(wait, Wait)
    assert wait.reason == "penalty box"  # known before the outage: still kept
    session = me.session()
    assert (session.generation, session.account_id) == (1, "U7654321")
    assert me.new_generation(1) == 2  # counted on from the shared value, not from 0
    assert isinstance(me.take_slot([budget], 500.0), Grant)  # others' entries not copied
    assert me.acquire("keepalive", 30.0, 500.0)  # nor their leases


def test_a_generation_never_goes_back_when_a_store_forgot_it() -> None:
    forgetful = Coordinator(MemoryStore(), namespace="gw")
    assert forgetful.new_generation(7) == 8
    assert forgetful.new_generation(7) == 8  # the others who saw 7 get the moved value
    assert forgetful.new_generation(3) == 8  # a manager far behind learns the current one


def test_an_outage_starts_from_the_known_windows_with_others_requests_answered(
    flaky: FlakyStore, ticker: Ticker
) -> None:
    me = coordinator_over(flaky, ticker)
    other = Coordinator(flaky.inner, namespace="gw")
    rate = Budget("tickle", capacity=1, window=1.0)
    history = Budget("history", concurrency=1)
    assert isinstance(other.take_slot([rate], 100.0), Grant)  # in flight elsewhere
    assert isinstance(other.take_slot([history], 100.0), Grant)
    me.take_slot([rate], 100.1)  # seen through the shared store: a Wait
    me.take_slot([history], 100.1)
    flaky.down = True
    me.session()  # the first update after the loss finds out
    assert me.share == 0.5  # the other manager was seen sending
    wait = me.take_slot([rate], 100.5)
    assert isinstance(wait, Wait)  # the known window (or this manager's turn) first
    assert not wait.in_flight  # the other's request counts as answered when it left
    assert isinstance(me.take_slot([history], 100.5), Grant)  # never heard of again: freed


def test_degraded_budgets_are_this_managers_share(flaky: FlakyStore, ticker: Ticker) -> None:
    """Four managers were sending: alone, each keeps a quarter of every limit."""
    store = ResilientStore(flaky, retry_interval=3.0, monotonic=ticker)
    me = Coordinator(store, namespace="gw")
    others = [Coordinator(flaky.inner, namespace="gw") for _ in range(3)]
    gateway = Budget("gateway", capacity=10, window=1.0)
    for index, other in enumerate(others):
        grant = other.take_slot([gateway], 19.5 + index / 10)
        assert isinstance(grant, Grant)
        other.finish_slot(grant, 19.5 + index / 10)
    grant = me.take_slot([gateway], 20.0)
    assert isinstance(grant, Grant)
    me.finish_slot(grant, 20.0)
    flaky.down = True
    me.session()
    assert me.share == 0.25
    granted = [me.take_slot([gateway], 30.0) for _ in range(4)]
    assert [type(result).__name__ for result in granted] == ["Grant", "Grant", "Wait", "Wait"]
    history = Budget("history", concurrency=5)
    assert [type(me.take_slot([history], 30.0)).__name__ for _ in range(2)] == ["Grant", "Wait"]


def test_rows_too_small_to_split_are_taken_in_turns(ticker: Ticker) -> None:
    """1 per 5 s cannot be halved: two managers cut off send in turns, a window apart."""
    managers = acquainted(ticker, 100.0)
    for manager in managers:
        cut_off(manager)
        manager.session()
    orders = Budget("orders", capacity=1, window=5.0)
    sent: list[tuple[float, int]] = []
    now = 100.0
    while now < 200.0:
        for index, manager in enumerate(managers):
            result = manager.take_slot([orders], now)
            if isinstance(result, Grant):
                manager.finish_slot(result, now)
                sent.append((now, index))
            else:
                assert result.reason in ("orders", "orders (turns while degraded)")
        now += 0.25
    assert {index for _now, index in sent} == {0, 1}
    for (earlier, _first), (later, _second) in itertools.pairwise(sent):
        assert later - earlier >= 5.0  # a whole window apart, whoever sent
    assert len(sent) >= 8  # one per 20 s each: a quarter each, half of the row in all


def test_the_request_that_finds_the_store_gone_keeps_to_the_share_and_the_turns(
    ticker: Ticker,
) -> None:
    """No update before it noticed the outage: the slot that meets the dead store is
    already alone, so it waits for this manager's turn and gets half the gateway row."""
    _first, later = acquainted(ticker, 99.0)
    gateway = Budget("gateway", capacity=10, window=1.0)
    tickle = Budget("tickle", capacity=1, window=1.0)
    cut_off(later)
    # 100.0 is in the first-ranked manager's turn (windows 0-1 of every 4 s), not the other's.
    turn = later.take_slot([gateway, tickle], 100.0)
    assert isinstance(turn, Wait)
    assert turn.reason == "tickle (turns while degraded)"
    granted = [later.take_slot([gateway], 100.0) for _ in range(6)]
    assert [type(result).__name__ for result in granted] == ["Grant"] * 5 + ["Wait"]


def test_a_row_too_small_to_split_waits_a_window_after_going_alone(ticker: Ticker) -> None:
    """The other manager took the one tickle place just before the store went, in an
    update this one never read: even in its turn, this one waits out that window."""
    me, other = acquainted(ticker, 98.0)
    tickle = Budget("tickle", capacity=1, window=1.0)
    unseen = other.take_slot([tickle], 99.9)
    assert isinstance(unseen, Grant)
    cut_off(me)
    now = 100.0  # in my turn (windows 0-1 of every 4 s)
    while not isinstance(me.take_slot([tickle], now), Grant):
        now += 0.125
    assert now >= 99.9 + 1.0


def test_an_outage_starts_from_the_last_commit_whatever_order_threads_return_in(
    flaky: FlakyStore, ticker: Ticker
) -> None:
    """A thread held up between its commit and remembering it must not overwrite the
    memory of a later commit: that request would be unknown to the outage's windows."""
    import threading

    me = coordinator_over(flaky, ticker)
    gateway = Budget("gateway", capacity=2, window=10.0)
    committed, go_on = threading.Event(), threading.Event()
    plain = flaky.update

    def held_after_commit(keys: Sequence[str], change: Callable[[dict[str, Any]], T]) -> T:
        flaky.update = plain  # type: ignore[method-assign]
        result = plain(keys, change)
        committed.set()
        go_on.wait(10)
        return result

    flaky.update = held_after_commit  # type: ignore[method-assign]
    held = threading.Thread(target=me.take_slot, args=([gateway], 100.0))
    held.start()
    assert committed.wait(10)
    other = threading.Thread(target=me.take_slot, args=([gateway], 100.1))
    other.start()
    other.join(0.2)
    go_on.set()
    held.join(10)
    other.join(10)
    flaky.down = True
    wait = me.take_slot([gateway], 100.2)  # alone now: both requests count, a full row
    assert isinstance(wait, Wait)
    assert wait.reason == "gateway"


def test_on_rejoining_what_was_sent_alone_joins_the_shared_windows(
    flaky: FlakyStore, ticker: Ticker
) -> None:
    me = coordinator_over(flaky, ticker)
    gateway = Budget("gateway", capacity=2, window=100.0)
    grant = me.take_slot([gateway], 0.0)
    assert isinstance(grant, Grant)
    me.finish_slot(grant, 0.0)
    assert me.new_generation(0) == 1
    flaky.down = True
    alone = me.take_slot([gateway], 1.0)
    assert isinstance(alone, Grant)
    me.finish_slot(alone, 1.0)
    me.penalize(50.0)
    flaky.inner = MemoryStore()  # the backend comes back empty (a Redis restarted)
    flaky.down = False
    ticker.now += 3.0
    me.session()  # the probe: rejoined
    assert not me.degraded
    assert me.cautious  # for a grace period the others may still be alone
    other = Coordinator(flaky.inner, namespace="gw")
    assert other.session().generation == 1
    assert other.session().penalty_until == 50.0
    wait = other.take_slot([gateway], 51.0)  # both entries (0.0 shared, 1.0 alone) count
    assert isinstance(wait, Wait)
    ticker.now += 6.0
    assert not me.cautious


def test_the_request_that_finds_the_backend_back_counts_what_was_sent_alone(
    flaky: FlakyStore, ticker: Ticker
) -> None:
    """A Redis restarted empty: the first update that reaches it again is itself a
    request's slot, and the tickle sent alone half a second before must count in it."""
    me = coordinator_over(flaky, ticker)
    tickle = Budget("tickle", capacity=1, window=1.0)
    before = me.take_slot([tickle], 0.0)
    assert isinstance(before, Grant)
    me.finish_slot(before, 0.0)
    flaky.down = True
    send_alone_then_restart_empty(me, tickle, 10.0, flaky, ticker)
    probe = me.take_slot([tickle], 10.5)  # reaches the backend: rejoins
    assert not me.degraded
    assert isinstance(probe, Wait)
    assert probe.seconds == pytest.approx(0.5)


def test_a_row_first_used_alone_joins_the_shared_windows_on_rejoining(
    flaky: FlakyStore, ticker: Ticker
) -> None:
    """An endpoint called for the first time during the outage has no shared value to
    remember: its request still reaches the shared windows when the backend is back."""
    me = coordinator_over(flaky, ticker)
    flaky.down = True
    scanner = Budget("scanner", capacity=1, window=60.0)
    send_alone_then_restart_empty(me, scanner, 10.0, flaky, ticker)
    me.session()  # the probe: rejoined
    assert not me.degraded
    other = Coordinator(flaky.inner, namespace="gw")
    assert isinstance(other.take_slot([scanner], 20.0), Wait)


def test_an_update_made_while_a_rejoin_merges_is_not_lost(
    flaky: FlakyStore, ticker: Ticker
) -> None:
    """Another thread's update during the rejoin's round trip waits for it and reaches the
    backend: made locally, it would have missed the merge and been forgotten."""
    import threading

    store = ResilientStore(flaky, retry_interval=3.0, monotonic=ticker)
    flaky.down = True
    store.update(["n"], bump)  # degraded now
    flaky.down = False
    ticker.now += 3.0
    merging, go_on = threading.Event(), threading.Event()
    first_call = flaky.update

    def slow_merge(keys: Sequence[str], change: Callable[[dict[str, Any]], T]) -> T:
        flaky.update = first_call  # type: ignore[method-assign]
        merging.set()
        go_on.wait(10)
        return first_call(keys, change)

    flaky.update = slow_merge  # type: ignore[method-assign]
    prober = threading.Thread(target=store.update, args=(["n"], bump))
    prober.start()
    assert merging.wait(10)
    other = threading.Thread(target=store.update, args=(["n"], bump))
    other.start()
    other.join(0.2)
    assert other.is_alive()  # it waits for the rejoin instead of going local
    go_on.set()
    prober.join(10)
    other.join(10)
    assert flaky.inner.update(["n"], lambda values: values["n"]) == 2  # both reached it
