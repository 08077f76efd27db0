"""The nightly reset window, travelled through with ManualClock and freezegun."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from ibkr_session import InvalidRequestError, ManualClock, ResetSchedule, SystemClock

ZONES = {"america": "America/New_York", "europe": "Europe/Zurich", "asia": "Asia/Hong_Kong"}
SUMMER = dt.date(2026, 7, 15)
WINTER = dt.date(2026, 1, 14)


def local(region: str, day: dt.date, hour: int, minute: int, *, fold: int = 0) -> dt.datetime:
    wall = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZoneInfo(ZONES[region]))
    return wall.replace(fold=fold).astimezone(dt.UTC)


@pytest.mark.parametrize("region", sorted(ZONES))
@pytest.mark.parametrize("day", [SUMMER, WINTER], ids=["summer", "winter"])
def test_window_contains_0102_local_but_not_0040_or_0130(region: str, day: dt.date) -> None:
    schedule = ResetSchedule(region)
    clock = ManualClock(local(region, day, 1, 2))
    window = schedule.window_at(clock.now())
    assert window == (local(region, day, 0, 55), local(region, day, 1, 10))
    clock.set(local(region, day, 0, 40))
    assert schedule.window_at(clock.now()) is None
    clock.set(local(region, day, 1, 30))
    assert schedule.window_at(clock.now()) is None


@pytest.mark.parametrize(
    ("instant", "inside"),
    [
        ("2026-07-15T05:02:00Z", True),  # 01:02 EDT
        ("2026-07-15T06:02:00Z", False),  # 02:02 EDT: a UTC-05 check would be wrong in summer
        ("2026-01-14T06:02:00Z", True),  # 01:02 EST
        ("2026-01-14T05:02:00Z", False),  # 00:02 EST
    ],
)
def test_new_york_window_moves_in_utc_with_dst_under_freezegun(instant: str, inside: bool) -> None:
    with freeze_time(instant):
        assert (ResetSchedule("america").window_at(SystemClock().now()) is not None) is inside


def test_new_york_fall_back_night_has_one_window_in_the_first_pass() -> None:
    schedule = ResetSchedule("america")
    first_pass = local("america", dt.date(2026, 11, 1), 1, 2, fold=0)  # 05:02 UTC, EDT
    second_pass = local("america", dt.date(2026, 11, 1), 1, 2, fold=1)  # 06:02 UTC, EST
    assert first_pass == dt.datetime(2026, 11, 1, 5, 2, tzinfo=dt.UTC)
    assert second_pass == dt.datetime(2026, 11, 1, 6, 2, tzinfo=dt.UTC)
    window = schedule.window_at(first_pass)
    assert window == (
        dt.datetime(2026, 11, 1, 4, 55, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 1, 5, 10, tzinfo=dt.UTC),
    )
    assert schedule.window_at(second_pass) is None
    # The next window after the repeated hour is the next night's, now in EST.
    assert schedule.next_window(second_pass)[0] == dt.datetime(2026, 11, 2, 5, 55, tzinfo=dt.UTC)


def test_new_york_spring_forward_night_window_is_fifteen_minutes_in_est() -> None:
    schedule = ResetSchedule("america")
    window = schedule.window_at(dt.datetime(2026, 3, 8, 6, 2, tzinfo=dt.UTC))
    assert window == (
        dt.datetime(2026, 3, 8, 5, 55, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 8, 6, 10, tzinfo=dt.UTC),
    )
    # The night after, New York is on EDT: the window comes an hour earlier in UTC.
    assert schedule.next_window(window[1])[0] == dt.datetime(2026, 3, 9, 4, 55, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("day", "start_utc"),
    [
        (dt.date(2026, 3, 29), dt.datetime(2026, 3, 28, 23, 55, tzinfo=dt.UTC)),  # still CET
        (dt.date(2026, 3, 30), dt.datetime(2026, 3, 29, 22, 55, tzinfo=dt.UTC)),  # now CEST
        (dt.date(2026, 10, 25), dt.datetime(2026, 10, 24, 22, 55, tzinfo=dt.UTC)),  # still CEST
        (dt.date(2026, 10, 26), dt.datetime(2026, 10, 25, 23, 55, tzinfo=dt.UTC)),  # now CET
    ],
)
def test_zurich_dst_change_days_both_directions(day: dt.date, start_utc: dt.datetime) -> None:
    schedule = ResetSchedule("europe")
    window = schedule.window_at(local("europe", day, 1, 2))
    assert window == (start_utc, start_utc + dt.timedelta(minutes=15))


def test_next_window_is_the_current_one_inside_and_tomorrows_after() -> None:
    schedule = ResetSchedule("asia")
    inside = local("asia", WINTER, 1, 0)
    current = schedule.next_window(inside)
    assert current == schedule.window_at(inside)
    after = schedule.next_window(current[1])
    assert after[0] == local("asia", WINTER + dt.timedelta(days=1), 0, 55)
    before = schedule.next_window(local("asia", WINTER, 0, 10))
    assert before == current


def test_window_may_cross_midnight() -> None:
    schedule = ResetSchedule("asia", start=dt.time(23, 55), end=dt.time(0, 10))
    late = local("asia", WINTER, 23, 58)
    early = local("asia", WINTER + dt.timedelta(days=1), 0, 5)
    assert schedule.window_at(late) == schedule.window_at(early)
    assert schedule.window_at(local("asia", WINTER, 0, 20)) is None


def test_window_passed_between_two_instants() -> None:
    schedule = ResetSchedule("america")
    evening = local("america", WINTER, 22, 0)
    assert schedule.window_passed(evening, local("america", WINTER, 23, 59)) is False
    assert schedule.window_passed(evening, local("america", WINTER + dt.timedelta(days=1), 2, 0))


def test_unknown_region_names_the_valid_ones() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        ResetSchedule("mars")
    assert isinstance(caught.value, ValueError)
    assert caught.value.field == "region"
    for name in ZONES:
        assert repr(name) in str(caught.value)


def test_bad_window_times_and_naive_datetimes_are_refused() -> None:
    with pytest.raises(InvalidRequestError, match="empty"):
        ResetSchedule(start=dt.time(1, 0), end=dt.time(1, 0))
    with pytest.raises(InvalidRequestError, match="without tzinfo"):
        ResetSchedule(start=dt.time(1, 0, tzinfo=dt.UTC))
    with pytest.raises(InvalidRequestError, match="naive"):
        ResetSchedule().window_at(dt.datetime(2026, 1, 1, 1, 0))  # noqa: DTZ001
