"""The two sessions of a gateway and everything that ends them, evaluated lazily.

A Client Portal Gateway holds an SSO session (a human logged in; enough for
``/portfolio/*``) and a brokerage session (needed for ``/iserver/*``). The brokerage
session dies on its own: after ``idle_timeout`` seconds without requests, at the nightly
reset, or when the same user logs in on another platform (a *competing* session). After
each new brokerage session ``/iserver/accounts`` must be queried again (priming), the
account selected again and suppressed order questions suppressed again. Nothing runs in
the background: ``observe`` looks at the clock at each request and applies whatever
happened since the last one, so time travel with a ``ManualClock`` behaves exactly like
waiting.
"""

from __future__ import annotations

import datetime as _dt
import enum
import secrets
from collections.abc import Callable, Sequence

from ibkr_session.clock import Clock
from ibkr_session.logs import get_logger
from ibkr_sim.nightly import NightlyReset

__all__ = ["AccountSelection", "SessionModel"]

log = get_logger(__name__)

_SERVER_INFO = {
    "serverName": "SimGateway01",
    "serverVersion": "Build 10.44.1d, Mar 3, 2026 1:55:32 PM",
}
_MAC = "02:00:00:00:00:01"


class AccountSelection(enum.Enum):
    """The three answers of ``POST /iserver/account``."""

    SET = "set"
    ALREADY_SET = "already set"
    INVALID = "invalid"


class SessionModel:
    """SSO session, brokerage session, competing login, and what belongs to one
    brokerage session: priming, the selected account, suppressed question ids.

    Not thread-safe on its own: the gateway calls it under its lock.
    ``on_brokerage_lost`` runs whenever a brokerage session ends, so market-data
    subscriptions and pending order questions kept elsewhere can die with it.
    """

    def __init__(
        self,
        *,
        accounts: Sequence[str],
        idle_timeout: float,
        reset: NightlyReset,
        logged_in: bool,
        clock: Clock,
        on_brokerage_lost: Callable[[], None],
    ) -> None:
        if not accounts:
            raise ValueError("the simulated gateway needs at least one account")
        if idle_timeout <= 0:
            raise ValueError(f"idle_timeout must be positive, got {idle_timeout}")
        self._accounts = tuple(accounts)
        self._idle_timeout = idle_timeout
        self._reset = reset
        self._on_brokerage_lost = on_brokerage_lost
        self._clock = clock
        self._last_seen = clock.now()
        self._last_activity = clock.monotonic()
        self.last_request_at = self._last_seen
        self.sso = False
        self.sso_session_id = ""
        self.sso_login_at = self._last_seen
        self.authenticated = False
        self.competing = False
        self.primed = False
        self.selected_account = self._accounts[0]
        self.suppressed: set[str] = set()
        self.generation = 0
        if logged_in:
            self.login()

    # -- the clock ------------------------------------------------------------------------

    def observe(self) -> None:
        """Apply what the passing of time did since the previous request, then count
        this request as activity."""
        now, monotonic = self.catch_up()
        self._last_activity = monotonic
        self.last_request_at = now

    def catch_up(self) -> tuple[_dt.datetime, float]:
        """Apply what the passing of time did since last looked, without counting any
        activity (the streams look between requests); returns the clock's readings."""
        now, monotonic = self._clock.now(), self._clock.monotonic()
        if self._reset.started_between(self._last_seen, now):
            self._lose_brokerage("nightly reset")
        elif monotonic - self._last_activity >= self._idle_timeout:
            self._lose_brokerage("idle timeout")
        self._last_seen = max(self._last_seen, now)
        return now, monotonic

    def in_reset(self) -> bool:
        return self._reset.window_at(self._clock.now()) is not None

    # -- what a human or another platform does ----------------------------------------------

    def login(self) -> None:
        """A user logged in at the gateway: SSO and a fresh brokerage session, which
        replaces any previous one."""
        if not self.sso:
            self.sso = True
            self.sso_session_id = secrets.token_hex(16)
            self.sso_login_at = self._clock.now()
        if not self.competing:
            self._lose_brokerage("new login")
            self._establish("login")

    def logout(self) -> None:
        """The SSO session ends; with it the brokerage session."""
        self._lose_brokerage("logout")
        self.sso = False

    def expire_brokerage(self) -> None:
        """Force the idle expiry now (SSO stays up)."""
        self._lose_brokerage("expired")

    def start_competing(self) -> None:
        """The same user logged in on another platform and took the brokerage session."""
        self._lose_brokerage("competing login")
        self.competing = True

    def stop_competing(self) -> None:
        """The other platform let go. Our brokerage session stays down until ssodh/init."""
        self.competing = False

    # -- what the client does ------------------------------------------------------------

    def init_brokerage(self, *, compete: bool) -> None:
        """``POST /iserver/auth/ssodh/init`` with ``publish=true``.

        A competing session is only kicked out with ``compete=true``; otherwise the call
        leaves everything as it is and the answer shows ``competing: true``.
        """
        if self.competing and not compete:
            return
        self.competing = False
        if not self.authenticated:
            self._establish("ssodh/init")

    def prime(self) -> None:
        """``GET /iserver/accounts`` was called in this brokerage session."""
        self.primed = True

    def select_account(self, account_id: str) -> AccountSelection:
        if account_id not in self._accounts:
            return AccountSelection.INVALID
        if account_id == self.selected_account:
            return AccountSelection.ALREADY_SET
        self.selected_account = account_id
        return AccountSelection.SET

    def auth_status(self, *, with_fail: bool = True) -> dict[str, object]:
        """The body of ``/iserver/auth/status``; ssodh/init and tickle omit ``fail``."""
        status: dict[str, object] = {
            "authenticated": self.authenticated,
            "established": self.authenticated,
            "competing": self.competing,
            "connected": self.sso,
            "message": "",
            "MAC": _MAC,
            "serverInfo": dict(_SERVER_INFO),
            "hardware_info": f"sim0001|{_MAC}",
        }
        if with_fail:
            status["fail"] = ""
        return status

    def sso_expires_ms(self) -> int:
        """``ssoExpires`` of ``/tickle``: a rolling window that this request just renewed."""
        return int(self._idle_timeout * 1000)

    # -- transitions ----------------------------------------------------------------------

    def _establish(self, reason: str) -> None:
        self.authenticated = True
        self.primed = False
        self.suppressed.clear()
        self.selected_account = self._accounts[0]
        self.generation += 1
        log.debug("sim.brokerage_established", reason=reason, generation=self.generation)

    def _lose_brokerage(self, reason: str) -> None:
        was_up = self.authenticated
        self.authenticated = False
        self.primed = False
        self.suppressed.clear()
        if was_up:
            log.debug("sim.brokerage_lost", reason=reason, generation=self.generation)
            self._on_brokerage_lost()
