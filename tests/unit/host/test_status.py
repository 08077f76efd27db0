"""``ibkr status``'s reset line: local time and UTC, right on both sides of DST."""

from __future__ import annotations

import datetime as _dt

import pytest

from ibkr_host.status import describe_window, verdict
from ibkr_session.schedule import ResetSchedule
from ibkr_session.state import SessionState


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


AMERICA = ResetSchedule("america")
NOON = _dt.datetime(2026, 1, 5, 17, 0, tzinfo=_dt.UTC)  # Monday 12:00 EST
ONE_AM = _dt.datetime(2026, 1, 6, 6, 0, tzinfo=_dt.UTC)  # Tuesday 01:00 EST
URL = "https://localhost:5000"


@pytest.mark.parametrize(
    ("state", "now", "penalty", "expected"),
    [
        (SessionState.AUTHENTICATED, NOON, None, ("ready", 0)),
        (SessionState.RESET_WINDOW, ONE_AM, None, ("reset window until 01:10 EST (normal)", 0)),
        (SessionState.UNKNOWN, ONE_AM, None, ("reset window until 01:10 EST (normal)", 0)),
        (SessionState.UNAUTHENTICATED, NOON, None, (f"not logged in: log in at {URL}", 1)),
        (SessionState.DISCONNECTED, NOON, None, ("gateway unreachable", 1)),
        (
            SessionState.COMPETING,
            NOON,
            None,
            ("a competing login (TWS, the mobile app) holds the session", 1),
        ),
        (
            SessionState.AUTHENTICATED,
            NOON,
            312.4,
            ("IBKR's penalty box: requests refused for 312 s more (too many requests)", 1),
        ),
    ],
)
def test_the_verdict_and_its_exit_code(
    state: SessionState, now: _dt.datetime, penalty: float | None, expected: tuple[str, int]
) -> None:
    assert verdict(state, AMERICA, now, URL, penalty_seconds=penalty) == expected
