import datetime as dt

import pytest
from freezegun import freeze_time

from ibkr_session import ManualClock, SystemClock


def test_manual_clock_sleep_advances_virtual_time_instantly() -> None:
    clock = ManualClock(dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC))
    clock.sleep(90)
    assert clock.now() == dt.datetime(2026, 3, 1, 12, 1, 30, tzinfo=dt.UTC)
    assert clock.monotonic() == 90


def test_manual_clock_refuses_naive_datetimes_and_going_backwards() -> None:
    with pytest.raises(ValueError, match="naive"):
        ManualClock(dt.datetime(2026, 3, 1, 12, 0))  # noqa: DTZ001
    clock = ManualClock()
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


def test_manual_clock_set_keeps_monotonic_forward_only() -> None:
    clock = ManualClock(dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC))
    clock.set(dt.datetime(2026, 3, 1, 13, 0, tzinfo=dt.UTC))
    assert clock.monotonic() == 3600
    clock.set(dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC))
    assert clock.monotonic() == 3600
    assert clock.now().hour == 12


def test_system_clock_follows_freezegun() -> None:
    with freeze_time("2026-07-01 05:02:00") as frozen:
        clock = SystemClock()
        assert clock.now() == dt.datetime(2026, 7, 1, 5, 2, tzinfo=dt.UTC)
        start = clock.monotonic()
        frozen.tick(30)
        assert clock.monotonic() - start == pytest.approx(30)
