"""What a host can watch without polling: the records the session's hooks deliver.

``SessionManager.on_request`` hears of every request (``RequestRecord``),
``SessionManager.on_question`` of every order-question hold (``QuestionHold``); a host's
metrics, logs or alerts are built on them (``ibkr_host.health`` exports both to
Prometheus). ``Listeners`` is the one way those hooks keep and call their callbacks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ibkr_session.logs import get_logger

__all__ = ["Listeners", "QuestionHold", "RequestRecord"]

log = get_logger(__name__)

Record = TypeVar("Record")


@dataclass(frozen=True)
class RequestRecord:
    """One request as a host's metrics see it (``SessionManager.on_request``)."""

    endpoint: str
    """The endpoint table's row name (``"snapshot"``, ``"place_order"``, ...)."""
    family: str
    """Its kind: ``read``, ``change``, ``order``, ``reply``, ``cancel``, ``session``."""
    outcome: str
    """``"ok"``, ``"rate_limited"`` (a 429), ``"paced_out"`` (our pacer refused a wait),
    or the error's class name (``"GatewayUnreachableError"``, ...)."""
    waited: float
    """Seconds spent waiting for pacing before it left (or before it was refused)."""
    seconds: float
    """Seconds from leaving to its answer or failure."""
    retry_after: float = 0.0
    """For a 429: how long IBKR's penalty box keeps the gateway quiet, in seconds."""


@dataclass(frozen=True)
class QuestionHold:
    """An order question held the session quiet (``SessionManager.on_question``).

    While a question awaits its reply nothing else may reach the gateway (a request in
    between cancels the order), so a hold is time the keep-alive and other callers wait.
    """

    reply_id: str
    phase: str
    """``"held"`` when the question arrives; when it ends, ``"answered"`` (its reply was
    answered), ``"abandoned"`` (the order or its reply failed: no reply will come) or
    ``"expired"`` (nobody replied within ``question_hold`` seconds)."""
    seconds: float = 0.0
    """How long the hold lasted (0 for ``"held"``)."""


class Listeners(Generic[Record]):
    """Callbacks of one hook: added with a way to remove them, called in order, each one's
    failure logged and kept from the others and from the caller."""

    def __init__(self, hook: str) -> None:
        self._hook = hook
        self._lock = threading.Lock()
        self._callbacks: tuple[Callable[[Record], object], ...] = ()

    def __bool__(self) -> bool:
        return bool(self._callbacks)

    def add(self, callback: Callable[[Record], object]) -> Callable[[], None]:
        """Keep ``callback``; returns the function that removes it again."""
        with self._lock:
            self._callbacks = (*self._callbacks, callback)

        def remove() -> None:
            with self._lock:
                kept = list(self._callbacks)
                if callback in kept:
                    kept.remove(callback)
                self._callbacks = tuple(kept)

        return remove

    def tell(self, record: Record) -> None:
        for callback in self._callbacks:
            try:
                callback(record)
            except Exception:
                log.exception("session.listener_failed", hook=self._hook, listener=repr(callback))
