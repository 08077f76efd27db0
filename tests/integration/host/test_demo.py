"""``ibkr demo`` in short variants: the day's troubles and the night's reset, recovered."""

from __future__ import annotations

import datetime as _dt
import io

import pytest

from ibkr_host.cli import main
from ibkr_host.demo import DEMO_START, competing_login, run_demo


def test_the_morning_recovers_the_idle_expiry_and_answers_a_question() -> None:
    out = io.StringIO()
    outcome = run_demo(hours=3.5, out=out)
    text = out.getvalue()
    assert outcome.passed, text
    assert outcome.ticks == 210
    assert (outcome.duplicates, outcome.rate_limited) == (0, 0)
    assert outcome.recovered == {"idle expiry": 0.0}
    assert "size exceeds the Size Limit" in text  # o383, shown by the worker
    assert "answered by the worker" in text
    assert outcome.fills == 1  # the 600 MSFT went through once
    assert "Mon 09:00 EDT" in text
    assert "| no 429 answers" in text


def test_the_night_crosses_the_reset_and_a_competing_login() -> None:
    night = DEMO_START + _dt.timedelta(hours=15, minutes=30)  # Tuesday 00:30 EDT
    script = competing_login(_dt.timedelta(minutes=5), minutes=10)
    out = io.StringIO()
    outcome = run_demo(hours=1.5, out=out, script=script, start=night)
    text = out.getvalue()
    assert outcome.passed, text
    assert "reset window until 01:10 EDT" in text
    assert outcome.state_seconds.get("RESET_WINDOW", 0) > 0
    assert "recovered nightly reset" in text
    assert "recovered competing login" in text


def test_the_cli_demo_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--hours", "1"]) == 0
    out = capsys.readouterr().out
    assert "Summary" in out
    assert "| ticks                   | 60 " in out


@pytest.mark.slow
def test_the_full_day_and_night_in_under_a_minute() -> None:
    out = io.StringIO()
    outcome = run_demo(out=out)
    assert outcome.passed, out.getvalue()
    assert outcome.ticks == 24 * 60
    assert set(outcome.recovered) == {"idle expiry", "competing login", "nightly reset"}
    assert (outcome.duplicates, outcome.rate_limited) == (0, 0)
    assert outcome.fills == 3  # MSFT, the AAPL dip, the AAPL rally
    assert outcome.wall_seconds < 60


def test_a_quiet_run_claims_no_recovery() -> None:
    out = io.StringIO()
    outcome = run_demo(hours=2, out=out, script=[])
    text = out.getvalue()
    assert outcome.passed, text
    assert outcome.recovered == {}
    assert "| disturbances            | no disturbance in this run" in text
    assert "every trouble recovered" not in text
