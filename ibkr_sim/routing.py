"""Routes of the simulated gateway and the lenient parsing of what clients send.

Each route says which session it needs (``Access``) and whether ``/iserver/accounts``
must have been queried first, so the gateway applies IBKR's refusals in one place and
the endpoint code only produces answers (or raises ``ibkr_sim.refusal.Refusal``).
Parsing is lenient the way the real gateway is: body-less POSTs, ``true``/``True``
query booleans, GET or POST for the same search.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ibkr_sim.refusal import Refusal
from ibkr_sim.replies import Reply
from ibkr_sim.server import IncomingRequest

__all__ = ["Access", "Call", "Route", "RouteTable", "bad_request", "parse_bool"]

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


class Access(enum.Enum):
    """Which session a route needs."""

    TICKLE = "tickle"  # answers even without a session, with {"error": "no session"}
    SSO = "sso"  # /portfolio/*, /sso/*, /logout: the SSO session is enough
    BROKERAGE_AUTH = "brokerage-auth"  # /iserver/auth/*: work while the brokerage is down
    BROKERAGE = "brokerage"  # every other /iserver/* endpoint


@dataclass(frozen=True)
class Call:
    """One request as an endpoint sees it: the request plus the path's named parts."""

    request: IncomingRequest
    params: dict[str, str] = field(default_factory=dict)

    def query(self, name: str) -> str | None:
        return self.request.query.get(name)

    def required_query(self, name: str) -> str:
        value = self.request.query.get(name, "")
        if not value:
            raise bad_request(f"missing required parameter {name!r}")
        return value

    def query_bool(self, name: str, default: bool = False) -> bool:
        return parse_bool(self.request.query.get(name), name, default)

    def json(self) -> object:
        """The JSON body; ``None`` for an empty body (the gateway accepts those)."""
        if not self.request.body.strip():
            return None
        try:
            return json.loads(self.request.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise bad_request(f"malformed JSON body ({exc})") from exc

    def json_object(self) -> dict[str, object]:
        """The JSON body as an object; an empty body counts as ``{}``."""
        payload = self.json()
        if payload is None:
            return {}
        if not isinstance(payload, dict):
            raise bad_request("expected a JSON object")
        return payload

    def body_or_query(self) -> dict[str, object]:
        """Parameters a route accepts either as a JSON body (POST) or a query (GET)."""
        merged: dict[str, object] = dict(self.request.query)
        merged.update(self.json_object())
        return merged


def parse_bool(value: object, name: str, default: bool) -> bool:
    """``true``/``True``/``1`` and JSON booleans; ``None`` or ``""`` give ``default``."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise bad_request(f"{name} must be true or false, got {value!r}")


def bad_request(message: str) -> Refusal:
    """IBKR's 400 ``{"error": "Bad Request: ...", "statusCode": 400}``."""
    return Refusal(f"Bad Request: {message}", status=400)


Handler = Callable[[Call], Reply]


@dataclass(frozen=True)
class Route:
    """``method`` + a path template like ``/portfolio/{acct}/summary``."""

    method: str
    template: str
    handler: Handler
    access: Access
    needs_priming: bool = False
    answers_question: bool = False  # the one /iserver request that keeps a question alive
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template)
        object.__setattr__(self, "pattern", re.compile(regex))

    @property
    def cancels_questions(self) -> bool:
        """Any ``/iserver`` request but a reply, between a question and its reply, cancels
        the pending order (IBKR-FACTS §4)."""
        iserver = self.access in (Access.BROKERAGE, Access.BROKERAGE_AUTH)
        return iserver and not self.answers_question

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        found = self.pattern.fullmatch(path)
        return found.groupdict() if found else None


class RouteTable:
    """Finds the route of a request; the first matching route wins."""

    def __init__(self, routes: Sequence[Route]) -> None:
        self._routes = tuple(routes)

    def find(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self._routes:
            params = route.match(method, path)
            if params is not None:
                return route, params
        return None
