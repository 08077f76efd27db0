"""Operating ``ibkr`` for weeks: a graceful stop on SIGTERM, an honest status, the papercuts.

Real ``ibkr`` processes (or ``main`` in-process) against a simulator in real time on a
shifted clock (``--market-time``), so the hour the suite runs at never matters.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from ibkr_host.cli import build_parser, main
from ibkr_host.market_time import ShiftedClock, parse_market_time
from ibkr_session.coordination import open_coordination
from ibkr_sim.gateway import SimulatedGateway
from tests.integration.host.processes import ibkr, stop_with, wait_for

MARKET_TIME = "2026-06-15 10:30"
AT = ["--market-time", MARKET_TIME]
INSIDE_THE_WINDOW = "2026-06-16 01:00"  # Tuesday 01:00 EDT: the nightly reset


def sim_at(when: str, **options: object) -> SimulatedGateway:
    return SimulatedGateway(ShiftedClock(parse_market_time(when)), **options)  # type: ignore[arg-type]


@pytest.fixture
def live_sim() -> Iterator[SimulatedGateway]:
    with sim_at(MARKET_TIME) as gateway:
        yield gateway


# -- signals ---------------------------------------------------------------------------


def test_sigterm_stops_a_paused_worker_at_once_with_exit_0(
    live_sim: SimulatedGateway, tmp_path: Path
) -> None:
    worker = tmp_path / "waits.py"
    worker.write_text(
        "def setup(ctx):\n    ctx.ibkr.search_contract('AAPL')\n\ndef tick(ctx):\n    pass\n"
    )
    live_sim.start_competing()  # setup meets a competing login that does not end
    with ibkr(
        "run", str(worker), "--gateway", live_sim.url, "--state-file", str(tmp_path / "s.json"),
        *AT,
    ) as process:  # fmt: skip
        wait_for(process, "worker.paused")
        took, out, err = stop_with(process, signal.SIGTERM)
    assert process.returncode == 0
    assert took < 1.0
    assert "stopping after the current tick" in err
    assert "waits.py: 0 ticks" in out


def test_sigterm_abandons_a_tick_that_does_not_end(
    live_sim: SimulatedGateway, tmp_path: Path
) -> None:
    worker = tmp_path / "slow.py"
    worker.write_text(
        "import time\n\ndef tick(ctx):\n    ctx.log.info('tick begins')\n    time.sleep(60)\n"
    )
    with ibkr(
        "run", str(worker), "--gateway", live_sim.url, "--state-file", str(tmp_path / "s.json"),
        *AT,
    ) as process:  # fmt: skip
        wait_for(process, "tick begins")
        took, out, err = stop_with(process, signal.SIGTERM)
    assert process.returncode == 0
    assert took < 1.0
    assert "slow.py: 1 ticks: 0 ok, 0 failed, 0 waited for the session, 1 abandoned" in out
    assert "Traceback" not in err


def test_sim_stops_on_sigterm_and_takes_its_misbehaviour_options() -> None:
    with ibkr(
        "sim", "--port", "0", "--no-pacing", "--penalty-seconds", "5", "--idle-timeout", "30",
    ) as process:  # fmt: skip
        assert process.stdout is not None
        url_line = process.stdout.readline()
        took, rest, _ = stop_with(process, signal.SIGTERM)
    assert url_line.startswith("Simulated IBKR gateway at https://127.0.0.1:")
    assert process.returncode == 0
    assert took < 1.0
    assert "simulator stopped" in rest
    args = build_parser().parse_args(
        ["sim", "--no-pacing", "--penalty-seconds", "5", "--idle-timeout", "30"]
    )
    assert (args.pacing, args.penalty_seconds, args.idle_timeout) == (False, 5.0, 30.0)


# -- honest status ---------------------------------------------------------------------


def rows_of(out: str) -> dict[str, str]:
    return {line[:14].strip(): line[14:] for line in out.splitlines()}


def test_status_inside_the_nightly_window_is_normal_and_exits_0(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with sim_at(INSIDE_THE_WINDOW) as sim:
        code = main(["status", "--gateway", sim.url, "--market-time", INSIDE_THE_WINDOW])
    rows = rows_of(capsys.readouterr().out)
    assert code == 0
    assert rows["verdict"] == "reset window until 01:10 EDT (normal)"
    assert rows["state"] == "RESET_WINDOW"


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_status_in_the_penalty_box_says_how_long_is_left_and_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with sim_at(MARKET_TIME, penalty_seconds=300) as sim:
        for _ in range(3):  # a careless client: /tickle allows one per second
            requests.post(f"{sim.url}/v1/api/tickle", verify=False, timeout=5)  # noqa: S501
        code = main(["status", "--gateway", sim.url, *AT])
    rows = rows_of(capsys.readouterr().out)
    assert code == 1
    assert rows["verdict"].startswith("IBKR's penalty box: requests refused for")
    assert rows["penalty box"].startswith("yes, ")
    assert " s left (until about " in rows["penalty box"]


def test_status_lists_the_alerts_the_fleet_has_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = f"file://{tmp_path}/fleet.db"
    with SimulatedGateway() as sim:
        fleet = open_coordination(shared, gateway_url=sim.url)
        fleet.open_incident("competing_session", "another platform holds the session")
        main(["status", "--gateway", sim.url, "--coordination", shared])
    rows = rows_of(capsys.readouterr().out)
    assert rows["alerts open"] == "competing_session: another platform holds the session"


def test_status_of_a_remote_gateway_without_trust_names_the_flags(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["status", "--gateway", "https://203.0.113.9:5000", *AT]) == 1
    err = capsys.readouterr().err
    assert "--pin sha256:HEX" in err
    assert "--ca-file PATH" in err
    assert "--insecure" in err


# -- papercuts -------------------------------------------------------------------------


def test_verbosity_flags_work_after_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    with sim_at(MARKET_TIME, pacing=False) as sim:  # three probes within a second
        assert main(["status", "--gateway", sim.url, *AT]) == 0
        assert capsys.readouterr().err == ""  # status: warnings only
        assert main(["status", "--gateway", sim.url, *AT, "-v"]) == 0
        assert "[info    ] session.transition" in capsys.readouterr().err
        assert main(["status", "--gateway", sim.url, *AT, "-vv"]) == 0
        assert "[debug   ] session.http" in capsys.readouterr().err


def test_quiet_keeps_the_workers_own_lines(
    live_sim: SimulatedGateway, examples: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", str(examples / "nlv_summary.py"), "--gateway", live_sim.url, "--ticks", "1",
            "--state-file", str(tmp_path / "s.json"), *AT, "-q"]  # fmt: skip
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "NLV $" in err  # the worker's ctx.log line
    assert "worker.ready" not in err  # the host's info lines are hidden


def test_a_bad_number_is_said_without_internal_names(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["run", "w.py", "--gateway", "u", "--interval", "soon"])
    err = capsys.readouterr().err
    assert raised.value.code == 2
    assert "argument --interval: not a number: 'soon'" in err
    assert "_positive_float" not in err


def test_a_worker_with_a_syntax_error_gets_one_clear_line(
    live_sim: SimulatedGateway, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    worker = tmp_path / "typo.py"
    worker.write_text("def tick(ctx):\n    return (\n\ndef setup(ctx):\n    pass\n")
    assert main(["run", str(worker), "--gateway", live_sim.url, *AT]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"ibkr: {worker}:2: SyntaxError: ")
    assert len(err.strip().splitlines()) == 1


def test_a_setup_that_raises_gets_one_clear_line(
    live_sim: SimulatedGateway, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    worker = tmp_path / "bug.py"
    worker.write_text(
        "def setup(ctx):\n    raise KeyError('account')\n\ndef tick(ctx):\n    pass\n"
    )
    argv = ["run", str(worker), "--gateway", live_sim.url, "--state-file",
            str(tmp_path / "s.json"), *AT]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"ibkr: {worker}:2: setup raised KeyError: 'account'" in err
    assert "Traceback" not in err
