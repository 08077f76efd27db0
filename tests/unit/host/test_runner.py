"""``run_worker``: setup once, tick on the clock, survive everything a tick can meet."""

from __future__ import annotations

import datetime as _dt
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ibkr_api.orders import OrderUnconfirmedUnreachableError
from ibkr_host.host import WorkerContext
from ibkr_host.runner import (
    DEFAULT_SETUP_DEADLINE,
    WorkerLoadError,
    WorkerRunner,
    describe_session_error,
    load_worker,
    run_worker,
)
from ibkr_session.clock import ManualClock, SystemClock
from ibkr_session.errors import (
    CompetingSessionError,
    GatewayUnreachableError,
    NotAuthenticatedError,
    RateLimitedError,
    ResetWindowError,
)
from ibkr_session.pacing import PACING_REFUSAL
from tests.logcapture import capture_logs


def reset_error(clock: ManualClock) -> ResetWindowError:
    resumes = _dt.datetime(2026, 1, 6, 6, 10, tzinfo=_dt.UTC)  # 01:10 EST
    return ResetWindowError(
        "reset", retry_after=(resumes - clock.now()).total_seconds(), resumes_at=resumes
    )


def test_ticks_run_every_interval_on_the_clock(client: Any, clock: ManualClock) -> None:
    seen: list[_dt.datetime] = []
    worker = SimpleNamespace(tick=lambda ctx: seen.append(ctx.clock.now()))
    result = run_worker(worker, WorkerContext("w", client=client), interval=60, ticks=4)
    assert result.ticks == 4
    assert [(t - seen[0]).total_seconds() for t in seen] == [0, 60, 120, 180]
    # the session was kept alive between ticks, every 30 virtual seconds
    assert len(client.session.keepalives) == 6


def test_a_bad_tick_is_logged_with_its_traceback_and_the_loop_goes_on(client: Any) -> None:
    calls: list[int] = []

    def tick(ctx: WorkerContext) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise ZeroDivisionError("oops")

    with capture_logs() as events:
        result = run_worker(SimpleNamespace(tick=tick), WorkerContext("w", client=client), ticks=5)
    assert len(calls) == 5
    assert (result.ticks, result.failed, result.paused) == (5, 1, 0)
    failures = [e for e in events if e["event"] == "worker.tick_failed"]
    assert len(failures) == 1
    assert failures[0]["tick"] == 2
    assert failures[0]["exc_info"] is True
    assert "1 failed" in result.describe()


def test_a_session_error_is_one_clear_line_per_episode(client: Any, clock: ManualClock) -> None:
    outcomes: list[Exception | None] = [reset_error(clock)] * 3 + [None, None]

    def tick(ctx: WorkerContext) -> None:
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome

    with capture_logs() as events:
        result = run_worker(
            SimpleNamespace(tick=tick),
            WorkerContext("w", client=client),
            ticks=5,
        )
    assert (result.paused, result.failed) == (3, 0)
    loud = [e for e in events if e["log_level"] in ("warning", "error")]
    assert len(loud) == 1
    assert loud[0]["event"] == "worker.paused"
    assert loud[0]["reason"] == "reset window until 01:10 EST, resuming then"
    assert "exc_info" not in loud[0]
    assert [e["event"] for e in events].count("worker.resumed") == 1


def test_setup_retries_while_the_session_is_not_ready(client: Any, clock: ManualClock) -> None:
    failures: list[Exception] = [
        NotAuthenticatedError(401, "log in at https://localhost:5000"),
        CompetingSessionError(200, "competing"),
        GatewayUnreachableError("connection refused"),
    ]
    setups: list[_dt.datetime] = []

    def setup(ctx: WorkerContext) -> None:
        setups.append(ctx.clock.now())
        if failures:
            raise failures.pop(0)

    worker = SimpleNamespace(setup=setup, tick=lambda ctx: None)
    with capture_logs() as events:
        result = run_worker(worker, WorkerContext("w", client=client), ticks=1, setup_retry=45)
    assert result.setup_attempts == 4
    assert result.ticks == 1
    assert [(t - setups[0]).total_seconds() for t in setups] == [0, 45, 90, 135]
    reasons = [e["reason"] for e in events if e["event"] == "worker.paused"]
    assert reasons == [
        "not authenticated: log in at https://localhost:5000",
        "competing login on another IBKR platform holds the session; waiting",
        "gateway unreachable: connection refused; retrying",
    ]


def test_setup_waits_out_a_reset_window_by_its_retry_after(client: Any, clock: ManualClock) -> None:
    clock.set(_dt.datetime(2026, 1, 6, 5, 58, tzinfo=_dt.UTC))
    error = reset_error(clock)  # 12 minutes left
    attempts: list[_dt.datetime] = []

    def setup(ctx: WorkerContext) -> None:
        attempts.append(ctx.clock.now())
        if len(attempts) == 1:
            raise error

    run_worker(
        SimpleNamespace(setup=setup, tick=lambda ctx: None),
        WorkerContext("w", client=client),
        ticks=0,
    )
    assert attempts[1] == error.resumes_at


def test_a_bug_in_setup_is_not_retried(client: Any) -> None:
    def setup(ctx: WorkerContext) -> None:
        raise KeyError("aapl_conid")

    with pytest.raises(KeyError):
        run_worker(
            SimpleNamespace(setup=setup, tick=lambda ctx: None),
            WorkerContext("w", client=client),
            ticks=3,
        )


def test_time_sleep_in_a_tick_costs_virtual_time_only(client: Any, clock: ManualClock) -> None:
    before_wall = time.monotonic()
    moved: list[float] = []

    def tick(ctx: WorkerContext) -> None:
        start = ctx.clock.monotonic()
        time.sleep(30)
        moved.append(ctx.clock.monotonic() - start)

    run_worker(SimpleNamespace(tick=tick), WorkerContext("w", client=client), ticks=2)
    assert moved[0] >= 30  # the clock's sleep ran
    assert time.monotonic() - before_wall < 5
    assert time.sleep.__module__ == "time"  # restored


def test_overlapping_runs_sleep_on_their_own_clocks_and_restore_time_sleep() -> None:
    clock_a, clock_b = ManualClock(), ManualClock()
    a_inside, a_may_leave = threading.Event(), threading.Event()

    def tick_a(ctx: WorkerContext) -> None:
        a_inside.set()
        a_may_leave.wait(5)
        time.sleep(7)  # while b's tick runs on the main thread

    def tick_b(ctx: WorkerContext) -> None:
        a_may_leave.set()
        runner_a.join(5)  # a's call ends inside b's: the overlap ends out of order
        time.sleep(11)

    runner_a = threading.Thread(
        target=run_worker,
        args=(SimpleNamespace(tick=tick_a), WorkerContext("a", clock=clock_a)),
        kwargs={"ticks": 1},
    )
    start_a, start_b = clock_a.monotonic(), clock_b.monotonic()
    runner_a.start()
    a_inside.wait(5)
    run_worker(SimpleNamespace(tick=tick_b), WorkerContext("b", clock=clock_b), ticks=1)
    assert (clock_a.monotonic() - start_a, clock_b.monotonic() - start_b) == (7, 11)
    assert time.sleep.__module__ == "time"  # restored once the last call ended


def test_ctrl_c_in_a_tick_stops_the_run_cleanly(client: Any) -> None:
    def tick(ctx: WorkerContext) -> None:
        raise KeyboardInterrupt

    result = run_worker(SimpleNamespace(tick=tick), WorkerContext("w", client=client))
    assert result.interrupted
    assert result.ticks == 1
    assert time.sleep.__module__ == "time"


def test_real_time_uses_the_keepalive_thread_and_stops_promptly(client: Any) -> None:
    stop = threading.Event()
    worker = SimpleNamespace(tick=lambda ctx: None)
    runner = WorkerRunner(worker, WorkerContext("w", client=client), clock=SystemClock(), stop=stop)
    timer = threading.Timer(0.05, stop.set)  # wakes the hour-long wait after tick 1
    started = time.monotonic()
    timer.start()
    result = runner.run(interval=3600)
    timer.join()
    assert time.monotonic() - started < 5
    assert result.ticks == 1
    assert (client.session.started, client.session.stopped) == (1, 1)
    assert client.session.keepalives == []  # the manager's own thread does that


def test_a_keepalive_the_host_started_is_left_running(client: Any) -> None:
    client.session.start()  # the host keeps the session alive on its own
    stop = threading.Event()
    stop.set()  # one tick, then stop
    runner = WorkerRunner(
        SimpleNamespace(tick=lambda ctx: None),
        WorkerContext("w", client=client),
        clock=SystemClock(),
        stop=stop,
    )
    runner.run(interval=3600)
    assert client.session.keeping_alive
    assert (client.session.started, client.session.stopped) == (1, 0)


def test_worker_without_a_client_still_runs() -> None:
    seen: list[str] = []
    result = run_worker(
        SimpleNamespace(tick=lambda ctx: seen.append(ctx.name)),
        WorkerContext("solo", clock=ManualClock()),
        ticks=2,
    )
    assert (result.ticks, seen) == (2, ["solo", "solo"])


def test_bad_arguments_are_refused(client: Any) -> None:
    worker = SimpleNamespace(tick=lambda ctx: None)
    with pytest.raises(ValueError, match="interval"):
        run_worker(worker, WorkerContext("w", client=client), interval=0)
    with pytest.raises(WorkerLoadError, match="no tick"):
        run_worker(SimpleNamespace(), WorkerContext("w", client=client))


def test_load_worker_imports_a_recipe_file() -> None:
    examples = Path(__file__).resolve().parents[3] / "examples"
    module = load_worker(examples / "mean_reversion.py")
    assert callable(module.tick)
    assert callable(module.setup)


def test_load_worker_explains_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(WorkerLoadError, match="not found"):
        load_worker(tmp_path / "missing.py")
    empty = tmp_path / "empty.py"
    empty.write_text("def setup(ctx):\n    pass\n")
    with pytest.raises(WorkerLoadError, match="no tick"):
        load_worker(empty)


def test_an_unconfirmed_order_is_a_warning_every_time(client: Any) -> None:
    def tick(ctx: WorkerContext) -> None:
        error = OrderUnconfirmedUnreachableError(
            "outcome of cOID=abc unknown (read timeout); look it up before resending",
            maybe_sent=True,
        )
        raise error

    with capture_logs() as events:
        result = run_worker(SimpleNamespace(tick=tick), WorkerContext("w", client=client), ticks=2)
    warnings = [e for e in events if e["event"] == "worker.order_unconfirmed"]
    assert len(warnings) == 2
    assert "cOID=abc" in warnings[0]["reason"]
    assert (result.paused, result.failed) == (2, 0)


# -- bounded runs always end -------------------------------------------------------------


def competing() -> CompetingSessionError:
    return CompetingSessionError(200, "competing login on TWS")


def test_a_bounded_run_under_an_endless_competing_login_gives_up_on_setup(
    client: Any, clock: ManualClock
) -> None:
    def setup(ctx: WorkerContext) -> None:
        raise competing()

    started = clock.now()
    with capture_logs() as events:
        result = run_worker(SimpleNamespace(setup=setup, tick=lambda ctx: None),
                            WorkerContext("w", client=client), ticks=3)  # fmt: skip
    assert result.ticks == 0
    assert (
        result.setup_gave_up
        == "competing login on another IBKR platform holds the session; waiting"
    )
    assert (clock.now() - started).total_seconds() == DEFAULT_SETUP_DEADLINE
    assert "setup gave up" in result.describe()
    assert [e["log_level"] for e in events if e["event"] == "worker.setup_gave_up"] == ["error"]


def test_setup_deadline_cuts_the_last_wait_short(client: Any, clock: ManualClock) -> None:
    attempts: list[float] = []
    started = clock.monotonic()

    def setup(ctx: WorkerContext) -> None:
        attempts.append(clock.monotonic() - started)
        raise competing()

    worker = SimpleNamespace(setup=setup, tick=lambda ctx: None)
    ctx = WorkerContext("w", client=client)
    result = run_worker(worker, ctx, ticks=1, setup_retry=30, setup_deadline=100)
    assert attempts == [0, 30, 60, 90, 100]
    assert result.setup_gave_up is not None


def test_an_unbounded_run_keeps_retrying_setup_until_stopped(
    client: Any, clock: ManualClock
) -> None:
    stop = threading.Event()
    attempts: list[int] = []

    def setup(ctx: WorkerContext) -> None:
        attempts.append(1)
        if len(attempts) == 200:  # 100 virtual minutes, far beyond no deadline
            stop.set()
        raise competing()

    worker = SimpleNamespace(setup=setup, tick=lambda ctx: None)
    result = run_worker(worker, WorkerContext("w", client=client), setup_retry=30, stop=stop)
    assert len(attempts) == 200
    assert result.setup_gave_up is None


def test_a_bounded_run_whose_ticks_all_meet_a_competing_login_ends(client: Any) -> None:
    def tick(ctx: WorkerContext) -> None:
        raise competing()

    result = run_worker(SimpleNamespace(tick=tick), WorkerContext("w", client=client), ticks=5)
    assert (result.ticks, result.paused) == (5, 5)


def test_a_pause_says_whether_the_gateway_or_our_pacer_refused() -> None:
    ours = RateLimitedError(PACING_REFUSAL, "orders has no room", retry_after=5.55144)
    theirs = RateLimitedError(429, "Too Many Requests", retry_after=600)
    assert describe_session_error(ours) == (
        "IBKR's limits leave no room (nothing was sent); again in 5.6 s"
    )
    assert describe_session_error(theirs) == "rate limited by the gateway; quiet for 600 s"
