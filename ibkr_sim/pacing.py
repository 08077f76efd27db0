"""The gateway's pacing limits, as a server enforces them.

IBKR answers 429 when a client goes faster than the limits of IBKR-FACTS §3 and then
keeps the whole IP in a penalty box: every request gets 429 until it ends. History has a
second guard, at most 5 requests in flight; the 6th gets a 429 with its own message (an
answer of the charts service, not the IP limiter, so no penalty box follows).
Every row of IBKR's table is a budget of its own (``RULES``); a row marked ``per_path``
(``/fyi/*``) gives each path it matches its own window. A request counts in every row it
matches, the global 10/s included. All windows are measured on the injected clock's
monotonic reading, so a test can travel through them.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from dataclasses import dataclass

__all__ = ["HISTORY_BUSY_MESSAGE", "RULES", "Admission", "RateRule", "ServerPacing"]

HISTORY_BUSY_MESSAGE = "Too many history charts requests, please try again later."
_HISTORY_PATH = "/iserver/marketdata/history"
_HISTORY_CONCURRENCY = 5
_FIFTEEN_MINUTES = 900.0


@dataclass(frozen=True)
class RateRule:
    """At most ``limit`` requests per ``per`` seconds for requests matching the rule."""

    name: str
    method: str | None
    pattern: str
    limit: int
    per: float
    per_path: bool = False  # every path the pattern matches has a budget of its own

    def bucket(self, path: str) -> str:
        """The key of the window this request counts in."""
        return f"{self.name} {path}" if self.per_path else self.name

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return re.fullmatch(self.pattern, path) is not None


RULES: tuple[RateRule, ...] = (
    RateRule("global", None, r".*", 10, 1.0),
    RateRule("snapshot", "GET", r"/iserver/marketdata/snapshot", 10, 1.0),
    RateRule("orders", "GET", r"/iserver/account/orders", 1, 5.0),
    RateRule("trades", "GET", r"/iserver/account/trades", 1, 5.0),
    RateRule("pnl", "GET", r"/iserver/account/pnl/partitioned", 1, 5.0),
    RateRule("portfolio-accounts", "GET", r"/portfolio/accounts", 1, 5.0),
    RateRule("portfolio-subaccounts", "GET", r"/portfolio/subaccounts", 1, 5.0),
    RateRule("scanner-params", "GET", r"/iserver/scanner/params", 1, _FIFTEEN_MINUTES),
    RateRule("scanner-run", "POST", r"/iserver/scanner/run", 1, 1.0),
    RateRule("pa-performance", "POST", r"/pa/performance", 1, _FIFTEEN_MINUTES),
    RateRule("pa-summary", "POST", r"/pa/summary", 1, _FIFTEEN_MINUTES),
    RateRule("pa-transactions", "POST", r"/pa/transactions", 1, _FIFTEEN_MINUTES),
    RateRule("fyi", None, r"/fyi/.*", 1, 1.0, per_path=True),
    RateRule("tickle", "POST", r"/tickle", 1, 1.0),
    RateRule("sso-validate", "GET", r"/sso/validate", 1, 60.0),
)
"""IBKR-FACTS §3, one row per budget: IBKR lists every endpoint on its own row, so
``/portfolio/accounts`` and ``/portfolio/subaccounts`` do not share one, and each
``/fyi/*`` path has its own 1/s."""


@dataclass(frozen=True)
class Admission:
    """The pacing verdict for one request: admitted, or refused with a reason."""

    admitted: bool
    history_busy: bool = False
    holds_history_slot: bool = False


class ServerPacing:
    """Sliding-window counters, the history in-flight count and the penalty box.

    Not thread-safe on its own: the gateway calls it under its lock. The history slot is
    taken at admission and given back with ``release_history`` once the answer is out.
    """

    def __init__(self, penalty_seconds: float, rules: tuple[RateRule, ...] = RULES) -> None:
        self._penalty_seconds = penalty_seconds
        self._rules = rules
        self._seen: defaultdict[str, deque[float]] = defaultdict(deque)
        self._penalty_until = float("-inf")
        self._history_in_flight = 0

    def admit(self, method: str, path: str, now: float) -> Admission:
        """Count the request if the limits allow it; else refuse (and maybe penalize)."""
        if now < self._penalty_until:
            return Admission(admitted=False)
        matching = [rule for rule in self._rules if rule.matches(method, path)]
        if any(self._is_full(rule, path, now) for rule in matching):
            self._penalty_until = now + self._penalty_seconds
            return Admission(admitted=False)
        history = method == "GET" and path == _HISTORY_PATH
        if history and self._history_in_flight >= _HISTORY_CONCURRENCY:
            return Admission(admitted=False, history_busy=True)
        for rule in matching:
            self._seen[rule.bucket(path)].append(now)
        if history:
            self._history_in_flight += 1
        return Admission(admitted=True, holds_history_slot=history)

    def release_history(self) -> None:
        """Give back the in-flight slot an admitted history request held."""
        self._history_in_flight -= 1

    def _is_full(self, rule: RateRule, path: str, now: float) -> bool:
        seen = self._seen[rule.bucket(path)]
        while seen and seen[0] <= now - rule.per:
            seen.popleft()
        return len(seen) >= rule.limit
