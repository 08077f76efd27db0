"""The nightly reset window of the IBKR brokerage session.

Every night at about 01:00 local time of the account's server region, IBKR resets the
brokerage session and ``/iserver/*`` stops answering for a few minutes. "01:00 New York" is
05:00 UTC in summer and 06:00 UTC in winter, so the window is computed in the region's own
time zone with ``zoneinfo`` and compared in UTC. On a fall-back night the local hour
01:00-02:00 happens twice; the reset happens once, in the first pass (``fold=0``).
"""

from __future__ import annotations

import datetime as _dt
from zoneinfo import ZoneInfo

from ibkr_session.errors import InvalidRequestError

__all__ = ["REGION_ZONES", "ResetSchedule", "Window"]

REGION_ZONES: dict[str, str] = {
    "america": "America/New_York",
    "europe": "Europe/Zurich",
    "asia": "Asia/Hong_Kong",
}
"""Region name → IANA time zone of the IBKR servers that reset in that region."""

Window = tuple[_dt.datetime, _dt.datetime]
"""A reset window ``(start, end)``: aware UTC datetimes, start included, end excluded."""


class ResetSchedule:
    """When ``/iserver`` is down for the nightly reset, in one region.

    ``start`` and ``end`` are local wall-clock times; an ``end`` earlier than ``start``
    means the window crosses midnight (older IBKR docs put the reset at midnight).
    """

    def __init__(
        self,
        region: str = "america",
        start: _dt.time = _dt.time(0, 55),
        end: _dt.time = _dt.time(1, 10),
    ) -> None:
        if region not in REGION_ZONES:
            valid = ", ".join(repr(name) for name in REGION_ZONES)
            raise InvalidRequestError(
                f"unknown reset region {region!r}; valid regions are {valid}", field="region"
            )
        if start.tzinfo is not None or end.tzinfo is not None:
            raise InvalidRequestError(
                "reset window times are local wall-clock times of the region; "
                "pass them without tzinfo",
                field="start" if start.tzinfo is not None else "end",
            )
        if start == end:
            raise InvalidRequestError(
                f"reset window start and end are both {start}; the window would be empty",
                field="end",
            )
        self.region = region
        self.zone = ZoneInfo(REGION_ZONES[region])
        self.start = start
        self.end = end
        # Every guarded request asks the schedule about "now" two or three times; zone
        # arithmetic costs microseconds each. Remembered: ``window`` is the next one for
        # any instant from ``known_from`` until its end (no other window starts before).
        self._known: tuple[_dt.datetime, Window] = (_NEVER, (_NEVER, _NEVER))

    def window_at(self, now: _dt.datetime) -> Window | None:
        """The window that contains ``now``, or ``None`` outside every window."""
        window = self.next_window(now)
        return window if window[0] <= _to_utc(now) else None

    def next_window(self, now: _dt.datetime) -> Window:
        """The window containing ``now`` if there is one, else the next one to start."""
        instant = _to_utc(now)
        known_from, window = self._known
        if not known_from <= instant < window[1]:
            window = self._find_next_window(instant)
            self._known = (min(instant, window[0]), window)
        return window

    def _find_next_window(self, instant: _dt.datetime) -> Window:
        day = instant.astimezone(self.zone).date() - _dt.timedelta(days=1)
        window = self._window_starting_on(day)
        while window[1] <= instant:
            day += _dt.timedelta(days=1)
            window = self._window_starting_on(day)
        return window

    def window_passed(self, since: _dt.datetime, until: _dt.datetime) -> bool:
        """Whether a reset window was open at some moment between ``since`` and ``until``.

        A session confirmed before a reset is not the session after it: the manager asks
        this to decide that its last contact is outdated.
        """
        return self.next_window(since)[0] <= _to_utc(until)

    def _window_starting_on(self, day: _dt.date) -> Window:
        end_day = day if self.end > self.start else day + _dt.timedelta(days=1)
        return self._utc(day, self.start), self._utc(end_day, self.end)

    def _utc(self, day: _dt.date, wall: _dt.time) -> _dt.datetime:
        local = _dt.datetime.combine(day, wall, tzinfo=self.zone).replace(fold=0)
        return local.astimezone(_dt.UTC)

    def __repr__(self) -> str:
        return f"ResetSchedule(region={self.region!r}, start={self.start}, end={self.end})"


_NEVER = _dt.datetime.max.replace(tzinfo=_dt.UTC)


def _to_utc(when: _dt.datetime) -> _dt.datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise InvalidRequestError(f"naive datetime {when!r}: pass a timezone-aware one")
    return when.astimezone(_dt.UTC)
