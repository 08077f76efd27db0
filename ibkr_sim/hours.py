"""Trading sessions: when an instrument trades, in New York time, as epoch seconds.

Every instrument trades in one session per weekday ("trading date"). A session may open
on the previous calendar day (FX opens at 17:00 the evening before, CME futures at
18:00), so a weekly gap appears by itself: there is no Saturday or Sunday trading date.
Exchange holidays are not modelled. Times are epoch seconds (floats) because the price
path, history bars and fills all do arithmetic on them; ``zoneinfo`` keeps DST right.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = [
    "EXTENDED_STOCK_HOURS",
    "FUTURES_HOURS",
    "FX_HOURS",
    "NEW_YORK",
    "STOCK_HOURS",
    "Hours",
    "Session",
]

NEW_YORK = ZoneInfo("America/New_York")
_DAY = _dt.timedelta(days=1)


@dataclass(frozen=True)
class Session:
    """One trading date's session: ``[open, close)`` in epoch seconds."""

    date: _dt.date
    open: float
    close: float

    @property
    def minutes(self) -> float:
        return (self.close - self.open) / 60.0

    def contains(self, t: float) -> bool:
        return self.open <= t < self.close


@dataclass(frozen=True)
class Hours:
    """A weekly timetable: ``open``-``close`` New York time on each weekday.

    ``opens_previous_day`` means the session of trading date ``d`` opens on ``d - 1``.
    """

    open: _dt.time
    close: _dt.time
    opens_previous_day: bool = False

    def latest_session(self, t: float) -> Session:
        """The session that opened most recently at or before ``t`` (open or already closed)."""
        return next(self.sessions_backwards(t))

    def sessions_backwards(self, t: float) -> Iterator[Session]:
        """Sessions that opened at or before ``t``, newest first, without end."""
        date = _dt.datetime.fromtimestamp(t, NEW_YORK).date() + _DAY
        while True:
            if date.weekday() < 5:
                session = _session(self, date)
                if session.open <= t:
                    yield session
            date -= _DAY

    def sessions_forwards(self, t: float) -> Iterator[Session]:
        """Sessions that close after ``t`` (the current one first), without end."""
        date = self.latest_session(t).date
        while True:
            if date.weekday() < 5:
                session = _session(self, date)
                if session.close > t:
                    yield session
            date += _DAY

    def is_open(self, t: float) -> bool:
        return self.latest_session(t).contains(t)

    def last_trading_instant(self, t: float) -> float:
        """``t`` while the market is open, otherwise the most recent close."""
        return min(t, self.latest_session(t).close)

    def next_close(self, t: float) -> float:
        """When the current session closes, or the next one if none is open (DAY expiry)."""
        return next(self.sessions_forwards(t)).close


@lru_cache(maxsize=8192)
def _session(hours: Hours, date: _dt.date) -> Session:
    open_date = date - _DAY if hours.opens_previous_day else date
    opens = _dt.datetime.combine(open_date, hours.open, NEW_YORK)
    closes = _dt.datetime.combine(date, hours.close, NEW_YORK)
    return Session(date=date, open=opens.timestamp(), close=closes.timestamp())


STOCK_HOURS = Hours(_dt.time(9, 30), _dt.time(16, 0))
"""Regular trading hours of US stocks and options."""
EXTENDED_STOCK_HOURS = Hours(_dt.time(4, 0), _dt.time(20, 0))
"""Pre-market to after-hours: what ``outsideRth=true`` history covers."""
FX_HOURS = Hours(_dt.time(17, 0), _dt.time(17, 0), opens_previous_day=True)
"""IDEALPRO: 24 hours a day, Sunday 17:00 to Friday 17:00 New York."""
FUTURES_HOURS = Hours(_dt.time(18, 0), _dt.time(17, 0), opens_previous_day=True)
"""CME Globex equity futures: 18:00 to 17:00 with a one-hour daily break."""
