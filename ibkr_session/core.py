"""The session's decisions, without I/O: what to do before a request, what an answer means.

``SessionManager`` holds the lock, the keep-alive thread and the network; every rule that
picks a transition or an action lives here as a pure function of the state, the clock's
reading and what the manager remembers, so each rule is tested directly (state by event →
action tables), no HTTP involved. Like h11's ``_state.py`` and websockets' ``protocol.py``.

Before a guarded request the manager asks ``next_step`` until it says ``PROCEED``:

====================  ==================================================================
step                  when
====================  ==================================================================
REFUSE_WINDOW         inside the nightly reset window (nothing is sent)
PROCEED               an order question awaits its reply (the reply must be next), or
                      the session is authenticated and primed
PROBE                 UNKNOWN, STALE, DISCONNECTED or COMPETING, not probed yet
TAKE_OVER             COMPETING with ``on_competing="take_over"`` (compete=true)
REFUSE_COMPETING      COMPETING otherwise
PRIME                 AUTHENTICATED, not primed in this brokerage generation
RECOVER               UNAUTHENTICATED, not recovered yet (ssodh/init, compete=false)
REFUSE_LOGGED_OUT     anything else (still UNAUTHENTICATED after a recovery: only a
                      human can help)
====================  ==================================================================

After an answer or a failure, ``read_status`` / ``read_failure`` say the next state and
what to forget. A brokerage generation moves only when the gateway's session really is a
new one: an authenticated answer after UNAUTHENTICATED, UNKNOWN, a reset window, or a
competing session — never after a mere DISCONNECTED spell (the gateway's session lived on).
Only the last confirmed contact counts: the manager passes the state it knew before.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from ibkr_session.errors import (
    GatewayUnavailableError,
    GatewayUnreachableError,
    IbkrError,
    NotAuthenticatedError,
)
from ibkr_session.state import SessionState

__all__ = [
    "AuthStatus",
    "Failure",
    "Status",
    "Step",
    "backoff_delay",
    "clock_transition",
    "next_step",
    "read_failure",
    "read_status",
]

_S = SessionState
_PROBE_FIRST = frozenset({_S.UNKNOWN, _S.STALE, _S.DISCONNECTED, _S.COMPETING})
_SAME_SESSION = frozenset({_S.AUTHENTICATED, _S.STALE})
"""Known states from which an authenticated answer may still be the same brokerage session."""


class Step(enum.Enum):
    """What the guard does next; see the module docstring's table."""

    PROCEED = "proceed"
    REFUSE_WINDOW = "refuse_window"
    PROBE = "probe"
    RECOVER = "recover"
    TAKE_OVER = "take_over"
    REFUSE_COMPETING = "refuse_competing"
    REFUSE_LOGGED_OUT = "refuse_logged_out"
    PRIME = "prime"


def next_step(
    state: SessionState,
    *,
    in_window: bool,
    question_pending: bool,
    primed: bool,
    take_over: bool,
    done: frozenset[Step] = frozenset(),
) -> Step:
    """The guard's next step; ``done`` lists the steps this request already took, so each
    runs at most once per request."""
    if in_window:
        return Step.REFUSE_WINDOW
    if question_pending:
        return Step.PROCEED
    if state in _PROBE_FIRST and Step.PROBE not in done:
        return Step.PROBE
    if state is _S.COMPETING:
        if take_over and Step.TAKE_OVER not in done:
            return Step.TAKE_OVER
        return Step.REFUSE_COMPETING
    if state is _S.AUTHENTICATED:
        return Step.PROCEED if primed else Step.PRIME
    if state is _S.UNAUTHENTICATED and Step.RECOVER not in done:
        return Step.RECOVER
    return Step.REFUSE_LOGGED_OUT


@dataclass(frozen=True)
class AuthStatus:
    """The gateway's verdict on the brokerage session, from either answer shape."""

    authenticated: bool
    competing: bool
    connected: bool
    message: str

    @classmethod
    def from_answer(cls, body: object) -> AuthStatus | None:
        """Read tickle's nested ``iserver.authStatus`` or auth/status's flat object.

        The one reader (``ibkr_api.models.AuthStatus`` reads through it): a missing
        ``connected`` means connected (the gateway omits it on some builds).
        """
        if not isinstance(body, dict):
            return None
        nested = body.get("iserver")
        if isinstance(nested, dict) and isinstance(nested.get("authStatus"), dict):
            body = nested["authStatus"]
        if not isinstance(body, dict) or "authenticated" not in body:
            return None
        return cls(
            authenticated=body.get("authenticated") is True,
            competing=body.get("competing") is True,
            connected=body.get("connected") is not False,
            message=str(body.get("message") or ""),
        )


@dataclass(frozen=True)
class Status:
    """What a status answer means: the next state, why, and whether a new brokerage
    session began (snapshots, suppressions and priming died with the old one)."""

    state: SessionState
    reason: str
    new_session: bool = False
    confirms_contact: bool = False


def read_status(
    known: SessionState, status: AuthStatus, source: str, *, window_passed: bool
) -> Status:
    """The verdict of a tickle / auth-status / ssodh-init answer.

    ``known``: the last state that said something about the brokerage session (for
    DISCONNECTED, the state before the gateway went away: a gateway that was only out of
    reach kept its session). None of it counts without a confirmed contact, and
    ``window_passed`` (a reset window since the last confirmed contact) makes even an
    authenticated answer a new brokerage session.
    """
    if status.competing:
        return Status(_S.COMPETING, f"{source}: competing=true")
    if status.authenticated:
        same = known in _SAME_SESSION and not window_passed
        return Status(
            _S.AUTHENTICATED,
            f"{source}: authenticated=true",
            new_session=not same,
            confirms_contact=True,
        )
    detail = "connected" if status.connected else "not connected"
    note = f" ({status.message})" if status.message else ""
    return Status(_S.UNAUTHENTICATED, f"{source}: {detail}, authenticated=false{note}")


@dataclass(frozen=True)
class Failure:
    """What a failed exchange means for the session."""

    state: SessionState | None
    """The next state, or None to keep it."""
    reason: str = ""
    back_off: bool = False
    """Count a failure and wait before the keep-alive probes again."""
    reset_window: bool = False
    """The failure is the nightly reset's symptom: report it as ``ResetWindowError``."""
    old_news: bool = False
    """A refusal of a request sent into an older brokerage session: already mended."""


def read_failure(
    exc: IbkrError, *, in_window: bool, sent_generation: int | None, generation: int
) -> Failure:
    """The verdict of a failed exchange.

    - Inside the reset window the window owns the state; "no session" or a 5xx then is
      the reset, not a logout.
    - A 401 to a request sent into an older brokerage session is old news: another thread
      already renewed the session.
    - Unreachable → DISCONNECTED with back-off; a 401 → UNAUTHENTICATED.
    """
    if in_window:
        symptom = isinstance(exc, NotAuthenticatedError | GatewayUnavailableError)
        return Failure(None, reset_window=symptom)
    if isinstance(exc, GatewayUnreachableError):
        return Failure(_S.DISCONNECTED, f"gateway unreachable: {exc}", back_off=True)
    if isinstance(exc, NotAuthenticatedError):
        if sent_generation is not None and sent_generation != generation:
            return Failure(None, "refusal predates the renewal", old_news=True)
        return Failure(_S.UNAUTHENTICATED, exc.msg)
    return Failure(None)


def clock_transition(
    state: SessionState,
    *,
    in_window: bool,
    quiet_for: float | None,
    stale_after: float,
    window_passed: bool,
) -> tuple[SessionState, str] | None:
    """The transition the clock alone causes, if any.

    ``quiet_for``: seconds since the last confirmed contact (None: never confirmed).
    """
    if in_window:
        return (_S.RESET_WINDOW, "nightly reset window") if state is not _S.RESET_WINDOW else None
    if state is _S.RESET_WINDOW:
        return _S.STALE, "reset window over"
    if state is _S.AUTHENTICATED and quiet_for is not None:
        if quiet_for >= stale_after:
            return _S.STALE, f"no confirmed contact for {quiet_for:.0f} s"
        if window_passed:
            return _S.STALE, "a reset window passed since last contact"
    return None


def backoff_delay(failures: int, *, initial: float, cap: float, rng: random.Random) -> float:
    """Seconds before the next attempt after ``failures`` consecutive failures.

    The one jittered backoff (probes, stream reconnects): "equal jitter", half of the
    exponential step fixed and half random, so delays still grow while a fleet spreads out.
    """
    step = min(cap, initial * 2.0 ** min(max(failures, 0), 32))
    return step / 2 + rng.uniform(0.0, step / 2)
