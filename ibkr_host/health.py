"""``ibkr run --metrics-port``: Prometheus metrics, ``/livez`` and ``/readyz`` of a host.

Needs ``prometheus_client`` (the optional extra ``ibkr-session[metrics]``). Everything is
fed by hooks, never by polling the gateway: the session's transitions
(``SessionManager.on_transition``: state, transitions, recoveries and how long they took),
its requests (``SessionManager.on_request``: by endpoint family and outcome, 429s, pacing
waits, durations), its order-question holds (``SessionManager.on_question``), its alerts
(``SessionManager.on_alert``: which incidents are open), the gaps of the worker's streams
(``IbkrClient.on_stream_gap``) and the runner's listeners (ticks by outcome). Ready means
the session is usable or in an expected window (the nightly reset); live means the host
process answers.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from ibkr_api.stream import StreamGap
from ibkr_session.alerts import Alert
from ibkr_session.clock import Clock
from ibkr_session.errors import IbkrError
from ibkr_session.hooks import QuestionHold, RequestRecord
from ibkr_session.logs import get_logger
from ibkr_session.schedule import ResetSchedule
from ibkr_session.state import SessionState

if TYPE_CHECKING:
    from ibkr_api.client import IbkrClient

__all__ = ["HostMetrics", "MetricsServer"]

log = get_logger(__name__)

_READY = (SessionState.AUTHENTICATED, SessionState.RESET_WINDOW)


class HostMetrics:
    """Prometheus series of one hosted worker, in their own registry."""

    def __init__(self, clock: Clock, schedule: ResetSchedule, state: SessionState) -> None:
        try:
            import prometheus_client as prom
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "--metrics-port needs prometheus_client: pip install 'ibkr-session[metrics]'"
            ) from exc
        self._prom = prom
        self._clock = clock
        self._schedule = schedule
        self._lock = threading.Lock()
        self._state = state
        self._left_authenticated: float | None = None
        self.registry = prom.CollectorRegistry()
        self._state_gauge = prom.Gauge(
            "ibkr_session_state",
            "1 for the session's current state, 0 for the others",
            ["state"],
            registry=self.registry,
        )
        self._transitions = prom.Counter(
            "ibkr_session_transitions",
            "Session state changes",
            ["old", "new"],
            registry=self.registry,
        )
        self._recoveries = prom.Histogram(
            "ibkr_session_recovery_seconds",
            "From leaving AUTHENTICATED to being AUTHENTICATED again",
            buckets=(1, 5, 30, 60, 300, 900, 1800, 3600),
            registry=self.registry,
        )
        self._ticks = prom.Counter(
            "ibkr_worker_ticks", "Worker ticks by outcome", ["outcome"], registry=self.registry
        )
        self._requests = prom.Counter(
            "ibkr_requests",
            "Requests to the gateway by endpoint family and outcome (rate_limited: a 429)",
            ["family", "outcome"],
            registry=self.registry,
        )
        self._pacing_wait = prom.Counter(
            "ibkr_pacing_wait_seconds",
            "Seconds requests waited for IBKR's pacing limits before leaving",
            registry=self.registry,
        )
        self._request_seconds = prom.Histogram(
            "ibkr_request_seconds",
            "From a request leaving to its answer",
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30),
            registry=self.registry,
        )
        self._question_holds = prom.Counter(
            "ibkr_question_holds",
            "Order-question holds by phase: held (a question arrived), answered, abandoned, "
            "expired",
            ["phase"],
            registry=self.registry,
        )
        self._question_open = prom.Gauge(
            "ibkr_question_hold_open",
            "1 while an order question holds the session quiet",
            registry=self.registry,
        )
        self._question_seconds = prom.Histogram(
            "ibkr_question_hold_seconds",
            "How long order questions held the session quiet",
            buckets=(0.1, 0.5, 1, 5, 10, 30, 60),
            registry=self.registry,
        )
        self._stream_gaps = prom.Histogram(
            "ibkr_stream_gap_seconds",
            "Intervals in which a stream could not deliver (StreamGap), by length",
            buckets=(1, 5, 30, 60, 300, 900, 3600),
            registry=self.registry,
        )
        self._alerts_open = prom.Gauge(
            "ibkr_alert_open",
            "1 while an incident only a human can fix is open, by kind",
            ["kind"],
            registry=self.registry,
        )
        self._show_state(state)

    # -- hooks ------------------------------------------------------------------------

    def watch(self, client: IbkrClient) -> None:
        """Listen to every hook of ``client`` and its session (the runner's are separate)."""
        session = client.session
        session.on_transition(self.on_transition)
        session.on_request(self.on_request)
        session.on_question(self.on_question)
        session.on_alert(self.on_alert)
        client.on_stream_gap(self.on_stream_gap)

    def on_transition(self, old: SessionState, new: SessionState, reason: str) -> None:
        now = self._clock.monotonic()
        with self._lock:
            self._state = new
            self._transitions.labels(old.name, new.name).inc()
            if old is SessionState.AUTHENTICATED and new is not SessionState.AUTHENTICATED:
                self._left_authenticated = now
            elif new is SessionState.AUTHENTICATED and self._left_authenticated is not None:
                self._recoveries.observe(now - self._left_authenticated)
                self._left_authenticated = None
            self._show_state(new)

    def on_request(self, record: RequestRecord) -> None:
        self._requests.labels(record.family, record.outcome).inc()
        self._pacing_wait.inc(record.waited)
        if record.outcome != "paced_out":
            self._request_seconds.observe(record.seconds)

    def on_question(self, hold: QuestionHold) -> None:
        self._question_holds.labels(hold.phase).inc()
        held = hold.phase == "held"
        self._question_open.set(1 if held else 0)
        if not held:
            self._question_seconds.observe(hold.seconds)

    def on_stream_gap(self, gap: StreamGap) -> None:
        self._stream_gaps.observe(gap.seconds)

    def on_alert(self, alert: Alert) -> None:
        self._alerts_open.labels(alert.kind).set(1 if alert.status == "raised" else 0)

    def on_worker(self, event: str, error: IbkrError | None) -> None:
        if event.startswith("tick_"):
            self._ticks.labels(event.removeprefix("tick_")).inc()

    # -- probes -----------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Usable, or inside the nightly window (expected: nothing to do but wait)."""
        with self._lock:
            state = self._state
        return state in _READY or self._schedule.window_at(self._clock.now()) is not None

    def exposition(self) -> bytes:
        return bytes(self._prom.generate_latest(self.registry))

    def _show_state(self, current: SessionState) -> None:
        for state in SessionState:
            self._state_gauge.labels(state.name).set(1 if state is current else 0)


class MetricsServer:
    """``/metrics``, ``/livez``, ``/readyz`` over HTTP on ``host:port`` (0: a free port)."""

    def __init__(self, metrics: HostMetrics, *, host: str = "127.0.0.1", port: int = 0) -> None:
        handler = _handler(metrics)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="ibkr-metrics", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> MetricsServer:
        self._thread.start()
        log.info("host.metrics_serving", port=self.port)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler(metrics: HostMetrics) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._answer(200, metrics.exposition(), "text/plain; version=0.0.4")
            elif path == "/livez":
                self._answer(200, b"ok\n", "text/plain")
            elif path == "/readyz":
                ready = metrics.ready
                self._answer(200 if ready else 503, b"ready\n" if ready else b"not ready\n")
            else:
                self._answer(404, b"not found\n")

        def _answer(self, status: int, body: bytes, kind: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("host.metrics_request", line=format % args)

    return Handler
