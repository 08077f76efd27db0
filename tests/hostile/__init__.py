"""A hostile Client Portal Gateway for tests: raw TLS on loopback, scripted per request."""

from tests.hostile.server import (
    ACCOUNT,
    BAD_ANSWERS,
    BadAnswer,
    HostileGateway,
    Reply,
    Request,
    json_reply,
)

__all__ = [
    "ACCOUNT",
    "BAD_ANSWERS",
    "BadAnswer",
    "HostileGateway",
    "Reply",
    "Request",
    "json_reply",
]
