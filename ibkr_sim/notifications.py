"""FYI notifications: ``GET /fyi/notifications?max=``, ``GET /fyi/unreadnumber`` and
``PUT /fyi/notifications/{id}`` (mark read). The simulated user has a few of IBKR's
informational messages, dated before the gateway started; shapes follow IBKR's spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ibkr_sim.refusal import Refusal

__all__ = ["MAX_NOTIFICATIONS", "Notifications"]

MAX_NOTIFICATIONS = 10
_MESSAGES = (
    ("PF", "FYI: Changes in Analyst Ratings",
     "<html>Analysts have changed their ratings for one or more companies in which you "
     "hold positions.</html>"),
    ("SM", "FYI: Upcoming Dividend",
     "<html>A company in which you hold a position will pay a dividend.</html>"),
    ("OE", "FYI: Option Expiration",
     "<html>Options in your account expire this month.</html>"),
)  # fmt: skip


@dataclass
class _Notification:
    notification_id: str
    code: str
    subject: str
    body: str
    time: float
    read: bool = False


class Notifications:
    """The user's FYIs, newest first."""

    def __init__(self, started: float) -> None:
        self._items = [
            _Notification(f"2026{index:012d}", code, subject, body, started - 3600 * (index + 1))
            for index, (code, subject, body) in enumerate(_MESSAGES)
        ]

    def listing(self, most: int) -> list[dict[str, Any]]:
        if not 1 <= most <= MAX_NOTIFICATIONS:
            raise Refusal(f"Bad Request: max must be from 1 to {MAX_NOTIFICATIONS}")
        return [
            {"R": 1 if n.read else 0, "D": f"{n.time:.1f}", "MS": n.subject, "MD": n.body,
             "ID": n.notification_id, "HT": 0, "FC": n.code}
            for n in self._items[:most]
        ]  # fmt: skip

    def unread(self) -> dict[str, int]:
        return {"BN": sum(not n.read for n in self._items)}

    def mark_read(self, notification_id: str) -> dict[str, Any]:
        for item in self._items:
            if item.notification_id == notification_id:
                item.read = True
                return {"V": 1, "T": 10}
        raise Refusal(f"Bad Request: no notification {notification_id!r}")
