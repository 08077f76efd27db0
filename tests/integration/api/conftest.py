"""The client against the simulated gateway: real HTTPS on loopback, one virtual clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ibkr_api import IbkrClient
from ibkr_session import ManualClock
from ibkr_sim import SimulatedGateway


@pytest.fixture
def connect(sim: SimulatedGateway, clock: ManualClock) -> Iterator[Callable[..., IbkrClient]]:
    """Make clients of ``sim`` on the shared clock; all are closed after the test."""
    made: list[IbkrClient] = []

    def make(**options: Any) -> IbkrClient:
        options.setdefault("timeout", 5.0)
        client = IbkrClient(sim.url, clock=clock, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def ibkr(connect: Callable[..., IbkrClient]) -> IbkrClient:
    return connect()
