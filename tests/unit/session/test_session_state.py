"""The state machine: the table is the law, each change is logged and announced once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from ibkr_session import SessionState
from ibkr_session.state import TRANSITIONS, IllegalTransitionError, StateMachine
from tests.logcapture import capture_logs

S = SessionState


def transitions_logged(logs: Sequence[Mapping[str, Any]]) -> list[tuple[Any, Any, Any]]:
    return [
        (entry["old"], entry["new"], entry["reason"])
        for entry in logs
        if entry["event"] == "session.transition"
    ]


def test_every_state_has_rules_and_nothing_returns_to_unknown() -> None:
    assert set(TRANSITIONS) == set(SessionState)
    assert all(S.UNKNOWN not in targets for targets in TRANSITIONS.values())
    assert all(state not in TRANSITIONS[state] for state in SessionState)


def test_a_change_is_logged_once_and_told_to_every_listener() -> None:
    machine = StateMachine()
    heard: list[tuple[SessionState, SessionState, str]] = []
    machine.on_transition(lambda old, new, reason: heard.append((old, new, reason)))
    with capture_logs() as logs:
        assert machine.transition(S.AUTHENTICATED, "probe") is True
        assert machine.transition(S.AUTHENTICATED, "probe again") is False
        assert heard == []  # listeners hear of it when the owner lets go of its locks
        machine.deliver()
    assert machine.state is S.AUTHENTICATED
    assert heard == [(S.UNKNOWN, S.AUTHENTICATED, "probe")]
    assert transitions_logged(logs) == [("UNKNOWN", "AUTHENTICATED", "probe")]


@pytest.mark.parametrize(
    ("start", "target"),
    [(S.UNKNOWN, S.STALE), (S.UNAUTHENTICATED, S.STALE), (S.AUTHENTICATED, S.UNKNOWN)],
)
def test_an_illegal_transition_raises_and_leaves_the_state(
    start: SessionState, target: SessionState
) -> None:
    machine = StateMachine(start)
    heard: list[object] = []
    machine.on_transition(lambda *args: heard.append(args))
    with capture_logs() as logs, pytest.raises(IllegalTransitionError, match=target.name):
        machine.transition(target, "bug")
    assert machine.state is start
    assert heard == []
    assert transitions_logged(logs) == []


def test_a_raising_listener_is_logged_and_does_not_stop_the_others() -> None:
    machine = StateMachine()
    heard: list[SessionState] = []

    def broken(old: SessionState, new: SessionState, reason: str) -> None:
        raise RuntimeError("listener bug")

    machine.on_transition(broken)
    machine.on_transition(lambda old, new, reason: heard.append(new))
    with capture_logs() as logs:
        machine.transition(S.DISCONNECTED, "refused")
        machine.deliver()
    assert machine.state is S.DISCONNECTED
    assert heard == [S.DISCONNECTED]
    assert [entry["event"] for entry in logs if entry["log_level"] == "error"] == [
        "session.listener_failed"
    ]
