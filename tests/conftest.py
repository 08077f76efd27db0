"""Fixtures shared by every test directory."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ibkr_session import ManualClock
from ibkr_sim import SimulatedGateway

_REPO_ROOT = Path(__file__).resolve().parent.parent

MARKET_OPEN = dt.datetime(2026, 1, 5, 15, 0, tzinfo=dt.UTC)
"""Monday 2026-01-05 10:00 New York: US markets open, hours before the nightly reset."""


@pytest.fixture
def clock() -> ManualClock:
    """The test's virtual time; a folder that needs another moment overrides this."""
    return ManualClock(MARKET_OPEN)


@pytest.fixture
def sim(clock: ManualClock) -> Iterator[SimulatedGateway]:
    """A simulated gateway on loopback HTTPS, on the test's clock; stopped afterwards."""
    with SimulatedGateway(clock) as gateway:
        yield gateway


def recorded_dir() -> Path:
    """Where IBKR's recorded responses live: ``shared/`` sits beside the repository."""
    override = os.environ.get("IBKR_SHARED_DIR")
    shared = Path(override) if override else _REPO_ROOT.parent / "shared"
    return shared / "reference" / "recorded"


@pytest.fixture
def recorded() -> Callable[[str], dict[str, Any]]:
    """Load one recording by file stem, e.g. ``recorded("Session__POST-tickle")``.

    Returns the whole ``{"Request": ..., "Response": ...}`` document.
    """
    base = recorded_dir()
    if not base.is_dir():
        pytest.fail(f"recorded responses not found at {base} (set IBKR_SHARED_DIR)")

    def load(stem: str) -> dict[str, Any]:
        document: dict[str, Any] = json.loads((base / f"{stem}.json").read_text())
        return document

    return load
