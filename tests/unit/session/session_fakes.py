"""A scripted gateway for the manager's unit tests, on top of ``responses``."""

from __future__ import annotations

import json
from typing import Any

import responses

URL = "https://localhost:5000"
API = URL + "/v1/api"
ACCOUNT = "U1234567"


def auth_body(
    *, authenticated: bool = True, competing: bool = False, connected: bool = True
) -> dict[str, Any]:
    """auth/status's flat shape (as recorded)."""
    return {
        "authenticated": authenticated,
        "established": authenticated,
        "competing": competing,
        "connected": connected,
        "message": "",
        "MAC": "AA:BB:CC:DD:EE:FF",
        "fail": "",
    }


def tickle_body(**status: bool) -> dict[str, Any]:
    """tickle's shape, with the status nested under ``iserver.authStatus``."""
    return {
        "session": "abc123",
        "ssoExpires": 540000,
        "iserver": {"authStatus": auth_body(**status)},
    }


class FakeGateway:
    """Registers answers by method and path; repeated registrations answer in order."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.mock = mock

    def on(self, method: str, path: str, body: Any = None, *, status: int = 200, **kw: Any) -> None:
        if isinstance(body, BaseException | str):
            self.mock.add(method, API + path, body=body, status=status, **kw)
        else:
            self.mock.add(method, API + path, json=body, status=status, **kw)

    def serve_session(self, **status: bool) -> None:
        """A healthy gateway: auth answers, priming answers, a tickle."""
        self.on("POST", "/iserver/auth/status", auth_body(**status))
        self.on("POST", "/iserver/auth/ssodh/init", auth_body(**status))
        self.on("POST", "/tickle", tickle_body(**status))
        self.on("GET", "/iserver/accounts", {"accounts": [ACCOUNT], "selectedAccount": ACCOUNT})
        self.on("POST", "/iserver/account", {"set": True, "acctId": ACCOUNT})
        self.on("POST", "/iserver/questions/suppress", {"status": "submitted"})

    def sent(self) -> list[str]:
        """``"METHOD /path"`` of every request that reached the gateway, in order."""
        return [
            f"{call.request.method} {call.request.path_url.removeprefix('/v1/api')}"
            for call in self.mock.calls
        ]

    def body(self, index: int) -> Any:
        raw = self.mock.calls[index].request.body
        return None if raw is None else json.loads(raw)

    def forget(self) -> None:
        """Drop what was sent so far (keeps the registered answers)."""
        self.mock.calls.reset()
