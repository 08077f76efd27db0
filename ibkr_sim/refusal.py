"""Requests the simulated market or broker refuses with an HTTP error status.

Most refusals of the real gateway are JSON bodies with HTTP 200 (a rejected order is
``{"error": ...}``), and ``Market``/``Broker`` return those as plain values. A few are
answered with an error *status* instead (an invalid account, a malformed history query,
a dead order-question reply id);
for those the objects raise a ``Refusal`` and the HTTP side turns it into
``{"error": message, "statusCode": status}`` with that status.
"""

from __future__ import annotations

__all__ = ["HistoryError", "Refusal", "UnknownAccountError", "UnknownReplyError"]


class Refusal(ValueError):  # noqa: N818 (a refusal is an answer, not a failure)
    """A request the gateway answers with ``status`` and ``{"error": message, ...}``."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    @property
    def body(self) -> dict[str, object]:
        """The JSON body the gateway sends for this refusal."""
        return {"error": self.message, "statusCode": self.status}


class HistoryError(Refusal):
    """A history query with an unknown conid or a period/bar outside IBKR's grammar."""


class UnknownAccountError(Refusal):
    """An account id this user does not own (IBKR-FACTS §6: 400, "accountId is not valid")."""

    def __init__(self, account_id: str) -> None:
        super().__init__(f"Bad Request: accountId is not valid: {account_id}", status=400)
        self.account_id = account_id


class UnknownReplyError(Refusal):
    """A reply id never issued, already used, or dropped with its question (IBKR-FACTS §4).

    Observed as HTTP 400 with only ``{"error": "reply id not found: '<id>'"}``.
    """

    def __init__(self, reply_id: str) -> None:
        super().__init__(f"reply id not found: '{reply_id}'", status=400)
        self.reply_id = reply_id

    @property
    def body(self) -> dict[str, object]:
        return {"error": self.message}
