"""Soak: ``examples/mean_reversion.py`` hosted by the runner for days of virtual time.

One tick a minute (every five in the short variant) from a Saturday before the US fall-back
(Sunday 1 November 2026, when 01:00 New York happens twice) through nightly resets, idle
expiries (forced by the gateway, or a host that slept 7 minutes) and competing logins.
The verdict:

- 0 crashes: no tick raised anything but a session error;
- 0 ``/iserver`` requests reached the gateway inside its own reset window;
- every tick outside a reset window or a competing login worked: trading resumes within
  one tick of each disturbance;
- the library's memory (allocations made in ``ibkr_session`` and ``ibkr_api``) stays flat.
"""

from __future__ import annotations

import datetime as _dt
import gc
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ibkr_api.client import IbkrClient
from ibkr_host.host import WorkerContext
from ibkr_host.runner import WorkerRunner, load_worker
from ibkr_session.clock import ManualClock
from ibkr_session.schedule import ResetSchedule
from ibkr_sim.gateway import SimulatedGateway
from ibkr_sim.nightly import NightlyReset

RECIPE = Path(__file__).resolve().parents[2] / "examples" / "mean_reversion.py"
NEW_YORK = ZoneInfo("America/New_York")
START = _dt.datetime(2026, 10, 31, 9, 0, tzinfo=NEW_YORK)  # Saturday; DST ends Sunday 02:00
RESET_MINUTES = 5.0
COMPETING_MINUTES = 10
LIBRARY_FILES = ("*/ibkr_session/*", "*/ibkr_api/*", "*/ibkr_host/*")
HELD_BY_THE_SIMULATOR = "*/ibkr_session/clock.py"
"""The clock's datetimes: the simulator's request log keeps one per request."""
MEMORY_GROWTH_LIMIT = 64 * 1024
"""Bytes allocated by the library in the second half of a run and still held at its end."""


@dataclass(frozen=True)
class Disturbance:
    """Something done to the world at ``at``; ``until`` ends it (competing logins)."""

    at: _dt.datetime
    name: str
    until: _dt.datetime | None = None


def schedule(days: int) -> list[Disturbance]:
    """Per day, alternately: an expiry and a competing login; a host asleep 7 minutes,
    an expiry and a competing login."""
    plan: list[Disturbance] = []
    for day in range(days):
        date = START.date() + _dt.timedelta(days=day)

        def at(hour: int, minute: int, date: _dt.date = date) -> _dt.datetime:
            return _dt.datetime.combine(date, _dt.time(hour, minute), NEW_YORK)

        competing_from = at(14, 0) if day % 2 == 0 else at(13, 0)
        plan.append(
            Disturbance(
                competing_from,
                "competing",
                competing_from + _dt.timedelta(minutes=COMPETING_MINUTES),
            )
        )
        plan.append(Disturbance(at(11, 0) if day % 2 == 0 else at(15, 0), "expiry"))
        if day % 2 == 1:
            plan.append(Disturbance(at(10, 30), "host asleep"))
    return sorted(plan, key=lambda d: d.at)


@dataclass
class Soak:
    """The runner, the gateway and what every tick did."""

    clock: ManualClock
    sim: SimulatedGateway
    runner: WorkerRunner
    ticks: list[tuple[_dt.datetime, bool]] = field(default_factory=list)
    idle_expiries: int = 0

    def act(self, disturbance: Disturbance) -> None:
        if disturbance.name == "competing":
            self.sim.start_competing()
        elif disturbance.name == "expiry":
            self.sim.expire_brokerage()
            self.idle_expiries += 1
        else:  # the host slept: nothing kept the session alive
            self.clock.advance(7 * 60)
            self.idle_expiries += 1

    def tick(self) -> None:
        result = self.runner.result
        before = (result.paused, result.failed)
        self.runner.tick()
        self.ticks.append((self.clock.now(), (result.paused, result.failed) == before))

    def run(
        self,
        plan: list[Disturbance],
        until: _dt.datetime,
        interval: float,
        *,
        midway: Callable[[], None],
    ) -> None:
        pending = list(plan)
        endings = sorted(d.until for d in plan if d.until is not None)
        halfway: _dt.datetime | None = self.clock.now() + (until - self.clock.now()) / 2
        while self.clock.now() < until:
            now = self.clock.now()
            while endings and endings[0] <= now:
                endings.pop(0)
                self.sim.stop_competing()
            while pending and pending[0].at <= now:
                self.act(pending.pop(0))
            if halfway is not None and now >= halfway:
                midway()
                halfway = None
            self.tick()
            self.runner.wait(interval)


@pytest.fixture
def soak() -> Iterator[Soak]:
    clock = ManualClock(START.astimezone(_dt.UTC))
    with (
        SimulatedGateway(clock, reset_minutes=RESET_MINUTES) as sim,
        IbkrClient(sim.url, clock=clock, auto_confirm=("o354",)) as client,
    ):
        ctx = WorkerContext("mean_reversion", client=client)
        runner = WorkerRunner(load_worker(RECIPE), ctx, clock=clock)
        assert runner.setup()
        yield Soak(clock, sim, runner)


def _library_bytes() -> int:
    """Bytes still held that the library allocated since tracing started."""
    gc.collect()  # reference cycles of finished retries are garbage, not growth
    filters = [tracemalloc.Filter(True, name) for name in LIBRARY_FILES]
    filters.append(tracemalloc.Filter(False, HELD_BY_THE_SIMULATOR))
    filtered = tracemalloc.take_snapshot().filter_traces(filters)
    return sum(stat.size for stat in filtered.statistics("filename"))


def _nights(night: ResetSchedule, start: _dt.datetime, end: _dt.datetime) -> set[_dt.datetime]:
    """Start times of the reset windows between ``start`` and ``end``."""
    starts: set[_dt.datetime] = set()
    window = night.next_window(start)
    while window[0] < end:
        starts.add(window[0])
        window = night.next_window(window[1])
    return starts


def _soak(soak: Soak, days: int, interval: float) -> None:
    plan = schedule(days)
    end = START.astimezone(_dt.UTC) + _dt.timedelta(days=days)
    try:
        soak.run(plan, end, interval, midway=tracemalloc.start)  # trace the second half
        grown = _library_bytes()
    finally:
        tracemalloc.stop()

    assert soak.runner.result.failed == 0  # no crash: only session errors paused ticks
    assert soak.idle_expiries >= 3
    assert sum(1 for d in plan if d.name == "competing") >= 2

    gateway_night = NightlyReset("america", RESET_MINUTES)
    inside = [
        (r.time, r.path)
        for r in soak.sim.requests
        if r.path.startswith("/iserver/") and gateway_night.window_at(r.time) is not None
    ]
    assert inside == []

    client_night = ResetSchedule("america")
    competing = [(d.at, d.until) for d in plan if d.until is not None]

    def disturbed(when: _dt.datetime) -> bool:
        if client_night.window_at(when) is not None:
            return True
        return any(start <= when < stop for start, stop in competing)

    failed_ticks = [when for when, ok in soak.ticks if not ok and not disturbed(when)]
    assert failed_ticks == []
    paused_nights = {
        window[0]
        for when, ok in soak.ticks
        if not ok and (window := client_night.window_at(when)) is not None
    }
    assert paused_nights == _nights(client_night, START.astimezone(_dt.UTC), end)
    for start, stop in competing:  # each login elsewhere was met, not slept through
        assert any(start <= when < stop and not ok for when, ok in soak.ticks)
    # Every disturbance really ended a brokerage session: each needed its own ssodh/init.
    recoveries = sum(1 for r in soak.sim.requests if r.path == "/iserver/auth/ssodh/init")
    assert recoveries >= soak.idle_expiries + len(competing) + len(paused_nights)
    assert grown < MEMORY_GROWTH_LIMIT, f"library memory grew {grown} bytes"
    paused = sum(1 for _, ok in soak.ticks if not ok)
    print(
        f"{len(soak.ticks)} ticks, {paused} paused, {len(soak.sim.requests)} requests, "
        f"{soak.idle_expiries} idle expiries, library memory +{grown} B over the second half"
    )


def test_two_days_across_the_dst_change_with_resets_expiries_and_competing_logins(
    soak: Soak,
) -> None:
    _soak(soak, days=2, interval=300.0)


@pytest.mark.slow
def test_seven_days_across_the_dst_change_with_resets_expiries_and_competing_logins(
    soak: Soak,
) -> None:
    _soak(soak, days=7, interval=60.0)
