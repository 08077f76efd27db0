"""A host's health, metrics and alerts: scraped and received the way an operator would."""

from __future__ import annotations

import datetime as _dt
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ibkr_host.alerts import Alerts, command_sink, webhook_sink
from ibkr_host.market_time import ShiftedClock, parse_market_time
from ibkr_session.clock import ManualClock
from ibkr_session.errors import CompetingSessionError, NotAuthenticatedError, RateLimitedError
from ibkr_session.state import SessionState
from ibkr_sim.gateway import SimulatedGateway

MARKET_TIME = "2026-06-15 10:30"
S = SessionState


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (loopback)
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def live_sim() -> Iterator[SimulatedGateway]:
    with SimulatedGateway(ShiftedClock(parse_market_time(MARKET_TIME))) as gateway:
        yield gateway


def test_metrics_livez_and_readyz_of_a_running_worker(
    live_sim: SimulatedGateway, examples: Path, tmp_path: Path
) -> None:
    port = free_port()
    command = [sys.executable, "-m", "ibkr_host", "run", str(examples / "nlv_summary.py"),
               "--gateway", live_sim.url, "--interval", "3600", "--market-time", MARKET_TIME,
               "--state-file", str(tmp_path / "s.json"), "--metrics-port", str(port)]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(  # noqa: S603 (our interpreter, fixed argv)
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        assert process.stderr is not None
        for line in process.stderr:  # the first tick has run
            if "NLV $" in line:
                break
        metrics = get(f"http://127.0.0.1:{port}/metrics")
        livez = get(f"http://127.0.0.1:{port}/livez")
        readyz = get(f"http://127.0.0.1:{port}/readyz")
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)
    assert process.returncode == 0
    assert metrics[0] == 200
    assert 'ibkr_session_state{state="AUTHENTICATED"} 1.0' in metrics[1]
    assert 'ibkr_session_state{state="COMPETING"} 0.0' in metrics[1]
    assert 'ibkr_session_transitions_total{new="AUTHENTICATED",old="UNKNOWN"} 1.0' in metrics[1]
    assert 'ibkr_requests_total{family="read",outcome="ok"}' in metrics[1]
    assert 'ibkr_requests_total{family="order"' not in metrics[1]  # the recipe trades nothing
    assert "ibkr_pacing_wait_seconds_total" in metrics[1]
    assert livez == (200, "ok\n")
    assert readyz == (200, "ready\n")


class Webhook:
    """A loopback HTTP server that keeps the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


def test_alerts_once_per_incident_and_once_when_resolved(tmp_path: Path, webhook: Webhook) -> None:
    out = tmp_path / "alerts.txt"
    script = tmp_path / "alert.sh"
    script.write_text(
        '#!/bin/sh\necho "$IBKR_ALERT_STATUS $IBKR_ALERT_KIND $IBKR_GATEWAY_URL '
        '$IBKR_ALERT_TIME $IBKR_ALERT_REASON" >> "$1"\n'
    )
    script.chmod(0o755)
    clock = ManualClock(_dt.datetime(2026, 6, 15, 14, 30, tzinfo=_dt.UTC))
    alerts = Alerts(
        "https://gw:5000",
        clock,
        [command_sink(f"{script} {out}"), webhook_sink(webhook.url)],
        competing_after=300,
    )
    no_login = NotAuthenticatedError(401, "no session")
    for _ in range(5):  # five ticks meet it: one alert, not five
        alerts.on_worker("tick_paused", no_login)
    alerts.on_transition(S.UNAUTHENTICATED, S.AUTHENTICATED, "/tickle: authenticated=true")
    alerts.on_worker("tick_paused", CompetingSessionError(200, "competing"))
    clock.advance(299)
    alerts.check()  # not yet: competing for 299 s
    clock.advance(2)
    alerts.check()
    alerts.check()
    alerts.on_worker("tick_ok", None)
    alerts.on_worker("tick_paused", RateLimitedError(429, "too many", retry_after=600))

    lines = out.read_text().splitlines()
    assert [line.split()[:3] for line in lines] == [
        ["raised", "login_required", "https://gw:5000"],
        ["resolved", "login_required", "https://gw:5000"],
        ["raised", "competing_session", "https://gw:5000"],
        ["resolved", "competing_session", "https://gw:5000"],
        ["raised", "penalty_box", "https://gw:5000"],
    ]
    assert lines[0].split()[3] == "2026-06-15T14:30:00+00:00"
    assert "log in at https://gw:5000" in lines[0]
    assert [(a["status"], a["kind"]) for a in webhook.received] == [
        (line.split()[0], line.split()[1]) for line in lines
    ]
    assert webhook.received[4]["reason"] == "IBKR's penalty box: quiet for 600 s"
    assert alerts.open_incidents == {"penalty_box": "IBKR's penalty box: quiet for 600 s"}


def test_ibkr_run_alerts_a_missing_login_through_its_command(
    live_sim: SimulatedGateway, tmp_path: Path
) -> None:
    out = tmp_path / "alerts.txt"
    worker = tmp_path / "w.py"
    worker.write_text(
        "def setup(ctx):\n    ctx.ibkr.search_contract('AAPL')\n\ndef tick(ctx):\n    pass\n"
    )
    live_sim.logout()  # nobody logged in at the gateway today
    command = [sys.executable, "-m", "ibkr_host", "run", str(worker), "--gateway", live_sim.url,
               "--market-time", MARKET_TIME, "--state-file", str(tmp_path / "s.json"),
               "--alert-command", f"sh -c 'echo $IBKR_ALERT_STATUS $IBKR_ALERT_KIND >> {out}'",
               ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(  # noqa: S603 (our interpreter, fixed argv)
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        assert process.stderr is not None
        for line in process.stderr:
            if "host.alert" in line:
                break
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)
    assert process.returncode == 0
    assert out.read_text().splitlines() == ["raised login_required"]
