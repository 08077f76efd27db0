"""Where ``ibkr run`` sends the session's alerts: a command and/or a webhook.

The session decides when only a human can help (``ibkr_session.alerts``: no SSO login, a
competing login longer than ``--competing-alert-after``, IBKR's penalty box), once per
incident and once more when it is resolved; ``SessionManager.on_alert`` hands each alert
to ``deliver_to(sinks)`` on the alerts' own thread. A sink is a callable:
``command_sink`` runs a command with the alert in its environment (``IBKR_ALERT_STATUS``
raised/resolved, ``IBKR_ALERT_KIND``, ``IBKR_ALERT_REASON``, ``IBKR_GATEWAY_URL``,
``IBKR_ALERT_TIME``), ``webhook_sink`` POSTs the alert's fields as JSON. A sink that
fails is logged; the worker goes on.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict

from ibkr_session.alerts import Alert
from ibkr_session.logs import get_logger

__all__ = ["alert_environment", "command_sink", "deliver_to", "webhook_sink"]

log = get_logger(__name__)

Sink = Callable[[Alert], None]


def alert_environment(alert: Alert) -> dict[str, str]:
    """The variables an alert command finds in its environment."""
    return {
        "IBKR_ALERT_STATUS": alert.status,
        "IBKR_ALERT_KIND": alert.kind,
        "IBKR_ALERT_REASON": alert.reason,
        "IBKR_GATEWAY_URL": alert.gateway,
        "IBKR_ALERT_TIME": alert.time,
    }


def deliver_to(sinks: Sequence[Sink]) -> Callable[[Alert], None]:
    """One ``on_alert`` listener for every sink: each one tried, a failure logged."""
    chosen = list(sinks)

    def deliver(alert: Alert) -> None:
        for sink in chosen:
            try:
                sink(alert)
            except Exception as exc:
                log.error("host.alert_failed", kind=alert.kind, error=repr(exc))

    return deliver


def command_sink(command: str, *, timeout: float = 30.0) -> Sink:
    """Run ``command`` (split like a shell line, no shell) with the alert in its environment."""
    argv = shlex.split(command)
    if not argv:
        raise ValueError("--alert-command needs a command")

    def run(alert: Alert) -> None:
        env = {**os.environ, **alert_environment(alert)}
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
