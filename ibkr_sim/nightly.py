"""When the simulated gateway goes through its nightly reset.

IBKR restarts the brokerage side every night at about 01:00 local time of the region's
server. The hour is a wall-clock time in a zone with daylight saving, so it moves between
05:00 and 06:00 UTC over the year (New York): computed with ``zoneinfo``, never as a fixed
UTC hour.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

__all__ = ["REGION_ZONES", "NightlyReset"]

REGION_ZONES: dict[str, str] = {
    "america": "America/New_York",
    "europe": "Europe/Zurich",
    "asia": "Asia/Hong_Kong",
}
_RESET_AT = _dt.time(1, 0)


@dataclass(frozen=True)
class NightlyReset:
    """The daily reset of one region: starts at 01:00 local, lasts ``minutes``."""

    region: str
    minutes: float

    def __post_init__(self) -> None:
        if self.region not in REGION_ZONES:
            known = ", ".join(sorted(REGION_ZONES))
            raise ValueError(f"unknown region {self.region!r}; expected one of {known}")
        if self.minutes <= 0:
            raise ValueError(f"reset_minutes must be positive, got {self.minutes}")

    def next_start(self, after: _dt.datetime) -> _dt.datetime:
        """The first reset start strictly after ``after`` (aware, returned in UTC)."""
        zone = ZoneInfo(REGION_ZONES[self.region])
        local_day = after.astimezone(zone).date()
        after_utc = after.astimezone(_dt.UTC)
        while True:
            start = _dt.datetime.combine(local_day, _RESET_AT, zone).astimezone(_dt.UTC)
            if start > after_utc:
                return start
            local_day += _dt.timedelta(days=1)

    def window_at(self, now: _dt.datetime) -> tuple[_dt.datetime, _dt.datetime] | None:
        """The ``(start, end)`` of the reset window containing ``now``, else ``None``."""
        start = self.next_start(now - self.duration - _dt.timedelta(days=1))
        while start <= now:
            end = start + self.duration
            if now < end:
                return start, end
            start = self.next_start(start)
        return None

    def started_between(self, earlier: _dt.datetime, later: _dt.datetime) -> bool:
        """Whether a reset began in ``(earlier, later]``: the session died in between."""
        return self.next_start(earlier) <= later

    @property
    def duration(self) -> _dt.timedelta:
        return _dt.timedelta(minutes=self.minutes)
