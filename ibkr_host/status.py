"""What ``ibkr status`` shows: one probe of a gateway, as label/value rows.

Each row is gathered on its own, so a gateway that answers ``/portfolio`` but not
``/iserver`` (reset window, competing login) still shows everything it can, and the
failing rows say why instead of the whole command dying on the first error.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ibkr_api.client import IbkrClient
from ibkr_session.clock import Clock
from ibkr_session.errors import IbkrError
from ibkr_session.schedule import ResetSchedule
from ibkr_session.state import SessionState

__all__ = ["StatusReport", "describe_window", "gather_status"]


@dataclass
class StatusReport:
    """Rows to print, and whether the session is ready for trading."""

    rows: list[tuple[str, str]] = field(default_factory=list)
    ready: bool = False


def gather_status(
    gateway_url: str,
    *,
    region: str = "america",
    pin: str | None = None,
    clock: Clock | None = None,
) -> StatusReport:
    """Probe ``gateway_url`` once and describe the session."""
    report = StatusReport()
    with IbkrClient(
        gateway_url, region=region, pin=pin, clock=clock, retry_attempts=1
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
                ("auth status", _row(lambda: _auth_line(client.auth_status()))),
                ("accounts", _row(lambda: _accounts_line(client.get_accounts()))),
                ("selected", _row(lambda: _selected_line(client))),
            ]
        window = describe_window(session.schedule, session.clock.now())
        report.rows.append(("next reset", window))
    return report


def describe_window(schedule: ResetSchedule, now: _dt.datetime) -> str:
    """``Tue 2026-01-06 00:55-01:10 EST (05:55-06:10 UTC)``, or ``now, until ...``."""
    start, end = schedule.next_window(now)
    local_start, local_end = start.astimezone(schedule.zone), end.astimezone(schedule.zone)
    local = f"{local_start:%a %Y-%m-%d %H:%M}-{local_end:%H:%M %Z}"
    utc = f"{start:%H:%M}-{end:%H:%M} UTC"
    prefix = "now, " if start <= now else ""
    return f"{prefix}{local} ({utc})"


def _row(gather: Callable[[], str]) -> str:
    try:
        return gather()
    except IbkrError as exc:
        return f"unavailable: {exc}"


def _auth_line(status: dict[str, Any]) -> str:
    flags = ("authenticated", "competing", "connected")
    return "  ".join(f"{flag}={_yes_no(status.get(flag))}" for flag in flags)


def _yes_no(value: object) -> str:
    return "yes" if value else "no"


def _accounts_line(accounts: list[dict[str, Any]]) -> str:
    ids = [str(account.get("accountId", account.get("id", "?"))) for account in accounts]
    return ", ".join(ids) if ids else "none"


def _selected_line(client: IbkrClient) -> str:
    answer = client.session.request("GET", "/iserver/accounts")
    selected = answer.get("selectedAccount") if isinstance(answer, dict) else None
    return str(selected) if selected else "none"
