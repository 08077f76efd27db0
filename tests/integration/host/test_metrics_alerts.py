"""A host's health, metrics and alerts: scraped and received the way an operator would."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ibkr_api.client import IbkrClient
from ibkr_api.stream import Stream
from ibkr_host.alerts import command_sink, deliver_to, webhook_sink
from ibkr_host.health import HostMetrics, MetricsServer
from ibkr_host.market_time import ShiftedClock, parse_market_time
from ibkr_session.clock import ManualClock
from ibkr_session.errors import NotAuthenticatedError, RateLimitedError
from ibkr_session.transport import order_question
from ibkr_sim.gateway import SimulatedGateway
from tests.integration.host.processes import ibkr, stop_with, wait_for

MARKET_TIME = "2026-06-15 10:30"
AAPL = 265598
ACCOUNT = "U1234567"


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
    with ibkr("run", str(examples / "nlv_summary.py"), "--gateway", live_sim.url,
              "--interval", "3600", "--market-time", MARKET_TIME,
              "--state-file", str(tmp_path / "s.json"), "--metrics-port", str(port),
              ) as process:  # fmt: skip
        wait_for(process, "NLV $")  # the first tick has run
        metrics = get(f"http://127.0.0.1:{port}/metrics")
        livez = get(f"http://127.0.0.1:{port}/livez")
        readyz = get(f"http://127.0.0.1:{port}/readyz")
        stop_with(process, signal.SIGTERM)
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


def test_question_holds_stream_gaps_and_alerts_are_scraped(
    sim: SimulatedGateway, clock: ManualClock
) -> None:
    with IbkrClient(sim.url, clock=clock) as ibkr:
        metrics = HostMetrics(clock, ibkr.session.schedule, ibkr.session.state)
        metrics.watch(ibkr)
        server = MetricsServer(metrics).start()
        try:
            last = float(ibkr.get_market_snapshot(AAPL)[0]["31"])
            # Far from the last price, large and valuable: a chain of three questions.
            answer = ibkr.place_order(ACCOUNT, AAPL, "BUY", 1000, "LMT", round(last / 2, 2))
            while (question := order_question(answer)) is not None:
                clock.advance(2)  # the user reads it
                answer = ibkr.reply_to_order(question[0], confirmed=True)
            with ibkr.stream(poll=0.01) as stream:
                stream.subscribe_quotes([AAPL])
                step_until(clock, stream, lambda: stream.latest(AAPL) is not None)
                sim.drop_streams()
                step_until(clock, stream, lambda: stream.stats.gaps == 1)
            sim.logout()
            with pytest.raises(NotAuthenticatedError):
                ibkr.tickle()
            assert ibkr.session.alerts.flush(timeout=10)
            status, text = get(f"http://127.0.0.1:{server.port}/metrics")
        finally:
            server.stop()
    assert status == 200
    assert 'ibkr_question_holds_total{phase="held"} 3.0' in text
    assert 'ibkr_question_holds_total{phase="answered"} 3.0' in text
    assert "ibkr_question_hold_open 0.0" in text
    assert 'ibkr_question_hold_seconds_bucket{le="5.0"} 3.0' in text  # 2 s each
    assert "ibkr_stream_gap_seconds_count 1.0" in text
    assert 'ibkr_alert_open{kind="login_required"} 1.0' in text


def step_until(clock: ManualClock, stream: Stream, wanted: Callable[[], bool]) -> None:
    """Move the clock a second at a time, letting the stream's reader keep up."""
    for _ in range(120):
        if wanted():
            return
        clock.advance(1)
        stream.next_event(0.05)
    raise AssertionError("the stream did not get there in 120 s of its clock")


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


def test_alerts_once_per_incident_and_once_when_resolved(
    sim: SimulatedGateway, clock: ManualClock, tmp_path: Path, webhook: Webhook
) -> None:
    out = tmp_path / "alerts.txt"
    script = tmp_path / "alert.sh"
    script.write_text(
        '#!/bin/sh\necho "$IBKR_ALERT_STATUS $IBKR_ALERT_KIND $IBKR_GATEWAY_URL '
        '$IBKR_ALERT_TIME $IBKR_ALERT_REASON" >> "$1"\n'
    )
    script.chmod(0o755)
    with IbkrClient(sim.url, clock=clock, pacing=False, competing_alert_after=300) as ibkr:
        session = ibkr.session
        session.on_alert(deliver_to([command_sink(f"{script} {out}"), webhook_sink(webhook.url)]))
        sim.logout()  # nobody logged in at the gateway today
        for _ in range(5):  # five calls meet it: one alert, not five
            with pytest.raises(NotAuthenticatedError):
                ibkr.tickle()
            clock.advance(2)
        sim.login()
        ibkr.tickle()
        sim.start_competing()  # the user opened TWS
        session.refresh()
        clock.advance(299)
        session.keepalive()  # not yet: competing for 299 s
        for _ in range(3):
            clock.advance(61)
            session.keepalive()
        sim.stop_competing()
        session.ensure_ready()
        for _ in range(12):  # 12 requests in one second, our pacer off: IBKR's penalty box
            with contextlib.suppress(RateLimitedError):
                ibkr.get_accounts()
        clock.advance(601)  # the box is over: the next answer resolves it
        ibkr.get_accounts()
        assert session.alerts.flush(timeout=30)

    lines = out.read_text().splitlines()
    assert [line.split()[:3] for line in lines] == [
        ["raised", "login_required", sim.url],
        ["resolved", "login_required", sim.url],
        ["raised", "competing_session", sim.url],
        ["resolved", "competing_session", sim.url],
        ["raised", "penalty_box", sim.url],
        ["resolved", "penalty_box", sim.url],
    ]
    assert lines[0].split()[3] == "2026-06-15T13:30:00+00:00"
    assert f"log in at {sim.url}" in lines[0]
    assert [(a["status"], a["kind"]) for a in webhook.received] == [
        (line.split()[0], line.split()[1]) for line in lines
    ]
    assert webhook.received[4]["reason"].startswith("IBKR's penalty box: quiet for")


def test_ibkr_run_alerts_a_missing_login_through_its_command(
    live_sim: SimulatedGateway, tmp_path: Path
) -> None:
    out = tmp_path / "alerts.txt"
    worker = tmp_path / "w.py"
    worker.write_text(
        "def setup(ctx):\n    ctx.ibkr.search_contract('AAPL')\n\ndef tick(ctx):\n    pass\n"
    )
    live_sim.logout()  # nobody logged in at the gateway today
    with ibkr("run", str(worker), "--gateway", live_sim.url, "--market-time", MARKET_TIME,
              "--state-file", str(tmp_path / "s.json"),
              "--alert-command", f"sh -c 'echo $IBKR_ALERT_STATUS $IBKR_ALERT_KIND >> {out}'",
              ) as process:  # fmt: skip
        wait_for(process, "session.alert")
        stop_with(process, signal.SIGTERM)
    assert process.returncode == 0
    assert out.read_text().splitlines() == ["raised login_required"]
