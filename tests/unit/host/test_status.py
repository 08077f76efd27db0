"""``ibkr status``'s reset line: local time and UTC, right on both sides of DST."""

from __future__ import annotations

import datetime as _dt

from ibkr_host.status import describe_window
from ibkr_session.schedule import ResetSchedule


def test_next_reset_in_summer_and_winter() -> None:
    america = ResetSchedule("america")
    summer = _dt.datetime(2026, 6, 15, 20, 0, tzinfo=_dt.UTC)
    winter = _dt.datetime(2026, 1, 5, 20, 0, tzinfo=_dt.UTC)
    assert describe_window(america, summer) == "Tue 2026-06-16 00:55-01:10 EDT (04:55-05:10 UTC)"
    assert describe_window(america, winter) == "Tue 2026-01-06 00:55-01:10 EST (05:55-06:10 UTC)"


def test_inside_the_window_it_says_now() -> None:
    europe = ResetSchedule("europe")
    inside = _dt.datetime(2026, 6, 15, 23, 0, tzinfo=_dt.UTC)  # 01:00 CEST
    assert (
        describe_window(europe, inside) == "now, Tue 2026-06-16 00:55-01:10 CEST (22:55-23:10 UTC)"
    )
