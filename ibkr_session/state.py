"""The session's states, the transitions between them, and the one place that changes them.

The table below is the whole state machine: what may follow what. ``StateMachine.transition``
is the only way to change the state; it refuses a move the table does not allow (and leaves
the state as it was), logs every change once as ``session.transition``, and tells the
listeners. Keeping the rules as data lets a reader check them at a glance and lets tests
walk them.
"""

from __future__ import annotations

import collections
import enum
import threading
from collections.abc import Callable, Mapping

from ibkr_session.logs import get_logger

__all__ = [
    "TRANSITIONS",
    "IllegalTransitionError",
    "SessionState",
    "StateMachine",
    "TransitionListener",
]

log = get_logger(__name__)


class SessionState(enum.Enum):
    """What the manager knows about the gateway's sessions right now."""

    UNKNOWN = "unknown"
    """Nothing confirmed yet: the first guarded call probes."""
    AUTHENTICATED = "authenticated"
    """SSO and brokerage sessions confirmed: ``/iserver`` calls go straight out."""
    COMPETING = "competing"
    """Another platform holds the brokerage session."""
    RESET_WINDOW = "reset_window"
    """Inside the nightly reset: ``/iserver`` calls are refused locally."""
    STALE = "stale"
    """No confirmed contact for ``stale_after`` seconds (or a reset since): probe first."""
    UNAUTHENTICATED = "unauthenticated"
    """The brokerage session is gone; ssodh/init may bring it back."""
    DISCONNECTED = "disconnected"
    """The gateway does not answer at all."""


_S = SessionState
_ANSWERS = frozenset({_S.AUTHENTICATED, _S.COMPETING, _S.UNAUTHENTICATED, _S.DISCONNECTED})
"""States a probe answer (or its failure) can reveal, from wherever we were."""

_RULES: dict[SessionState, frozenset[SessionState]] = {
    _S.UNKNOWN: _ANSWERS | {_S.RESET_WINDOW},
    _S.AUTHENTICATED: _ANSWERS | {_S.RESET_WINDOW, _S.STALE},
    _S.STALE: _ANSWERS | {_S.RESET_WINDOW},
    _S.COMPETING: _ANSWERS | {_S.RESET_WINDOW},
    _S.UNAUTHENTICATED: _ANSWERS | {_S.RESET_WINDOW},
    _S.DISCONNECTED: _ANSWERS | {_S.RESET_WINDOW},
    # After the window the old session's status is outdated: STALE makes the next call probe.
    _S.RESET_WINDOW: _ANSWERS | {_S.STALE},
}
TRANSITIONS: Mapping[SessionState, frozenset[SessionState]] = {
    state: targets - {state} for state, targets in _RULES.items()
}
"""Legal moves. Nothing returns to UNKNOWN; only a confirmed session can become STALE."""

TransitionListener = Callable[[SessionState, SessionState, str], object]
"""``callback(old, new, reason)``, called after each change."""


class IllegalTransitionError(RuntimeError):
    """A move the transition table forbids: a bug in the caller, never the gateway's fault."""


class StateMachine:
    """Holds the current state; changes it only through the table, logging and notifying."""

    def __init__(self, initial: SessionState = SessionState.UNKNOWN) -> None:
        self._state = initial
        self._listeners: list[TransitionListener] = []
        self._lock = threading.RLock()
        self._pending: collections.deque[tuple[SessionState, SessionState, str]] = (
            collections.deque()
        )
        self._delivering = threading.Lock()

    @property
    def state(self) -> SessionState:
        return self._state

    def on_transition(self, listener: TransitionListener) -> Callable[[], None]:
        """Call ``listener(old, new, reason)`` after every state change; returns a function
        that removes it again."""
        with self._lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return remove

    def transition(self, new: SessionState, reason: str) -> bool:
        """Move to ``new``; returns whether the state changed (staying put is a no-op).

        Raises ``IllegalTransitionError`` (state unchanged) if the table forbids the move.
        Listeners hear of it at the next ``deliver()``: the owner calls that once it holds
        no lock, so a listener may use the session freely.
        """
        with self._lock:
            old = self._state
            if new is old:
                return False
            if new not in TRANSITIONS[old]:
                raise IllegalTransitionError(
                    f"illegal session transition {old.name} -> {new.name} ({reason})"
                )
            self._state = new
            log.info("session.transition", old=old.name, new=new.name, reason=reason)
            self._pending.append((old, new, reason))
        return True

    def deliver(self) -> None:
        """Tell the listeners of every transition not yet delivered, in order.

        One thread delivers at a time; a transition made meanwhile (by a listener, or by
        another thread) is delivered by the same loop.
        """
        while self._pending:
            if not self._delivering.acquire(blocking=False):
                return  # the thread delivering now will get to it
            try:
                while True:
                    with self._lock:
                        if not self._pending:
                            break
                        old, new, reason = self._pending.popleft()
                        listeners = tuple(self._listeners)
                    for listener in listeners:
                        _notify(listener, old, new, reason)
            finally:
                self._delivering.release()


def _notify(
    listener: TransitionListener, old: SessionState, new: SessionState, reason: str
) -> None:
    try:
        listener(old, new, reason)
    except Exception:
        # A user's callback must not break the session: log it with its traceback and go on.
        log.exception(
            "session.listener_failed", listener=repr(listener), old=old.name, new=new.name
        )
