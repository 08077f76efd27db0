"""A mocked gateway (``responses``) and a client on virtual time, for the client's tests."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses

from ibkr_api.client import IbkrClient
from ibkr_session import Clock, ManualClock

BASE = "https://localhost:5000/v1/api"
ACCOUNT = "U1234567"
SESSION_PATHS = frozenset({"/iserver/auth/status", "/iserver/accounts"})
"""What the session manager sends on its own (probe, priming); tests look past them."""

Recorded = Callable[[str], dict[str, Any]]


@dataclass(frozen=True)
class Sent:
    """One request as the gateway saw it; ``at`` is the clock's monotonic reading then."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    at: float = field(default=0.0, compare=False)


@dataclass(frozen=True)
class Reply:
    """An answer with a status other than 200 (``body=None``: empty text/plain)."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class Gateway:
    """``responses`` dressed as a gateway: scripted answers by path, and what was sent."""

    def __init__(self, mock: responses.RequestsMock, recorded: Recorded, clock: Clock) -> None:
        self.mock = mock
        self.recorded = recorded
        self.clock = clock
        self.log: list[Sent] = []
        self._scripts: dict[tuple[str, str], list[Any]] = {}

    def body(self, stem: str) -> Any:
        """The body of a recorded response."""
        return self.recorded(stem)["Response"]["Body"]

    def answer(self, method: str, path: str, *answers: Any) -> None:
        """From now on answer ``method path`` with each of ``answers`` in turn, the last
        one repeating: JSON bodies (status 200), ``Reply(status, body)``, or an exception
        the transport raises instead (a read timeout, a refused connection)."""
        key = (method, path)
        if key not in self._scripts:
            url = re.compile(re.escape(BASE + path) + r"(\?.*)?$")
            self.mock.add_callback(method, url, callback=lambda request: self._reply(key, request))
        self._scripts[key] = list(answers)

    def _reply(self, key: tuple[str, str], request: requests.PreparedRequest) -> Any:
        self.log.append(_as_sent(request, self.clock.monotonic()))
        script = self._scripts[key]
        answer = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(answer, BaseException):
            raise answer
        reply = answer if isinstance(answer, Reply) else Reply(200, answer)
        if reply.body is None:
            return reply.status, {"Content-Type": "text/plain", **reply.headers}, ""
        headers = {"Content-Type": "application/json", **reply.headers}
        return reply.status, headers, json.dumps(reply.body)

    def sent(self, *, include_session: bool = False) -> list[Sent]:
        """Requests in the order they were sent, without the session's own by default."""
        return [r for r in self.log if include_session or r.path not in SESSION_PATHS]

    def paths(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.sent()]


def _as_sent(request: requests.PreparedRequest, at: float) -> Sent:
    parts = urlsplit(request.url or "")
    raw = request.body
    body = json.loads(raw) if raw else None
    return Sent(
        method=request.method or "",
        path=parts.path.removeprefix("/v1/api"),
        query=dict(parse_qsl(parts.query)),
        body=body,
        at=at,
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def gateway(recorded: Recorded, clock: ManualClock) -> Iterator[Gateway]:
    """A gateway right after login: authenticated, and the accounts answer for priming."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        gateway = Gateway(mock, recorded, clock)
        gateway.answer("POST", "/iserver/auth/status", gateway.body("Session__GET-auth-status"))
        gateway.answer("GET", "/iserver/accounts", gateway.body("Accounts__GET-iserver-accounts"))
        yield gateway


@pytest.fixture
def client(gateway: Gateway, clock: ManualClock) -> Iterator[IbkrClient]:
    with IbkrClient(clock=clock) as ibkr:
        yield ibkr
