"""Session managers of the simulated gateway (tests/conftest.py), on its virtual clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ibkr_session import ManualClock, SessionManager
from ibkr_sim import SimulatedGateway


@pytest.fixture
def connect(sim: SimulatedGateway, clock: ManualClock) -> Iterator[Callable[..., SessionManager]]:
    made: list[SessionManager] = []

    def make(**options: Any) -> SessionManager:
        options.setdefault("account_id", "U1234567")
        options.setdefault("timeout", 5.0)
        manager = SessionManager(sim.url, clock=clock, **options)
        made.append(manager)
        return manager

    yield make
    for manager in made:
        manager.close()
