"""A mocked gateway (``responses``) and a client on virtual time, for the client's tests."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses

from ibkr_api.client import IbkrClient
from ibkr_session import ManualClock

BASE = "https://localhost:5000/v1/api"
ACCOUNT = "U1234567"
SESSION_PATHS = frozenset({"/iserver/auth/status", "/iserver/accounts"})
"""What the session manager sends on its own (probe, priming); tests look past them."""

Recorded = Callable[[str], dict[str, Any]]


@dataclass(frozen=True)
class Sent:
    """One request as the gateway saw it."""

    method: str
    path: str
    query: dict[str, str]
    body: Any


class Gateway:
    """``responses`` dressed as a gateway: canned answers by path, and what was sent."""

    def __init__(self, mock: responses.RequestsMock, recorded: Recorded) -> None:
        self.mock = mock
        self.recorded = recorded

    def body(self, stem: str) -> Any:
        """The body of a recorded response."""
        return self.recorded(stem)["Response"]["Body"]

    def answer(self, method: str, path: str, *answers: Any, status: int = 200) -> None:
        """Answer ``method path`` with each of ``answers`` in turn (the last one repeats).

        An answer that is an exception is raised by the transport instead (a timeout, ...).
        """
        url = re.compile(re.escape(BASE + path) + r"(\?.*)?$")
        for answer in answers:
            if isinstance(answer, BaseException):
                self.mock.add(method, url, body=answer)
            else:
                self.mock.add(method, url, json=answer, status=status)

    def sent(self, *, include_session: bool = False) -> list[Sent]:
        """Requests in the order they were sent, without the session's own by default."""
        requests_sent = [
            _as_sent(call.request)
            for call in self.mock.calls
            if isinstance(call.request, requests.PreparedRequest)
        ]
        return [r for r in requests_sent if include_session or r.path not in SESSION_PATHS]

    def paths(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.sent()]


def _as_sent(request: requests.PreparedRequest) -> Sent:
    parts = urlsplit(request.url or "")
    raw = request.body
    body = json.loads(raw) if raw else None
    return Sent(
        method=request.method or "",
        path=parts.path.removeprefix("/v1/api"),
        query=dict(parse_qsl(parts.query)),
        body=body,
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def gateway(recorded: Recorded) -> Iterator[Gateway]:
    """A gateway right after login: authenticated, accounts answer, selection works."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        gateway = Gateway(mock, recorded)
        gateway.answer("POST", "/iserver/auth/status", gateway.body("Session__GET-auth-status"))
        gateway.answer("GET", "/iserver/accounts", gateway.body("Accounts__GET-iserver-accounts"))
        yield gateway


@pytest.fixture
def client(gateway: Gateway, clock: ManualClock) -> Iterator[IbkrClient]:
    with IbkrClient(clock=clock) as ibkr:
        yield ibkr
