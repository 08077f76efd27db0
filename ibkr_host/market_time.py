"""``--market-time WHEN``: real time, moved to start at another moment.

``ibkr sim --market-time '2026-06-15 10:30'`` trades in market hours at night; ``ibkr run``
and ``ibkr status`` given the same ``--market-time`` read the same shifted clock, so the
worker and the session believe what the simulator believes (at 02:00 New York a worker on
the real clock would wait for a reset window the simulator has long left). Tests use it
too: a test that talks to a real-time simulator pins the hour it runs at.
"""

from __future__ import annotations

import argparse
import datetime as _dt
from zoneinfo import ZoneInfo

from ibkr_session.clock import SystemClock

__all__ = ["NEW_YORK", "ShiftedClock", "parse_market_time"]

NEW_YORK = ZoneInfo("America/New_York")


class ShiftedClock(SystemClock):
    """A ``SystemClock`` whose ``now()`` starts at ``start`` and then runs at real speed.

    ``monotonic`` and ``sleep`` are the system's, so waits, timeouts and Ctrl-C behave as
    in real time; only the date and hour are moved.
    """

    def __init__(self, start: _dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError(f"market time needs a time zone, got {start!r}")
        self._offset = start - super().now()

    def now(self) -> _dt.datetime:
        return super().now() + self._offset


def parse_market_time(text: str) -> _dt.datetime:
    """An ISO date and time; New York time unless it carries an offset (argparse type)."""
    try:
        when = _dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"not an ISO date and time: {text!r} (e.g. '2026-06-15 10:30')"
        ) from exc
    return when if when.tzinfo is not None else when.replace(tzinfo=NEW_YORK)
