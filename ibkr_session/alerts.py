"""Alerts when only a human can help: once per incident, once more when it is resolved.

Three incidents need a person, and the session sees each of them itself:

- ``login_required``: there is no SSO session at the gateway; somebody must log in with a
  browser (IBKR wants that at least once a day). The proof is a session call (tickle,
  auth status, ssodh/init) answered "no session" outside the reset window; a refused
  ``/iserver`` request alone proves only that the brokerage session is gone, which
  ssodh/init heals without anybody.
- ``competing_session``: another platform (TWS, the phone app) has held the brokerage
  session for ``competing_after`` seconds; somebody must close it (the session never
  takes it back unasked).
- ``penalty_box``: the gateway answered 429: IBKR keeps it quiet for minutes, and
  something sent too fast.

Login and competing are resolved when the session is AUTHENTICATED again; the penalty
box when a request is answered after the time the 429 named.

``AlertDesk`` decides from the session's own hooks (its transitions and its request
records); nothing is polled. ``check()`` lets the passing time raise the competing alert
(the keep-alive calls it every step). Alerts reach the listeners in order on one thread
of their own (a ``ThreadPoolExecutor`` of one worker), so a slow webhook or command
never holds a request or the session's lock.

With a ``ledger`` (the session's ``Coordinator``) the incidents are the gateway's, not
the process's: a fleet of workers on one gateway announces each incident once, whoever
meets it first, and its end once, whoever sees it first; a manager that starts while an
incident is open resolves it when it sees the end.
"""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass
from typing import Protocol

from ibkr_session.clock import Clock
from ibkr_session.endpoints import Kind
from ibkr_session.errors import NotAuthenticatedError
from ibkr_session.hooks import Listeners, RequestRecord
from ibkr_session.logs import get_logger
from ibkr_session.state import SessionState

__all__ = [
    "COMPETING_SESSION",
    "LOGIN_REQUIRED",
    "PENALTY_BOX",
    "Alert",
    "AlertDesk",
    "IncidentLedger",
]

log = get_logger(__name__)

LOGIN_REQUIRED = "login_required"
COMPETING_SESSION = "competing_session"
PENALTY_BOX = "penalty_box"

_NO_SESSION = NotAuthenticatedError.__name__
_SESSION_CALLS = Kind.SESSION.value


class IncidentLedger(Protocol):
    """Where the incidents of a gateway are kept for all its managers (``Coordinator``)."""

    def open_incident(self, kind: str, reason: str) -> bool: ...

    def close_incident(self, kind: str) -> bool: ...

    def incidents(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class Alert:
    """One change of an incident: ``status`` is ``"raised"`` or ``"resolved"``."""

    status: str
    kind: str
    """``login_required``, ``competing_session`` or ``penalty_box``."""
    reason: str
    gateway: str
    time: str
    """When, in UTC, ISO 8601 to the second (the session clock's time)."""


class AlertDesk:
    """Opens and closes the incidents of one gateway; tells the listeners once per change."""

    def __init__(
        self,
        gateway_url: str,
        clock: Clock,
        *,
        competing_after: float = 300.0,
        ledger: IncidentLedger | None = None,
    ) -> None:
        self._gateway = gateway_url
        self._clock = clock
        self._competing_after = competing_after
        self._ledger = ledger
        self._listeners: Listeners[Alert] = Listeners("on_alert")
        self._lock = threading.Lock()
        self._open: dict[str, str] = dict(ledger.incidents()) if ledger is not None else {}
        self._competing_since: float | None = None
        # A box someone else met: the next answer shows it is over.
        self._penalty_until = clock.monotonic() if PENALTY_BOX in self._open else None
        self._courier = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ibkr-alerts")
        self._last_delivery: Future[None] | None = None

    def listen(self, callback: Callable[[Alert], object]) -> Callable[[], None]:
        """Call ``callback(alert)`` for every alert; returns the function that removes it."""
        return self._listeners.add(callback)

    @property
    def open_incidents(self) -> dict[str, str]:
        """The incidents raised and not yet resolved: kind → reason."""
        with self._lock:
            return dict(self._open)

    # -- what the session feeds in ----------------------------------------------------

    def saw_transition(self, old: SessionState, new: SessionState, reason: str) -> None:
        """``SessionManager.on_transition`` listener."""
        with self._lock:
            if new is SessionState.COMPETING:
                if self._competing_since is None:
                    self._competing_since = self._clock.monotonic()
            elif new in (SessionState.AUTHENTICATED, SessionState.UNAUTHENTICATED):
                self._competing_since = None  # the other platform let go
            if new is SessionState.AUTHENTICATED:
                for kind in (LOGIN_REQUIRED, COMPETING_SESSION):
                    self._resolve(kind, f"the session is authenticated again ({reason})")
            self._check_competing(self._clock.monotonic())

    def saw_request(self, record: RequestRecord) -> None:
        """``SessionManager.on_request`` listener."""
        now = self._clock.monotonic()
        with self._lock:
            if record.outcome == "rate_limited":
                self._penalty_until = now + record.retry_after
                self._raise(PENALTY_BOX, f"IBKR's penalty box: quiet for {record.retry_after:g} s")
            elif record.outcome == _NO_SESSION and record.family == _SESSION_CALLS:
                self._raise(LOGIN_REQUIRED, f"no session at the gateway: log in at {self._gateway}")
            elif record.outcome == "ok" and self._penalty_over(now):
                self._penalty_until = None
                self._resolve(PENALTY_BOX, "the gateway answers requests again")
            self._check_competing(now)

    def check(self) -> None:
        """Raise the competing alert once the competing login has lasted long enough."""
        with self._lock:
            self._check_competing(self._clock.monotonic())

    # -- delivery ----------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every alert so far has reached the listeners; False on timeout."""
        with self._lock:
            last = self._last_delivery
        if last is None:
            return True
        done, _ = wait_for([last], timeout=timeout)
        return bool(done)

    def close(self, timeout: float = 2.0) -> None:
        """Deliver what is queued (up to ``timeout`` seconds), then stop the courier."""
        self.flush(timeout)
        self._courier.shutdown(wait=False, cancel_futures=True)

    # -- incidents (lock held) ----------------------------------------------------------

    def _check_competing(self, now: float) -> None:
        since = self._competing_since
        if since is not None and now - since >= self._competing_after:
            self._raise(
                COMPETING_SESSION,
                f"another platform has held the brokerage session for over "
                f"{self._competing_after:g} s: close TWS or the app to give it back",
            )

    def _penalty_over(self, now: float) -> bool:
        return self._penalty_until is not None and now >= self._penalty_until

    def _raise(self, kind: str, reason: str) -> None:
        if kind in self._open:
            return
        self._open[kind] = reason
        if self._ledger is None or self._ledger.open_incident(kind, reason):
            self._send("raised", kind, reason)

    def _resolve(self, kind: str, reason: str) -> None:
        if self._open.pop(kind, None) is None:
            return
        if self._ledger is None or self._ledger.close_incident(kind):
            self._send("resolved", kind, reason)

    def _send(self, status: str, kind: str, reason: str) -> None:
        when = self._clock.now().astimezone(_dt.UTC).isoformat(timespec="seconds")
        alert = Alert(status, kind, reason, self._gateway, when)
        log.warning("session.alert", status=status, kind=kind, reason=reason)
        if self._listeners:
            try:
                self._last_delivery = self._courier.submit(self._listeners.tell, alert)
            except RuntimeError:  # closed: the session is shutting down
                log.warning("session.alert_undelivered", status=status, kind=kind)
