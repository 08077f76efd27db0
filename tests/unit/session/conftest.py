"""Fixtures for the session layer's unit tests: virtual time and a scripted gateway."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses

from ibkr_session import ManualClock, SessionManager
from tests.unit.session.session_fakes import ACCOUNT, FakeGateway

NOON_NY = dt.datetime(2026, 7, 15, 16, 0, tzinfo=dt.UTC)  # Wednesday 12:00 New York (EDT)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOON_NY)


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeGateway(mock)


@pytest.fixture
def make_manager(clock: ManualClock) -> Iterator[Callable[..., SessionManager]]:
    made: list[SessionManager] = []

    def make(**options: Any) -> SessionManager:
        options.setdefault("account_id", ACCOUNT)
        manager = SessionManager(clock=clock, **options)
        made.append(manager)
        return manager

    yield make
    for manager in made:
        manager.close()
