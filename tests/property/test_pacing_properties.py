"""Whatever a worker sends, in whatever rhythm, the pacer keeps every limit of the table."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ibkr_session.clock import ManualClock
from ibkr_session.endpoints import PACING_ROWS, endpoint_for
from ibkr_session.pacing import Pacer


def rows_of(method: str, path: str) -> set[str]:
    return {row.name for row in endpoint_for(method, path).pacing_rows}


REQUESTS = [
    ("GET", "/iserver/marketdata/snapshot"),
    ("GET", "/iserver/marketdata/history"),
    ("GET", "/iserver/account/orders"),
    ("GET", "/iserver/account/trades"),
    ("GET", "/iserver/account/pnl/partitioned"),
    ("GET", "/portfolio/accounts"),
    ("GET", "/portfolio/subaccounts"),
    ("POST", "/tickle"),
    ("GET", "/sso/validate"),
    ("GET", "/portfolio/U1234567/positions/0"),
    ("POST", "/iserver/account/U1234567/orders"),
    ("POST", "/iserver/auth/status"),
]

calls = st.lists(
    st.tuples(
        st.sampled_from(REQUESTS),
        st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=7.0)),
    ),
    max_size=80,
)


@settings(max_examples=150, deadline=None)
@given(calls=calls, safety=st.floats(min_value=0.5, max_value=1.0) | st.just(1.0))
def test_no_sliding_window_ever_holds_more_than_a_limit_allows(
    calls: list[tuple[tuple[str, str], float]], safety: float
) -> None:
    clock = ManualClock()
    pacer = Pacer(clock, safety=safety)
    sent: list[tuple[str, str, float]] = []
    for (method, path), pause in calls:
        clock.advance(pause)
        with pacer.slot(method, path):
            sent.append((method, path, clock.monotonic()))

    for row in PACING_ROWS.values():
        if row.rate is None:
            continue
        times = [t for method, path, t in sent if row.name in rows_of(method, path)]
        allowed = int(row.rate)
        # No window of length `per` may contain allowed + 1 sends (to the clock's µs).
        for earlier, later in zip(times, times[allowed:], strict=False):
            assert later - earlier >= row.per - 1e-6, (row.name, earlier, later)


@settings(max_examples=100, deadline=None)
@given(calls=calls)
def test_a_request_leaves_as_soon_as_every_limit_has_room(
    calls: list[tuple[tuple[str, str], float]],
) -> None:
    """No needless waiting: the pacer lets a worker use its whole allowance."""
    clock = ManualClock()
    pacer = Pacer(clock, safety=1.0)
    sent: list[tuple[str, str, float]] = []
    for (method, path), pause in calls:
        clock.advance(pause)
        expected = earliest_departure(sent, method, path, clock.monotonic())
        with pacer.slot(method, path):
            assert abs(clock.monotonic() - expected) < 5e-5
        sent.append((method, path, clock.monotonic()))


def earliest_departure(
    sent: list[tuple[str, str, float]], method: str, path: str, arrived: float
) -> float:
    """When the documented limits first allow ``method path``, given what was sent."""
    ready = arrived
    for name in rows_of(method, path):
        row = PACING_ROWS[name]
        if row.rate is None:
            continue
        previous = [t for m, p, t in sent if name in rows_of(m, p)]
        allowed = int(row.rate)
        if len(previous) >= allowed:
            ready = max(ready, previous[-allowed] + row.per)
    return ready
