"""A stand-in client for the host tests: only what ``WorkerContext`` and the runner touch."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

import pytest

from ibkr_session.clock import Clock, ManualClock
from ibkr_session.schedule import ResetSchedule

START = _dt.datetime(2026, 1, 5, 14, 0, tzinfo=_dt.UTC)  # Monday 09:00 New York


@dataclass
class FakeSession:
    clock: Clock
    schedule: ResetSchedule = field(default_factory=ResetSchedule)
    keepalives: list[_dt.datetime] = field(default_factory=list)
    started: int = 0
    stopped: int = 0
    keeping_alive: bool = False

    def keepalive(self) -> None:
        self.keepalives.append(self.clock.now())

    def start(self) -> None:
        self.started += 1
        self.keeping_alive = True

    def stop(self) -> None:
        self.stopped += 1
        self.keeping_alive = False


@dataclass
class FakeClient:
    session: FakeSession


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def client(clock: ManualClock) -> FakeClient:
    return FakeClient(FakeSession(clock))
