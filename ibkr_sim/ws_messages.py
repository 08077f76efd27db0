"""IBKR's WebSocket text messages (IBKR-FACTS §3a): what a client sends, what the gateway
answers. Pure functions, no I/O.

Client → gateway (text frames, no JSON envelope)::

    tic                                   keep-alive; counts as activity like /tickle
    ech+hb                                echo
    smd+<conid>+{"fields":["31","84"]}    market data;  umd+<conid>+{}  stops it
    sor+{}                                live orders;  uor+{}          stops them
    spl+{}                                P&L;          upl+{}          stops it
    str+{"realtimeUpdatesOnly":true,"days":1}  trades;  utr             stops them

Gateway → client (JSON objects with a ``topic``)::

    {"topic":"system","success":"<user>","isFT":false,"isPaper":false}   on connect
    {"topic":"system","hb":<ms>}                                        about every 10 s
    {"topic":"sts","args":{"authenticated":false,"competing":true,...}} session changes
    {"topic":"act","args":{"accounts":[...],"selectedAccount":...,...}} on connect
    {"topic":"tic","alive":true,"id":"<session>","lastAccessed":<ms>}   answers ``tic``
    {"topic":"ech+hb","alive":true}                                     answers ``ech+hb``
    {"topic":"smd+<conid>","conid":...,"31":"168.42","_updated":<ms>,"server_id":"q0"}
    {"topic":"sor","args":[{orderId, conid, status, filledQuantity, ...}]}
    {"topic":"spl","args":{"<acct>.Core":{"rowType":1,"dpl":...,"upl":...,"nl":...}}}
    {"topic":"str","args":[{execution_id, conid, side, size, price, order_ref, ...}]}
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "USER_NAME",
    "Command",
    "act",
    "echo",
    "encode",
    "heartbeat",
    "hello",
    "market_data",
    "orders",
    "parse_command",
    "pnl",
    "session_cookie",
    "status",
    "tic_answer",
    "trades",
]

USER_NAME = "simuser1"
"""The simulated user, as the gateway names it (``/sso/validate``'s ``USER_NAME``)."""


@dataclass(frozen=True)
class Command:
    """One message from the client: ``topic`` (``smd``, ``tic``, ...), the conid of
    ``smd``/``umd`` and the JSON arguments (``{}`` when absent or unreadable)."""

    topic: str
    conid: int | None = None
    args: dict[str, Any] = field(default_factory=dict)


def parse_command(text: str) -> Command:
    """Read a client message leniently: unknown or malformed ones get their own topic
    and are ignored by the gateway, as the real one does."""
    text = text.strip()
    head, _, rest = text.partition("+")
    topic = head.lower()
    if topic in ("smd", "umd"):
        conid_text, _, rest = rest.partition("+")
        conid = int(conid_text) if conid_text.strip().isdigit() else None
        return Command(topic, conid, _arguments(rest))
    if topic == "ech":
        return Command("ech", args={"echo": rest})
    return Command(topic, args=_arguments(rest))


def _arguments(text: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def session_cookie(headers: Sequence[str]) -> str | None:
    """The session id of the cookie ``api={"session":"..."}`` (raw or percent-encoded)."""
    for header in headers:
        for part in header.split(";"):
            name, _, value = part.strip().partition("=")
            if name.strip() != "api":
                continue
            try:
                payload = json.loads(urllib.parse.unquote(value.strip()))
            except ValueError:
                continue
            if isinstance(payload, dict) and isinstance(payload.get("session"), str):
                return str(payload["session"])
    return None


def encode(message: Mapping[str, Any]) -> str:
    """Compact JSON, as the gateway sends it."""
    return json.dumps(message, separators=(",", ":"))


def hello(user: str = USER_NAME) -> dict[str, Any]:
    return {"topic": "system", "success": user, "isFT": False, "isPaper": False}


def heartbeat(now_ms: int) -> dict[str, Any]:
    return {"topic": "system", "hb": now_ms}


def status(
    *, authenticated: bool, competing: bool, connected: bool, server_info: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "topic": "sts",
        "args": {
            "authenticated": authenticated,
            "competing": competing,
            "connected": connected,
            "message": "",
            "fail": "",
            "serverName": server_info.get("serverName", ""),
            "serverVersion": server_info.get("serverVersion", ""),
            "username": USER_NAME,
        },
    }


def act(accounts: Mapping[str, Any]) -> dict[str, Any]:
    """The accounts message: the ``/iserver/accounts`` body as its ``args``."""
    return {"topic": "act", "args": dict(accounts)}


def tic_answer(*, alive: bool, session_id: str, last_accessed_ms: int) -> dict[str, Any]:
    return {"topic": "tic", "alive": alive, "id": session_id, "lastAccessed": last_accessed_ms}


def echo() -> dict[str, Any]:
    return {"topic": "ech+hb", "alive": True}


def market_data(conid: int, row: Mapping[str, Any]) -> dict[str, Any]:
    """An ``smd`` update: the snapshot row's keys (conid, server_id, _updated and the
    changed field tags) under the topic ``smd+<conid>``."""
    return {"topic": f"smd+{conid}", **row}


def orders(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"topic": "sor", "args": [dict(r) for r in rows]}


def pnl(rows: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {"topic": "spl", "args": {key: dict(row) for key, row in rows.items()}}


def trades(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"topic": "str", "args": [dict(r) for r in rows]}
