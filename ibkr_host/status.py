"""What ``ibkr status`` shows: one probe of a gateway, as label/value rows, and an exit code.

Each row is gathered on its own, so a gateway that answers ``/portfolio`` but not
``/iserver`` (reset window, competing login) still shows everything it can, and the
failing rows say why instead of the whole command dying on the first error.

The verdict is honest about what is normal: the nightly reset window is expected (exit 0,
"reset window until 01:10 EDT (normal)"); a missing login, a competing session, an
unreachable gateway or IBKR's penalty box need attention (exit 1, and the box says how
long is left). Exit codes: ``EXIT_OK`` 0, ``EXIT_ATTENTION`` 1 (the CLI's usage errors: 2).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ibkr_api.client import IbkrClient
from ibkr_session.clock import Clock
from ibkr_session.coordination import Coordinator
from ibkr_session.coordination.shared import KEEPALIVE_LEASE
from ibkr_session.errors import IbkrError, RateLimitedError
from ibkr_session.schedule import ResetSchedule
from ibkr_session.state import SessionState

__all__ = [
    "EXIT_ATTENTION",
    "EXIT_OK",
    "StatusReport",
    "describe_window",
    "gather_status",
    "verdict",
]

EXIT_OK = 0
"""The session is usable, or in an expected window (the nightly reset)."""
EXIT_ATTENTION = 1
"""Someone should look: not logged in, competing, unreachable, the penalty box."""


@dataclass
class StatusReport:
    """Rows to print, whether the session is ready for trading, and the exit code."""

    rows: list[tuple[str, str]] = field(default_factory=list)
    ready: bool = False
    exit_code: int = EXIT_ATTENTION
    penalty_seconds: float | None = None
    """Seconds left in IBKR's penalty box (``None``: not in it)."""


def gather_status(
    gateway_url: str,
    *,
    region: str = "america",
    pin: str | None = None,
    verify: str | None = None,
    insecure: bool = False,
    clock: Clock | None = None,
    coordination: str | None = None,
) -> StatusReport:
    """Probe ``gateway_url`` once and describe the session and the fleet sharing it."""
    report = StatusReport()
    with IbkrClient(
        gateway_url,
        region=region,
        pin=pin,
        verify=verify,
        insecure=insecure,
        clock=clock,
        coordination=coordination,
        retry_attempts=1,
    ) as client:  # one probe, no retries: a status answers at once
        session = client.session
        state = session.refresh()
        report.ready = state is SessionState.AUTHENTICATED
        report.rows.append(("gateway", gateway_url))
        report.rows.append(("state", state.name))
        if state is SessionState.DISCONNECTED:
            report.rows.append(("reachable", "no: is the Client Portal Gateway running there?"))
        else:
            report.rows += [
                ("auth status", _row(report, lambda: _auth_line(client.auth_status()))),
                ("accounts", _row(report, lambda: _accounts_line(client.get_accounts()))),
                ("selected", _row(report, lambda: _selected_line(client))),
            ]
        fleet = _fleet_rows(session.coordinator, report)
        now = session.clock.now()
        text, report.exit_code = verdict(
            state, session.schedule, now, gateway_url, penalty_seconds=report.penalty_seconds
        )
        report.rows.insert(2, ("verdict", text))
        if report.penalty_seconds is not None:
            report.rows.append(("penalty box", _penalty_line(report.penalty_seconds, now, session)))
        report.rows.append(("next reset", describe_window(session.schedule, now)))
        report.rows += fleet
    return report


def _fleet_rows(coordinator: Coordinator, report: StatusReport) -> list[tuple[str, str]]:
    """Who else talks to this gateway, as the shared coordination knows: live workers, the
    keep-alive holder, the brokerage generation, the incidents the fleet alerted about and
    has not seen end, and IBKR's penalty box if one is on."""
    now = coordinator.now()
    shared = coordinator.session()
    others = [worker.holder for worker in coordinator.workers(now)]
    holder = coordinator.holder_of(KEEPALIVE_LEASE, now)
    penalty = shared.penalty_until - now
    if penalty > 0 and report.penalty_seconds is None:
        report.penalty_seconds = penalty
    alone = " (unreachable: this process alone)" if coordinator.degraded else ""
    return [
        ("coordination", f"{coordinator.kind}{alone}"),
        ("workers", f"{len(others)} live" + (f": {', '.join(others)}" if others else "")),
        ("keep-alive", holder[0] if holder else "nobody (the next worker to start tickles)"),
        ("generation", f"{shared.generation} (brokerage sessions seen by the fleet)"),
        ("alerts open", _incidents_line(coordinator.incidents())),
    ]


def _incidents_line(incidents: Mapping[str, str]) -> str:
    return "; ".join(f"{kind}: {reason}" for kind, reason in incidents.items()) or "none"


def verdict(
    state: SessionState,
    schedule: ResetSchedule,
    now: _dt.datetime,
    gateway_url: str,
    *,
    penalty_seconds: float | None = None,
) -> tuple[str, int]:
    """One line saying whether the session is usable, and the exit code that goes with it."""
    if penalty_seconds is not None:
        return (
            f"IBKR's penalty box: requests refused for {penalty_seconds:.0f} s more "
            "(too many requests)",
            EXIT_ATTENTION,
        )
    window = schedule.window_at(now)
    if state is SessionState.RESET_WINDOW or window is not None:
        end = (window[1] if window is not None else schedule.next_window(now)[1]).astimezone(
            schedule.zone
        )
        return f"reset window until {end:%H:%M %Z} (normal)", EXIT_OK
    if state is SessionState.AUTHENTICATED:
        return "ready", EXIT_OK
    if state is SessionState.DISCONNECTED:
        return "gateway unreachable", EXIT_ATTENTION
    if state is SessionState.UNAUTHENTICATED:
        return f"not logged in: log in at {gateway_url}", EXIT_ATTENTION
    if state is SessionState.COMPETING:
        return "a competing login (TWS, the mobile app) holds the session", EXIT_ATTENTION
    return f"session {state.name.lower()}: not usable yet", EXIT_ATTENTION


def describe_window(schedule: ResetSchedule, now: _dt.datetime) -> str:
    """``Tue 2026-01-06 00:55-01:10 EST (05:55-06:10 UTC)``, or ``now, until ...``."""
    start, end = schedule.next_window(now)
    local_start, local_end = start.astimezone(schedule.zone), end.astimezone(schedule.zone)
    local = f"{local_start:%a %Y-%m-%d %H:%M}-{local_end:%H:%M %Z}"
    utc = f"{start:%H:%M}-{end:%H:%M} UTC"
    prefix = "now, " if start <= now else ""
    return f"{prefix}{local} ({utc})"


def _row(report: StatusReport, gather: Callable[[], str]) -> str:
    try:
        return gather()
    except RateLimitedError as exc:
        left = max(float(exc.retry_after), report.penalty_seconds or 0.0)
        report.penalty_seconds = left
        return f"unavailable: {exc}"
    except IbkrError as exc:
        return f"unavailable: {exc}"


def _penalty_line(seconds: float, now: _dt.datetime, session: Any) -> str:
    until = (now + _dt.timedelta(seconds=seconds)).astimezone(session.schedule.zone)
    return f"yes, {seconds:.0f} s left (until about {until:%H:%M:%S %Z})"


def _auth_line(status: Mapping[str, object]) -> str:
    flags = ("authenticated", "competing", "connected")
    return "  ".join(f"{flag}={_yes_no(status.get(flag))}" for flag in flags)


def _yes_no(value: object) -> str:
    return "yes" if value else "no"


def _accounts_line(accounts: Sequence[Mapping[str, object]]) -> str:
    ids = [str(account.get("accountId", account.get("id", "?"))) for account in accounts]
    return ", ".join(ids) if ids else "none"


def _selected_line(client: IbkrClient) -> str:
    answer = client.session.request("GET", "/iserver/accounts")
    selected = answer.get("selectedAccount") if isinstance(answer, dict) else None
    return str(selected) if selected else "none"
