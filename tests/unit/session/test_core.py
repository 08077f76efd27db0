"""The session core's decisions as tables: state by event gives action, no HTTP at all."""

from __future__ import annotations

import random

import pytest

from ibkr_session.core import (
    AuthStatus,
    Step,
    backoff_delay,
    clock_transition,
    next_step,
    read_failure,
    read_status,
)
from ibkr_session.errors import (
    GatewayUnavailableError,
    GatewayUnreachableError,
    IbkrAPIError,
    NotAuthenticatedError,
)
from ibkr_session.state import SessionState

S = SessionState
P = Step


@pytest.mark.parametrize(
    ("state", "primed", "take_over", "done", "expected"),
    [
        (S.AUTHENTICATED, True, False, set(), P.PROCEED),
        (S.AUTHENTICATED, False, False, set(), P.PRIME),
        (S.UNKNOWN, False, False, set(), P.PROBE),
        (S.STALE, True, False, set(), P.PROBE),
        (S.DISCONNECTED, True, False, set(), P.PROBE),
        (S.COMPETING, True, False, set(), P.PROBE),
        (S.COMPETING, True, False, {P.PROBE}, P.REFUSE_COMPETING),
        (S.COMPETING, True, True, {P.PROBE}, P.TAKE_OVER),
        (S.COMPETING, True, True, {P.PROBE, P.TAKE_OVER}, P.REFUSE_COMPETING),
        (S.UNAUTHENTICATED, False, False, set(), P.RECOVER),
        (S.UNAUTHENTICATED, False, False, {P.PROBE}, P.RECOVER),
        (S.UNAUTHENTICATED, False, False, {P.RECOVER}, P.REFUSE_LOGGED_OUT),
        (S.AUTHENTICATED, False, False, {P.RECOVER}, P.PRIME),
        (S.AUTHENTICATED, True, False, {P.RECOVER, P.PRIME}, P.PROCEED),
    ],
)
def test_the_guard_takes_each_step_once_in_order(
    state: S, primed: bool, take_over: bool, done: set[Step], expected: Step
) -> None:
    step = next_step(
        state,
        in_window=False,
        question_pending=False,
        primed=primed,
        take_over=take_over,
        done=frozenset(done),
    )
    assert step is expected


@pytest.mark.parametrize("state", list(S))
def test_inside_the_reset_window_every_state_refuses_without_sending(state: S) -> None:
    step = next_step(state, in_window=True, question_pending=True, primed=True, take_over=True)
    assert step is P.REFUSE_WINDOW


@pytest.mark.parametrize("state", [S.UNKNOWN, S.STALE, S.UNAUTHENTICATED, S.COMPETING])
def test_a_pending_order_question_lets_the_reply_go_first(state: S) -> None:
    step = next_step(state, in_window=False, question_pending=True, primed=False, take_over=False)
    assert step is P.PROCEED


def auth(**fields: object) -> AuthStatus:
    status = AuthStatus.from_answer({"authenticated": False, **fields})
    assert status is not None
    return status


@pytest.mark.parametrize(
    ("known", "window_passed", "new_session"),
    [
        (S.AUTHENTICATED, False, False),  # also after a DISCONNECTED spell: the manager
        (S.STALE, False, False),  # passes the state it knew before the gateway went away
        (S.AUTHENTICATED, True, True),  # a reset lies between: a new brokerage session
        (S.UNKNOWN, False, True),
        (S.UNAUTHENTICATED, False, True),
        (S.COMPETING, False, True),
    ],
)
def test_only_a_really_new_brokerage_session_moves_the_generation(
    known: S, window_passed: bool, new_session: bool
) -> None:
    verdict = read_status(known, auth(authenticated=True), "probe", window_passed=window_passed)
    assert verdict.state is S.AUTHENTICATED
    assert verdict.new_session is new_session
    assert verdict.confirms_contact


@pytest.mark.parametrize(
    ("answer", "state"),
    [
        ({"authenticated": True, "competing": True}, S.COMPETING),
        ({"authenticated": False, "connected": True}, S.UNAUTHENTICATED),
        ({"authenticated": False, "connected": False}, S.UNAUTHENTICATED),
    ],
)
def test_status_answers_name_the_next_state(answer: dict[str, object], state: S) -> None:
    status = AuthStatus.from_answer(answer)
    assert status is not None
    verdict = read_status(S.AUTHENTICATED, status, "tickle", window_passed=False)
    assert verdict.state is state
    assert not verdict.new_session


def test_one_reader_for_both_status_shapes_and_a_missing_connected_means_connected() -> None:
    flat = AuthStatus.from_answer({"authenticated": True})
    nested = AuthStatus.from_answer({"iserver": {"authStatus": {"authenticated": True}}})
    assert flat == nested
    assert flat is not None
    assert flat.connected
    assert AuthStatus.from_answer({"session": "x"}) is None
    assert AuthStatus.from_answer([1]) is None


def unauthorized() -> NotAuthenticatedError:
    return NotAuthenticatedError(401, "no session")


@pytest.mark.parametrize(
    ("error", "in_window", "sent", "current", "state", "reset", "old_news"),
    [
        (unauthorized(), False, 1, 1, S.UNAUTHENTICATED, False, False),
        (unauthorized(), False, 1, 2, None, False, True),  # an older generation's 401
        (unauthorized(), True, 1, 1, None, True, False),  # the reset's "no session"
        (GatewayUnavailableError(503, ""), True, 1, 1, None, True, False),
        (GatewayUnavailableError(503, ""), False, 1, 1, None, False, False),
        (
            GatewayUnreachableError("refused", maybe_sent=False),
            False,
            1,
            1,
            S.DISCONNECTED,
            False,
            False,
        ),
        (IbkrAPIError(400, "bad"), False, 1, 1, None, False, False),
    ],
)
def test_failures_name_the_next_state(
    error: Exception,
    in_window: bool,
    sent: int,
    current: int,
    state: S | None,
    reset: bool,
    old_news: bool,
) -> None:
    assert isinstance(error, IbkrAPIError | GatewayUnreachableError)
    verdict = read_failure(error, in_window=in_window, sent_generation=sent, generation=current)
    assert (verdict.state, verdict.reset_window, verdict.old_news) == (state, reset, old_news)


def test_an_unreachable_gateway_backs_off() -> None:
    verdict = read_failure(
        GatewayUnreachableError("x", maybe_sent=False),
        in_window=False,
        sent_generation=None,
        generation=0,
    )
    assert verdict.back_off


@pytest.mark.parametrize(
    ("state", "in_window", "quiet", "passed", "expected"),
    [
        (S.AUTHENTICATED, True, 1.0, False, S.RESET_WINDOW),
        (S.RESET_WINDOW, True, 1.0, False, None),
        (S.RESET_WINDOW, False, 1.0, False, S.STALE),
        (S.AUTHENTICATED, False, 299.0, False, None),
        (S.AUTHENTICATED, False, 300.0, False, S.STALE),
        (S.AUTHENTICATED, False, 10.0, True, S.STALE),
        (S.AUTHENTICATED, False, None, False, None),
        (S.UNAUTHENTICATED, False, 900.0, True, None),
    ],
)
def test_the_clock_alone_moves_to_the_window_and_to_stale(
    state: S, in_window: bool, quiet: float | None, passed: bool, expected: S | None
) -> None:
    move = clock_transition(
        state, in_window=in_window, quiet_for=quiet, stale_after=300.0, window_passed=passed
    )
    assert (move[0] if move else None) is expected


def test_backoff_grows_is_capped_and_jittered() -> None:
    rng = random.Random(7)
    delays = [backoff_delay(n, initial=1.0, cap=60.0, rng=rng) for n in range(12)]
    assert all(0.5 * min(60.0, 2.0**n) <= d <= min(60.0, 2.0**n) for n, d in enumerate(delays))
    assert max(delays) <= 60.0
