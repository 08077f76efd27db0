"""Fixtures shared by every test directory."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from ibkr_session import ManualClock
from ibkr_sim import SimulatedGateway
from tests.logcapture import capture_events

_REPO_ROOT = Path(__file__).resolve().parent.parent

# A manager on the real clock shares pacing through a file in the user's state directory by
# default; tests must neither read nor write the user's, nor share a penalty box between
# tests. Tests of the file and Redis backends name theirs explicitly (in tmp), and the fleet
# suite runs its processes with a state directory in tmp.
os.environ["IBKR_COORDINATION"] = "memory"

MARKET_OPEN = dt.datetime(2026, 1, 5, 15, 0, tzinfo=dt.UTC)
"""Monday 2026-01-05 10:00 New York: US markets open, hours before the nightly reset."""


@pytest.fixture(autouse=True, scope="session")
def private_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The suite's own ``$XDG_STATE_HOME``: the default (file) coordination store and any
    state a test leaves behind live there, never in the user's ``~/.local/state``, so a
    run neither reads what another run or a real bot left nor disturbs it. Child processes
    (``ibkr run``, fleets) inherit it."""
    state = tmp_path_factory.mktemp("xdg-state")
    previous = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(state)
    try:
        yield state
    finally:
        if previous is None:
            os.environ.pop("XDG_STATE_HOME", None)
        else:
            os.environ["XDG_STATE_HOME"] = previous


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
    """Where IBKR's recorded responses live: ``tests/recorded/`` (see its README.md)."""
    return _REPO_ROOT / "tests" / "recorded"


@pytest.fixture
def recorded() -> Callable[[str], dict[str, Any]]:
    """Load one recording by file stem, e.g. ``recorded("Session__POST-tickle")``.

    Returns the whole ``{"Request": ..., "Response": ...}`` document.
    """
    base = recorded_dir()
    if not base.is_dir():
        pytest.fail(f"recorded responses not found at {base}")

    def load(stem: str) -> dict[str, Any]:
        document: dict[str, Any] = json.loads((base / f"{stem}.json").read_text())
        return document

    return load


class LogEvents(list[dict[str, Any]]):
    """The events logged during a test; ``with log_events() as block:`` for one block only."""

    def __call__(self) -> AbstractContextManager[list[dict[str, Any]]]:
        return capture_events()


@pytest.fixture
def log_events() -> Iterator[LogEvents]:
    """Events of ``ibkr_session``/``ibkr_api``/``ibkr_sim``/``ibkr_host`` loggers at DEBUG.

    Each is the event's key-value pairs plus ``log_level`` (``structlog``'s
    ``capture_logs`` shape): ``log_events`` holds everything of the test, and
    ``with log_events() as events:`` captures one block.
    """
    events = LogEvents()
    with capture_events(into=events):
        yield events
