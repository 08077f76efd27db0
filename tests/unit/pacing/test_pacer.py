"""Pacer behaviour per row of the table, on virtual time: the waits a worker would see."""

from __future__ import annotations

import datetime as dt
import functools
import math
import threading

import pytest

from ibkr_session.clock import ManualClock
from ibkr_session.coordination import Coordinator, MemoryStore
from ibkr_session.endpoints import PACING_ROWS, PacingRow
from ibkr_session.errors import RateLimitedError
from ibkr_session.pacing import MAX_DEFER, Pacer, defer_for

approx = functools.partial(pytest.approx, abs=1e-4)
"""Send times to the clock's grain: wall readings are microsecond datetimes."""

ROW_EXAMPLES = {
    "gateway": ("GET", "/portfolio/U1/summary"),
    "snapshot": ("GET", "/iserver/marketdata/snapshot"),
    "orders": ("GET", "/iserver/account/orders"),
    "trades": ("GET", "/iserver/account/trades"),
    "pnl": ("GET", "/iserver/account/pnl/partitioned"),
    "portfolio-accounts": ("GET", "/portfolio/accounts"),
    "portfolio-subaccounts": ("GET", "/portfolio/subaccounts"),
    "scanner-params": ("GET", "/iserver/scanner/params"),
    "scanner-run": ("POST", "/iserver/scanner/run"),
    "pa-performance": ("POST", "/pa/performance"),
    "pa-summary": ("POST", "/pa/summary"),
    "pa-transactions": ("POST", "/pa/transactions"),
    "fyi-unreadnumber": ("GET", "/fyi/unreadnumber"),
    "fyi-settings": ("GET", "/fyi/settings"),
    "fyi-disclaimer": ("GET", "/fyi/disclaimer/CODE"),
    "fyi-deliveryoptions": ("GET", "/fyi/deliveryoptions"),
    "fyi-notifications": ("GET", "/fyi/notifications"),
    "tickle": ("POST", "/tickle"),
    "sso-validate": ("GET", "/sso/validate"),
}


def send_times(pacer: Pacer, clock: ManualClock, requests: list[tuple[str, str]]) -> list[float]:
    """Send each request through the pacer back to back; return when each one left."""
    times = []
    for method, path in requests:
        with pacer.slot(method, path):
            times.append(round(clock.monotonic(), 4))
    return times


def test_whole_gateway_lets_ten_through_then_waits_for_the_stretched_window() -> None:
    clock = ManualClock()
    times = send_times(Pacer(clock), clock, [("GET", "/portfolio/U1/summary")] * 11)
    assert times[:10] == [0.0] * 10
    assert times[10] == approx(1 / 0.9)


def test_safety_one_uses_the_exact_documented_limit() -> None:
    clock = ManualClock()
    times = send_times(Pacer(clock, safety=1.0), clock, [("GET", "/iserver/accounts")] * 21)
    assert times[10] == approx(1.0)
    assert times[20] == approx(2.0)


@pytest.mark.parametrize(
    ("method", "path", "per"),
    [
        ("GET", "/iserver/account/orders", 5.0),
        ("GET", "/iserver/account/trades", 5.0),
        ("GET", "/iserver/account/pnl/partitioned", 5.0),
        ("GET", "/portfolio/accounts", 5.0),
        ("GET", "/portfolio/subaccounts", 5.0),
        ("POST", "/tickle", 1.0),
        ("GET", "/sso/validate", 60.0),
    ],
)
def test_one_request_limits_space_requests_by_the_stretched_period(
    method: str, path: str, per: float
) -> None:
    clock = ManualClock()
    times = send_times(Pacer(clock), clock, [(method, path)] * 3)
    assert times == approx([0.0, per / 0.9, 2 * per / 0.9])


def test_the_two_account_lists_are_two_budgets() -> None:
    clock = ManualClock()
    pacer = Pacer(clock)
    requests = [("GET", "/portfolio/accounts"), ("GET", "/portfolio/subaccounts")]
    assert send_times(pacer, clock, requests) == [0.0, 0.0]


def test_every_row_of_the_table_has_an_example_here() -> None:
    assert set(ROW_EXAMPLES) | {"history"} == set(PACING_ROWS)


def test_query_string_does_not_hide_an_endpoint_from_its_limit() -> None:
    clock = ManualClock()
    times = send_times(Pacer(clock), clock, [("GET", "/iserver/account/orders?force=false")] * 2)
    assert times[1] == approx(5 / 0.9)


def test_limits_apply_only_to_their_own_method_and_path() -> None:
    clock = ManualClock()
    requests = [
        ("GET", "/iserver/account/orders"),
        ("POST", "/iserver/account/U1/orders"),  # placing an order is not the orders list
        ("GET", "/portfolio/U1/positions/0"),
        ("GET", "/tickle"),  # the tickle limit is for POST
        ("POST", "/tickle"),
    ]
    assert send_times(Pacer(clock), clock, requests) == [0.0] * 5


def test_a_snapshot_counts_against_the_whole_gateway_too() -> None:
    clock = ManualClock()
    requests = [("GET", "/iserver/marketdata/snapshot")] * 10 + [("GET", "/portfolio/U1/ledger")]
    times = send_times(Pacer(clock), clock, requests)
    assert times[10] == approx(1 / 0.9)


@pytest.mark.parametrize("name", sorted(ROW_EXAMPLES))
def test_a_busy_worker_achieves_the_permitted_rate_of_each_row(name: str) -> None:
    row = PACING_ROWS[name]
    assert row.rate is not None
    clock = ManualClock()
    pacer = Pacer(clock, rows={name: row})
    count = int(row.rate) * 20 + 1
    times = send_times(pacer, clock, [ROW_EXAMPLES[name]] * count)
    achieved = (count - 1) / times[-1]
    permitted = row.rate / row.per * 0.9
    assert achieved >= 0.95 * permitted
    assert achieved <= permitted * (1 + 1e-4)


def test_penalty_holds_every_request_until_it_is_over() -> None:
    clock = ManualClock()
    pacer = Pacer(clock)
    pacer.penalize(600)
    clock.advance(100)
    pacer.penalize(30)  # a shorter penalty never shortens the running one
    times = send_times(pacer, clock, [("POST", "/tickle"), ("GET", "/portfolio/U1/ledger")])
    assert times == [600.0, 600.0]


def test_penalty_in_the_past_changes_nothing() -> None:
    clock = ManualClock()
    pacer = Pacer(clock)
    pacer.penalize(5)
    clock.advance(10)
    assert send_times(pacer, clock, [("GET", "/iserver/accounts")]) == [10.0]


def test_history_allows_five_in_flight_and_the_sixth_waits_for_a_release() -> None:
    pacer = Pacer(ManualClock())
    entered = threading.Semaphore(0)
    release = threading.Event()
    sixth_in = threading.Event()

    def hold() -> None:
        with pacer.slot("GET", "/iserver/marketdata/history"):
            entered.release()
            release.wait()

    def sixth() -> None:
        with pacer.slot("GET", "/iserver/marketdata/history"):
            sixth_in.set()

    holders = [threading.Thread(target=hold) for _ in range(5)]
    for thread in holders:
        thread.start()
    for _ in range(5):
        assert entered.acquire(timeout=5)
    late = threading.Thread(target=sixth)
    late.start()
    assert not sixth_in.wait(timeout=0.2)
    release.set()
    assert sixth_in.wait(timeout=5)
    for thread in [*holders, late]:
        thread.join(timeout=5)


def test_many_threads_never_have_more_than_the_concurrency_limit_in_flight() -> None:
    pacer = Pacer(ManualClock(), rows={"history": PacingRow("history", concurrency=5)})
    together = threading.Barrier(5)
    lock = threading.Lock()
    in_flight, peak, done = 0, 0, 0

    def request() -> None:
        nonlocal in_flight, peak, done
        with pacer.slot("GET", "/iserver/marketdata/history"):
            with lock:
                in_flight += 1
                peak = max(peak, in_flight)
            together.wait(timeout=5)  # five at once must fit, or this breaks
            with lock:
                in_flight -= 1
                done += 1

    threads = [threading.Thread(target=request) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert (peak, done) == (5, 20)


class _SendTimeSpy(ManualClock):
    """Remembers, per thread, the last reading the pacer took: the moment it let it go."""

    def __init__(self) -> None:
        super().__init__()
        self.local = threading.local()

    def now(self) -> dt.datetime:
        reading = super().now()
        self.local.last = reading.timestamp()
        return reading


def test_threads_sharing_a_pacer_never_jointly_exceed_a_rate_limit() -> None:
    clock = _SendTimeSpy()
    pacer = Pacer(clock, rows={"gateway": PACING_ROWS["gateway"]}, safety=1.0)
    lock = threading.Lock()
    sent: list[float] = []

    def worker() -> None:
        for _ in range(15):
            with pacer.slot("GET", "/portfolio/U1/summary"), lock:
                sent.append(clock.local.last)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    sent.sort()
    assert len(sent) == 120
    pairs = zip(sent, sent[10:], strict=False)
    assert all(later - earlier >= 1.0 - 1e-6 for earlier, later in pairs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rate": None},
        {"rate": 0},
        {"rate": float("nan")},
        {"rate": 1, "per": 0},
        {"rate": None, "concurrency": 0},
    ],
)
def test_a_row_that_cannot_be_kept_is_refused(kwargs: dict[str, float | None]) -> None:
    with pytest.raises(ValueError, match="pacing row 'x'"):
        PacingRow("x", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("safety", [0, -0.5, 1.5])
def test_a_safety_outside_zero_to_one_is_refused(safety: float) -> None:
    with pytest.raises(ValueError, match="safety"):
        Pacer(ManualClock(), safety=safety)


def test_a_negative_penalty_is_refused() -> None:
    with pytest.raises(ValueError, match="penalty"):
        Pacer(ManualClock()).penalize(-1)


def test_fractional_rate_becomes_one_request_per_longer_window() -> None:
    clock = ManualClock()
    pacer = Pacer(clock, rows={"gateway": PacingRow("gateway", rate=0.5)}, safety=1.0)
    assert send_times(pacer, clock, [("GET", "/a")] * 3) == approx([0.0, 2.0, 4.0])


def test_a_request_counts_until_its_answer_is_back_not_from_when_it_left() -> None:
    """The gateway counts at arrival: a slow request may arrive as late as its answer."""
    clock = ManualClock()
    pacer = Pacer(clock, rows={"gateway": PACING_ROWS["gateway"]}, safety=1.0)
    with pacer.slot("GET", "/portfolio/U1/ledger"):
        clock.advance(0.8)  # a new TLS connection: the answer comes back 0.8 s later
    starts = send_times(pacer, clock, [("GET", "/portfolio/U1/ledger")] * 10)
    assert starts[:9] == [0.8] * 9
    assert starts[9] == approx(1.8)  # one window after the first answer, not 1.0


def test_a_wait_longer_than_max_wait_is_refused_at_once_with_retry_after() -> None:
    clock = ManualClock()
    pacer = Pacer(clock, max_wait=30.0)
    pacer.penalize(600)
    with pytest.raises(RateLimitedError) as refused, pacer.slot("GET", "/portfolio/U1/ledger"):
        pass
    assert refused.value.retry_after == approx(600)
    assert clock.monotonic() == 0.0  # refused without waiting


def test_a_wild_penalty_is_clamped_to_fifteen_minutes() -> None:
    clock = ManualClock()
    pacer = Pacer(clock)
    pacer.penalize(86_400)
    assert send_times(pacer, clock, [("GET", "/portfolio/U1/ledger")]) == [900.0]


def test_two_pacers_sharing_a_coordinator_share_the_budgets() -> None:
    clock = ManualClock()
    shared = Coordinator(MemoryStore(), namespace="https://localhost:5000")
    shared.use_clock(lambda: clock.now().timestamp())
    first, second = Pacer(clock, shared), Pacer(clock, shared)
    times = send_times(first, clock, [("GET", "/portfolio/accounts")])
    times += send_times(second, clock, [("GET", "/portfolio/accounts")])
    assert times == approx([0.0, 5 / 0.9])


def test_a_fresh_waiter_lets_older_ones_go_first() -> None:
    assert defer_for(2.0, waited=0.0, max_wait=30.0) == MAX_DEFER  # fresh: the most
    assert defer_for(2.0, waited=15.0, max_wait=30.0) == pytest.approx(MAX_DEFER / 2)
    assert defer_for(2.0, waited=30.0, max_wait=30.0) == 0.0  # waited its all: first
    assert defer_for(0.1, waited=0.0, max_wait=30.0) == pytest.approx(0.02)  # a fifth
    assert defer_for(2.0, waited=0.0, max_wait=math.inf) == 0.0


class ProcessesCoordinator(Coordinator):
    """A coordinator as other processes would share it (a file, Redis), on a test clock."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(MemoryStore(), namespace="gw")
        self._test_clock = clock

    @property
    def crosses_processes(self) -> bool:
        return True

    def now(self) -> float:
        return self._test_clock.now().timestamp()


def test_only_waiters_of_a_store_shared_between_processes_defer() -> None:
    """Between processes the first store update wins, so the freshest waiter lets older
    ones go first; threads of one process never wait for that."""
    row = PacingRow("orders", rate=1, per=5.0)
    slept = {}
    for shared in (False, True):
        clock = ManualClock(dt.datetime(2026, 6, 15, 14, 0, tzinfo=dt.UTC))
        if shared:
            coordinator = ProcessesCoordinator(clock)
        else:
            coordinator = Coordinator(MemoryStore(), namespace="gw")
            coordinator.use_clock(lambda clock=clock: clock.now().timestamp())
        pacer = Pacer(clock, coordinator, rows={"orders": row}, safety=1.0, max_wait=30.0)
        with pacer.slot("GET", "/iserver/account/orders"):
            pass
        before = clock.monotonic()
        with pacer.slot("GET", "/iserver/account/orders"):
            slept[shared] = clock.monotonic() - before
    assert slept[False] == pytest.approx(5.0, abs=1e-3)
    assert slept[True] == pytest.approx(5.0 + MAX_DEFER, abs=1e-3)
