"""Properties of the reset window over two whole years of instants, DST nights included."""

from __future__ import annotations

import datetime as dt

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ibkr_session import ResetSchedule

START, END = dt.time(0, 55), dt.time(1, 10)
SCHEDULES = [ResetSchedule(region) for region in ("america", "europe", "asia")]
instants = st.datetimes(
    min_value=dt.datetime(2026, 1, 1),  # noqa: DTZ001 - made aware by timezones=
    max_value=dt.datetime(2027, 12, 31),  # noqa: DTZ001
    timezones=st.just(dt.UTC),
)


def utc(year: int, month: int, day: int, hour: int, minute: int) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


@settings(max_examples=300, deadline=None)
@given(now=instants, schedule=st.sampled_from(SCHEDULES))
@example(now=utc(2026, 11, 1, 5, 2), schedule=SCHEDULES[0])  # NY fall-back, first 01:02
@example(now=utc(2026, 11, 1, 6, 2), schedule=SCHEDULES[0])  # NY fall-back, second 01:02
@example(now=utc(2026, 3, 8, 6, 9), schedule=SCHEDULES[0])  # NY spring-forward night
@example(now=utc(2026, 3, 28, 23, 55), schedule=SCHEDULES[1])  # Zurich spring-forward night
@example(now=utc(2026, 10, 24, 23, 5), schedule=SCHEDULES[1])  # Zurich fall-back night
def test_inside_exactly_when_the_local_clock_shows_the_window_the_first_time(
    now: dt.datetime, schedule: ResetSchedule
) -> None:
    wall = now.astimezone(schedule.zone)
    expected = START <= wall.time() < END and wall.fold == 0
    assert (schedule.window_at(now) is not None) is expected


@settings(max_examples=300, deadline=None)
@given(now=instants, schedule=st.sampled_from(SCHEDULES))
def test_next_window_is_fifteen_minutes_and_not_in_the_past(
    now: dt.datetime, schedule: ResetSchedule
) -> None:
    start, end = schedule.next_window(now)
    assert end - start == dt.timedelta(minutes=15)
    assert now < end
    assert start > now or schedule.window_at(now) == (start, end)
    assert start - now < dt.timedelta(days=1, hours=2)


@settings(max_examples=100, deadline=None)
@given(
    steps=st.lists(st.timedeltas(min_value=-dt.timedelta(days=2), max_value=dt.timedelta(days=2))),
    start=instants,
)
def test_answers_do_not_depend_on_what_was_asked_before(
    steps: list[dt.timedelta], start: dt.datetime
) -> None:
    """A clock may jump either way (ManualClock.set); the remembered window must not lie."""
    shared = ResetSchedule("america")
    now = start
    for step in steps:
        now += step
        fresh = ResetSchedule("america")
        assert shared.window_at(now) == fresh.window_at(now)
        assert shared.next_window(now) == fresh.next_window(now)
