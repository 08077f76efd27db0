"""Alerts when only a human can help: once per incident, once more when it is resolved.

Three incidents need a person: no SSO session (someone must log in at the gateway, at
least once a day), a competing login that lasts longer than ``competing_after`` seconds
(someone left TWS or the phone app open), and IBKR's penalty box (something sent too
fast). The host learns them from the session's transitions (``SessionManager.on_transition``)
and from what the worker's calls met (``WorkerRunner.listeners``); nothing is polled.

``Alerts`` decides (one open incident per kind, never a flood); the delivery is a list of
callables: ``command_sink`` runs a command with the alert in its environment
(``IBKR_ALERT_STATUS`` raised/resolved, ``IBKR_ALERT_KIND``, ``IBKR_ALERT_REASON``,
``IBKR_GATEWAY_URL``, ``IBKR_ALERT_TIME``), ``webhook_sink`` POSTs the same as JSON.
A sink that fails is logged; the worker goes on.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shlex
import subprocess
import threading
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from ibkr_session.clock import Clock
from ibkr_session.errors import (
    CompetingSessionError,
    IbkrError,
    NotAuthenticatedError,
    RateLimitedError,
)
from ibkr_session.logs import get_logger
from ibkr_session.state import SessionState

__all__ = ["Alert", "Alerts", "command_sink", "webhook_sink"]

log = get_logger(__name__)

LOGIN = "login_required"
COMPETING = "competing_session"
PENALTY = "penalty_box"


@dataclass(frozen=True)
class Alert:
    """One alert: ``status`` is ``raised`` or ``resolved``."""

    status: str
    kind: str
    reason: str
    gateway: str
    time: str

    def environment(self) -> dict[str, str]:
        return {
            "IBKR_ALERT_STATUS": self.status,
            "IBKR_ALERT_KIND": self.kind,
            "IBKR_ALERT_REASON": self.reason,
            "IBKR_GATEWAY_URL": self.gateway,
            "IBKR_ALERT_TIME": self.time,
        }


Sink = Callable[[Alert], None]


class Alerts:
    """Open and close incidents; tell every sink once per change."""

    def __init__(
        self,
        gateway_url: str,
        clock: Clock,
        sinks: Sequence[Sink],
        *,
        competing_after: float = 300.0,
    ) -> None:
        self._gateway = gateway_url
        self._clock = clock
        self._sinks = list(sinks)
        self._competing_after = competing_after
        self._lock = threading.Lock()
        self._open: dict[str, str] = {}
        self._competing_since: float | None = None

    @property
    def open_incidents(self) -> dict[str, str]:
        with self._lock:
            return dict(self._open)

    # -- what the host feeds in -------------------------------------------------------

    def on_transition(self, old: SessionState, new: SessionState, reason: str) -> None:
        """``SessionManager.on_transition`` listener."""
        if new is SessionState.COMPETING:
            with self._lock:
                if self._competing_since is None:
                    self._competing_since = self._clock.monotonic()
        elif new is SessionState.AUTHENTICATED:
            with self._lock:
                self._competing_since = None
            for kind in (LOGIN, COMPETING, PENALTY):
                self._resolve(kind, f"session authenticated again ({reason})")
        self.check()

    def on_worker(self, event: str, error: IbkrError | None) -> None:
        """``WorkerRunner.listeners`` listener: what the worker's calls met."""
        if isinstance(error, NotAuthenticatedError):
            self._raise(LOGIN, f"not logged in: log in at {self._gateway}")
        elif isinstance(error, RateLimitedError) and error.code == 429:
            self._raise(PENALTY, f"IBKR's penalty box: quiet for {error.retry_after:g} s")
        elif isinstance(error, CompetingSessionError):
            with self._lock:
                if self._competing_since is None:
                    self._competing_since = self._clock.monotonic()
        elif event in ("tick_ok", "resumed"):
            with self._lock:
                self._competing_since = None
            for kind in (LOGIN, COMPETING, PENALTY):
                self._resolve(kind, "the worker's calls work again")
        self.check()

    def check(self) -> None:
        """Raise the competing alert once the competing login has lasted long enough."""
        with self._lock:
            since = self._competing_since
        if since is not None and self._clock.monotonic() - since >= self._competing_after:
            self._raise(
                COMPETING,
                f"a competing login has held the session for over {self._competing_after:g} s",
            )

    # -- incidents --------------------------------------------------------------------

    def _raise(self, kind: str, reason: str) -> None:
        with self._lock:
            if kind in self._open:
                return
            self._open[kind] = reason
        self._send(Alert("raised", kind, reason, self._gateway, self._now()))

    def _resolve(self, kind: str, reason: str) -> None:
        with self._lock:
            if self._open.pop(kind, None) is None:
                return
        self._send(Alert("resolved", kind, reason, self._gateway, self._now()))

    def _now(self) -> str:
        return self._clock.now().astimezone(_dt.UTC).isoformat(timespec="seconds")

    def _send(self, alert: Alert) -> None:
        log.warning("host.alert", status=alert.status, kind=alert.kind, reason=alert.reason)
        for sink in self._sinks:
            try:
                sink(alert)
            except Exception as exc:
                log.error("host.alert_failed", kind=alert.kind, error=repr(exc))


def command_sink(command: str, *, timeout: float = 30.0) -> Sink:
    """Run ``command`` (split like a shell line, no shell) with the alert in its environment."""
    argv = shlex.split(command)
    if not argv:
        raise ValueError("--alert-command needs a command")

    def run(alert: Alert) -> None:
        env = {**os.environ, **alert.environment()}
        subprocess.run(argv, env=env, timeout=timeout, check=True)  # noqa: S603 (the user's command)

    return run


def webhook_sink(url: str, *, timeout: float = 10.0) -> Sink:
    """POST the alert as JSON to ``url`` (http or https)."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"--alert-webhook needs an http(s) URL, got {url!r}")

    def post(alert: Alert) -> None:
        body = json.dumps(asdict(alert)).encode()
        request = urllib.request.Request(  # noqa: S310 (scheme checked above)
            url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            answer.read()

    return post
