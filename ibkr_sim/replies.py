"""The answer forms of the Client Portal Gateway, in one place.

A real gateway answers in a handful of shapes that clients must tell apart: JSON bodies,
IBKR's ``{"error", "statusCode"}`` objects, a 401 or 503 with an *empty* body, an HTML
page for unknown routes. Every answer the simulator gives is built here, so each shape
exists once.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass

__all__ = [
    "Reply",
    "empty_reply",
    "error_reply",
    "json_reply",
    "not_found_reply",
    "scripted_reply",
]

_JSON = "application/json; charset=utf-8"
_TEXT = "text/plain"
_HTML = "text/html; charset=utf-8"


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: status, content type and the exact body bytes."""

    status: int
    body: bytes = b""
    content_type: str = _TEXT


def json_reply(payload: object, status: int = 200) -> Reply:
    """A JSON body as the gateway sends it (compact, UTF-8)."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Reply(status=status, body=body, content_type=_JSON)


def error_reply(status: int, message: str, *, with_status_code: bool = True) -> Reply:
    """IBKR's error object: ``{"error": ..., "statusCode": ...}``.

    Some answers (a rejected order, an invalid account) carry only ``error``; pass
    ``with_status_code=False`` for those.
    """
    payload: dict[str, object] = {"error": message}
    if with_status_code:
        payload["statusCode"] = status
    return json_reply(payload, status)


def empty_reply(status: int) -> Reply:
    """An empty ``text/plain`` body: the gateway's 401 (no session) and 503 (unavailable)."""
    return Reply(status=status)


def not_found_reply(path: str) -> Reply:
    """The HTML 404 page the gateway's web server shows for unknown routes."""
    page = (
        "<!DOCTYPE html><html><head><title>Error 404 Not Found</title></head>"
        f"<body><h2>HTTP ERROR 404 Not Found</h2><p>URI: {html.escape(path)}</p>"
        "</body></html>"
    )
    return Reply(status=404, body=page.encode(), content_type=_HTML)


def scripted_reply(status: int, body: object) -> Reply:
    """A test's scripted answer: ``None`` empty, ``bytes``/``str`` as text, else JSON."""
    if body is None:
        return empty_reply(status)
    if isinstance(body, bytes):
        return Reply(status=status, body=body)
    if isinstance(body, str):
        return Reply(status=status, body=body.encode())
    return json_reply(body, status)
