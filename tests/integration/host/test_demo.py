"""``ibkr demo`` in short variants: the day's troubles and the night's reset, recovered, and
the stream beside the worker riding through each of them with one gap."""

from __future__ import annotations

import datetime as _dt
import io
import re

import pytest

from ibkr_host.cli import main
from ibkr_host.demo import (
    DEMO_START,
    competing_login,
    dropped_stream,
    fat_finger,
    run_demo,
    silent_stream,
)

NIGHT = DEMO_START + _dt.timedelta(hours=15, minutes=30)  # Tuesday 00:30 EDT


def row(text: str, label: str) -> str:
    """The value of a summary row, whatever the table's column widths."""
    found = re.search(rf"^\| {re.escape(label)} +\| (.*?) +\|$", text, re.MULTILINE)
    assert found is not None, f"no row {label!r} in\n{text}"
    return found.group(1)


def stream_lines(text: str, what: str) -> list[str]:
    return [line for line in text.splitlines() if re.search(rf"  stream +{what}", line)]


def test_the_morning_recovers_the_idle_expiry_and_answers_a_question() -> None:
    out = io.StringIO()
    outcome = run_demo(hours=3.5, out=out)
    text = out.getvalue()
    assert outcome.passed, text
    assert outcome.ticks == 210
    assert (outcome.duplicates, outcome.rate_limited) == (0, 0)
    assert set(outcome.recovered) == {"idle expiry"}
    assert outcome.recovered["idle expiry"] < 5  # at once, but for a paced tickle
    assert "size exceeds the Size Limit" in text  # o383, shown by the worker
    assert "answered by the worker" in text
    assert outcome.fills == 1  # the 600 MSFT went through once
    assert "Mon 09:00 EDT" in text
    assert row(text, "no 429 answers") == "yes"
    assert row(text, "fills delivered by the stream") == "1 of 1"
    assert row(text, "stream gaps").startswith("1 (the longest ")
    (gap,) = outcome.stream_gaps  # the idle expiry, told by sts or by /tickle
    assert "authenticated" in gap.reason
    assert row(text, "one stream gap per disturbance") == "yes"


def test_the_night_shows_a_stream_gap_per_disturbance() -> None:
    script = [
        *competing_login(_dt.timedelta(minutes=5), minutes=10),
        dropped_stream(_dt.timedelta(hours=1, minutes=5)),
    ]
    out = io.StringIO()
    outcome = run_demo(hours=1.5, out=out, script=script, start=NIGHT)
    text = out.getvalue()
    assert outcome.passed, text
    assert "reset window until 01:10 EDT" in text
    assert outcome.state_seconds.get("RESET_WINDOW", 0) > 0
    assert "recovered nightly reset" in text
    assert "recovered competing login" in text
    # competing login 00:35-00:45, reset window 00:55-01:10, dropped WebSocket at 01:35
    assert outcome.disturbances == 3
    reasons = [gap.reason for gap in outcome.stream_gaps]
    assert len(reasons) == 3, reasons
    assert "competing" in reasons[0]
    assert "reset_window" in reasons[1]
    assert reasons[2].startswith("connection lost")
    gaps = stream_lines(text, r"gap \d")
    assert len(gaps) == 3, text
    assert re.search(r"gap 00:5\d:\d\d-01:1\d:\d\d EDT", gaps[1]), gaps[1]
    assert len(stream_lines(text, "quotes refilled: AAPL .*, MSFT ")) == 3
    assert row(text, "stream gaps").startswith("3 (the longest 15 min")  # the reset
    assert row(text, "one stream gap per disturbance") == "yes"
    assert outcome.quote_updates > 0


def test_a_fill_made_while_the_stream_is_silent_arrives_once_after_the_gap() -> None:
    at_ten = _dt.timedelta(hours=1)
    script = [silent_stream(at_ten, minutes=2), fat_finger(at_ten)]  # the socket first
    out = io.StringIO()
    outcome = run_demo(hours=1.5, out=out, script=script)
    text = out.getvalue()
    assert outcome.passed, text
    (gap,) = outcome.stream_gaps
    assert "no message from the gateway" in gap.reason
    assert gap.started < DEMO_START + at_ten + _dt.timedelta(seconds=30) < gap.ended
    # made inside the gap (by the book's execution time), delivered once after it
    assert (outcome.fills, outcome.fills_delivered, outcome.fills_in_gaps) == (1, 1, 1)
    (delivered,) = stream_lines(text, r"#\d+ Filled")
    assert delivered.endswith("Filled 600 MSFT, reconciled after the gap")
    assert row(text, "fills delivered by the stream") == "1 of 1 (1 made during a gap)"
    assert row(text, "stream delivered every fill once") == "yes"
    assert row(text, "one stream gap per disturbance") == "yes"


def test_the_cli_demo_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--hours", "1"]) == 0
    out = capsys.readouterr().out
    assert "Summary" in out
    assert row(out, "ticks") == "60"


@pytest.mark.slow
def test_the_full_day_and_night_in_under_a_minute() -> None:
    out = io.StringIO()
    outcome = run_demo(out=out)
    text = out.getvalue()
    assert outcome.passed, text
    assert outcome.ticks == 24 * 60
    assert set(outcome.recovered) == {"idle expiry", "competing login", "nightly reset"}
    assert (outcome.duplicates, outcome.rate_limited) == (0, 0)
    assert outcome.fills == 3  # MSFT, the AAPL dip, the AAPL rally
    # idle expiry, competing login, silent WebSocket, nightly reset, dropped WebSocket
    assert outcome.disturbances == 5
    assert len(outcome.stream_gaps) == 5, [gap.reason for gap in outcome.stream_gaps]
    assert len(stream_lines(text, r"gap \d")) == 5
    assert (outcome.fills_delivered, outcome.fills_in_gaps) == (3, 1)  # the dip's BUY
    assert row(text, "stream delivered every fill once") == "yes"
    assert outcome.wall_seconds < 60


def test_a_quiet_run_claims_no_recovery_and_no_gap() -> None:
    out = io.StringIO()
    outcome = run_demo(hours=2, out=out, script=[])
    text = out.getvalue()
    assert outcome.passed, text
    assert outcome.recovered == {}
    assert row(text, "disturbances") == "no disturbance in this run"
    assert "every trouble recovered" not in text
    assert outcome.stream_gaps == []
    assert stream_lines(text, "gap") == []
    assert row(text, "stream gaps") == "none"
    assert row(text, "no stream gap") == "yes"
    assert "one stream gap per disturbance" not in text
