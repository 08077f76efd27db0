"""The ``ibkr`` command against a simulated gateway serving real HTTPS in real time.

Real time, but never the wall clock's hour: the simulator runs on a ``ShiftedClock`` that
starts at ``MARKET_TIME`` and every command is given ``--market-time`` at the same moment,
so the suite behaves the same at 01:00 New York (inside the nightly window) as at noon.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ibkr_host.cli import main
from ibkr_host.market_time import ShiftedClock, parse_market_time
from ibkr_sim.gateway import SimulatedGateway
from tests.integration.host.processes import ibkr, stop_with, wait_for

MARKET_TIME = "2026-06-15 10:30"
"""Monday morning, New York: market open, hours away from the nightly reset."""
AT = ["--market-time", MARKET_TIME]


@pytest.fixture
def live_sim() -> Iterator[SimulatedGateway]:
    """A simulator in real time from ``MARKET_TIME``, as ``ibkr sim --market-time`` serves it."""
    with SimulatedGateway(ShiftedClock(parse_market_time(MARKET_TIME))) as gateway:
        yield gateway


def test_pin_prints_the_gateway_fingerprint(
    live_sim: SimulatedGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pin", live_sim.url]) == 0
    assert capsys.readouterr().out.strip() == live_sim.fingerprint


def test_status_shows_state_accounts_and_the_next_reset(
    live_sim: SimulatedGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--gateway", live_sim.url, *AT]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line[:14].strip(): line[14:] for line in lines}
    assert rows["verdict"] == "ready"
    assert rows["state"] == "AUTHENTICATED"
    assert "authenticated=yes" in rows["auth status"]
    assert "U1234567" in rows["accounts"]
    assert rows["selected"] == "U1234567"
    assert rows["next reset"] == "Tue 2026-06-16 00:55-01:10 EDT (04:55-05:10 UTC)"


def test_run_executes_a_recipe_and_keeps_its_state(
    live_sim: SimulatedGateway,
    examples: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state_file = tmp_path / "mr.json"
    code = main(
        [
            "run",
            str(examples / "mean_reversion.py"),
            "--gateway",
            live_sim.url,
            "--ticks",
            "1",
            "--state-file",
            str(state_file),
            *AT,
        ]
    )
    assert code == 0
    assert json.loads(state_file.read_text()) == {"account": "U1234567", "aapl_conid": 265598}
    assert "mean_reversion.py: 1 ticks: 1 ok, 0 failed" in capsys.readouterr().out


def test_run_explains_a_missing_worker_file(
    live_sim: SimulatedGateway, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(tmp_path / "nope.py"), "--gateway", live_sim.url]) == 1
    assert "worker file not found" in capsys.readouterr().err


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "run" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "w.py"],
        ["run", "w.py", "--gateway", "u", "--interval", "0"],
        ["run", "w.py", "--gateway", "u", "--interval", "inf"],
        ["demo", "--hours", "inf"],
        ["sim", "--port", "70000"],
        ["sim", "--market-time", "yesterday"],
        ["status", "--region", "mars"],
        ["bogus"],
    ],
)
def test_bad_command_lines_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == 2


def test_sim_serves_until_ctrl_c() -> None:
    with ibkr("sim", "--port", "0") as process:
        assert process.stdout is not None
        url_line = process.stdout.readline()
        fingerprint_line = process.stdout.readline()
        _took, rest, _err = stop_with(process, signal.SIGINT)
    assert url_line.startswith("Simulated IBKR gateway at https://127.0.0.1:")
    assert fingerprint_line.startswith("certificate sha256:")
    assert process.returncode == 0
    assert "simulator stopped" in rest


def test_sim_can_serve_market_hours_at_any_hour() -> None:
    with ibkr("sim", "--port", "0", "--market-time", "2026-06-15 10:30") as process:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        stop_with(process, signal.SIGINT)
    assert lines[2].startswith("simulated time Mon 2026-06-15 10:30 EDT")
    assert process.returncode == 0


def test_run_stops_cleanly_on_ctrl_c_after_the_current_tick(
    live_sim: SimulatedGateway, examples: Path, tmp_path: Path
) -> None:
    with ibkr(
        "run", str(examples / "nlv_summary.py"), "--gateway", live_sim.url,
        "--interval", "3600", "--state-file", str(tmp_path / "nlv.json"), *AT,
    ) as process:  # fmt: skip
        wait_for(process, "NLV $")  # the first tick has run
        _took, out, err = stop_with(process, signal.SIGINT)
    assert process.returncode == 0
    assert "stopping after the current tick" in err
    assert "nlv_summary.py: 1 ticks: 1 ok, 0 failed" in out


def test_run_exits_1_when_every_tick_fails(
    live_sim: SimulatedGateway, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    worker = tmp_path / "broken.py"
    worker.write_text("def tick(ctx):\n    raise ValueError('bad worker')\n")
    argv = ["run", str(worker), "--gateway", live_sim.url, "--ticks", "2", "--interval", "0.01",
            "--state-file", str(tmp_path / "s.json"), *AT]  # fmt: skip
    assert main(argv) == 1
    assert "2 ticks: 0 ok, 2 failed" in capsys.readouterr().out


def test_status_of_a_stopped_gateway_answers_at_once_with_exit_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    assert main(["status", "--gateway", f"https://127.0.0.1:{port}", *AT]) == 1
    assert time.monotonic() - started < 10
    out = capsys.readouterr().out
    assert "DISCONNECTED" in out
    assert "is the Client Portal Gateway running there?" in out


def test_run_hosts_several_workers_on_one_client(
    live_sim: SimulatedGateway,
    examples: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # each worker keeps .ibkr-state/NAME.json here
    recipes = [str(examples / name) for name in ("mean_reversion.py", "nlv_summary.py")]
    code = main(["run", *recipes, "--gateway", live_sim.url, "--ticks", "2", "--interval", "1",
                 "--coordination", "memory", *AT])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "mean_reversion.py: 2 ticks: 2 ok, 0 failed" in out
    assert "nlv_summary.py: 2 ticks: 2 ok, 0 failed" in out
    state = json.loads((tmp_path / ".ibkr-state" / "mean_reversion.json").read_text())
    assert state == {"account": "U1234567", "aapl_conid": 265598}  # its own file
    assert sum(1 for r in live_sim.requests if r.path == "/iserver/auth/status") <= 1  # one session


def test_run_refuses_two_workers_of_one_name_and_one_state_file_for_two(
    examples: Path, tmp_path: Path
) -> None:
    recipe = str(examples / "nlv_summary.py")
    assert main(["run", recipe, recipe, "--gateway", "https://127.0.0.1:1"]) == 2
    other = str(examples / "mean_reversion.py")
    state = ["--state-file", str(tmp_path / "s.json")]
    assert main(["run", recipe, other, "--gateway", "https://127.0.0.1:1", *state]) == 2


def test_status_shows_the_fleet_sharing_the_gateway(
    live_sim: SimulatedGateway, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ibkr_api import IbkrClient

    shared = f"file://{tmp_path / 'fleet.db'}"
    clock = ShiftedClock(parse_market_time(MARKET_TIME))
    with IbkrClient(live_sim.url, clock=clock, coordination=shared) as worker:
        worker.session.keepalive()  # a running worker: heartbeat and the keep-alive lease
        holder = worker.session.coordinator.holder
        assert main(["status", "--gateway", live_sim.url, "--coordination", shared, *AT]) == 0
    rows = {line[:14].strip(): line[14:] for line in capsys.readouterr().out.splitlines()}
    assert rows["coordination"] == "file"
    assert rows["workers"] == f"1 live: {holder}"
    assert rows["keep-alive"] == holder
    assert rows["generation"].startswith("1 ")
