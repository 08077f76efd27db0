"""The demo's story: local-time lines, time per session state, the summary box."""

from __future__ import annotations

import datetime as _dt
import io
from zoneinfo import ZoneInfo

from ibkr_host.timeline import StateDurations, Timeline, format_duration, render_table

NEW_YORK = ZoneInfo("America/New_York")
T0 = _dt.datetime(2026, 6, 15, 13, 0, tzinfo=_dt.UTC)  # Monday 09:00 EDT


def test_lines_are_printed_in_local_time_as_they_happen() -> None:
    out = io.StringIO()
    timeline = Timeline(NEW_YORK, out)
    timeline.add(T0, "order", "BUY 10 AAPL MKT")
    timeline.add(T0 + _dt.timedelta(hours=16, minutes=10), "session", "RESET_WINDOW")
    assert out.getvalue().splitlines() == [
        "Mon 09:00 EDT  order     BUY 10 AAPL MKT",
        "Tue 01:10 EDT  session   RESET_WINDOW",
    ]
    assert [e.text for e in timeline.of_kind("order")] == ["BUY 10 AAPL MKT"]


def test_a_stream_gap_is_spanned_to_the_second_in_local_time() -> None:
    timeline = Timeline(NEW_YORK)
    started = T0 + _dt.timedelta(hours=5, minutes=20)
    span = timeline.span(started, started + _dt.timedelta(seconds=61))
    assert span == "14:20:00-14:21:01 EDT"


def test_a_timeline_without_a_stream_only_records() -> None:
    timeline = Timeline(NEW_YORK)
    timeline.add(T0, "fill", "x")
    timeline.write("ignored")
    assert len(timeline.events) == 1


def test_state_durations_add_up_to_the_whole_run() -> None:
    durations = StateDurations("AUTHENTICATED", T0)
    durations.change("RESET_WINDOW", T0 + _dt.timedelta(hours=12))
    durations.change("AUTHENTICATED", T0 + _dt.timedelta(hours=12, minutes=15))
    durations.change("COMPETING", T0 + _dt.timedelta(hours=13))
    totals = durations.totals(T0 + _dt.timedelta(hours=13, minutes=10))
    assert totals == {"AUTHENTICATED": 12 * 3600 + 45 * 60, "RESET_WINDOW": 900, "COMPETING": 600}
    assert durations.state == "COMPETING"


def test_durations_read_at_a_glance() -> None:
    assert format_duration(50700) == "14 h 05 min"
    assert format_duration(720) == "12 min"
    assert format_duration(125) == "2 min 05 s"
    assert format_duration(45) == "45 s"


def test_table_columns_line_up() -> None:
    table = render_table([("ticks", "1440"), ("duplicates", "0")], title="Summary")
    lines = table.splitlines()
    assert len({len(line) for line in lines}) == 1
    assert "| duplicates | 0    |" in lines
    assert "Summary" in lines[1]
