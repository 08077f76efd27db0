"""Chaos orders: many orders through seeded random faults; none trades twice, none is lost.

Each order meets at most one disturbance, drawn from a seeded ``random.Random``: the
gateway accepts it and the answer is lost, the answer comes too late (a real read
timeout), a 503 or a 429 instead of an answer, the brokerage session idles out (forced,
or by 7 virtual minutes of silence), the nightly reset (by time travel into the window),
a competing login. What the simulator's book says afterwards is the verdict:

- every cOID is in the book at most once and traded at most once (0 duplicates);
- every order the simulator booked during a call is known to its caller: its order id
  came back, or the typed error raised carries its cOID;
- every failure the caller sees is an ``IbkrError``.
"""

from __future__ import annotations

import datetime as _dt
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest

from ibkr_api.client import IbkrClient
from ibkr_session.clock import ManualClock
from ibkr_session.errors import IbkrError
from ibkr_session.transport import order_question
from ibkr_sim.gateway import SimulatedGateway

ACCOUNT = "U1234567"
CONIDS = (265598, 272093, 8314, 756733)
PLACE = "/iserver/account/*/orders"
NEW_YORK = ZoneInfo("America/New_York")
SUPPRESSED = ["o163", "o354", "o383", "o451", "o10151"]
"""Questions answered for every order (re-suppressed by the session after each re-auth)."""

CLIENT_TIMEOUT = 1.0
LATE_ANSWER = 1.3
"""Real seconds: a stalled answer outlasts the client's read timeout. Few of these."""
STALL_MARGIN = 0.3
"""Real seconds allowed for the stalled request to be processed once its stall ends."""


@dataclass
class Outcome:
    """What one ``place_order`` call gave its caller, and what the book gained meanwhile."""

    fault: str
    answer: Any = None
    error: BaseException | None = None
    booked: list[dict[str, Any]] = field(default_factory=list)

    def knows(self, row: dict[str, Any]) -> bool:
        """Whether the caller can tell that ``row`` (a booked order) is its order."""
        if self.error is not None:
            return getattr(self.error, "coid", None) == row.get("order_ref")
        returned = self.answer if isinstance(self.answer, list) else []
        return any(str(item.get("order_id")) == str(row["orderId"]) for item in returned)


class Chaos:
    """One client and one simulated gateway on a shared clock, and the faults to throw."""

    def __init__(
        self, sim: SimulatedGateway, client: IbkrClient, clock: ManualClock, seed: int
    ) -> None:
        self.sim, self.client, self.clock = sim, client, clock
        self.rng = random.Random(seed)
        self.late_answers_left = 0
        self.stall_ends: float | None = None
        self.competing = False
        self.outcomes: list[Outcome] = []

    # -- the faults (each prepares the gateway for the next order) ----------------------

    def lost_answer(self) -> None:
        self.sim.drop_after_accept(1, path=PLACE)

    def lost_answer_and_lookup_fails_once(self) -> None:
        self.sim.drop_after_accept(1, path=PLACE)
        self.sim.fail_next(1, 503, method="GET", path="/iserver/account/orders")

    def late_answer(self) -> None:
        self.sim.delay_next(1, LATE_ANSWER, path=PLACE)
        self.stall_ends = time.monotonic() + LATE_ANSWER

    def unavailable(self) -> None:
        self.sim.fail_next(1, 503, method="POST", path=PLACE)

    def rate_limited(self) -> None:
        self.sim.fail_next(1, 429, method="POST", path=PLACE)

    def expired(self) -> None:
        self.sim.expire_brokerage()

    def idle(self) -> None:
        self.clock.advance(7 * 60)

    def reset_window(self) -> None:
        """Travel into the next nightly reset (01:00 New York, lasting 5 minutes)."""
        local = self.clock.now().astimezone(NEW_YORK)
        night = (local + _dt.timedelta(days=1)).replace(hour=1, minute=2, second=0)
        self.clock.set(night)

    def competing_login(self) -> None:
        self.sim.start_competing()
        self.competing = True

    FAULTS: ClassVar[dict[str, tuple[float, Callable[[Chaos], None]]]] = {
        "lost answer": (8, lost_answer),
        "lost answer, lookup 503": (3, lost_answer_and_lookup_fails_once),
        "late answer": (2, late_answer),
        "503": (6, unavailable),
        "429": (3, rate_limited),
        "expired": (3, expired),
        "idle": (3, idle),
        "reset window": (2, reset_window),
        "competing": (2, competing_login),
    }
    CALM: ClassVar[float] = 68.0

    def draw_fault(self) -> str:
        names = ["none", *self.FAULTS]
        weights = [self.CALM, *(weight for weight, _ in self.FAULTS.values())]
        name = self.rng.choices(names, weights)[0]
        if name == "late answer":
            if self.late_answers_left <= 0:
                return "none"
            self.late_answers_left -= 1
        return name

    # -- one order -------------------------------------------------------------------------

    def place_one(self) -> Outcome:
        fault = self.draw_fault()
        if fault != "none":
            self.FAULTS[fault][1](self)
        before = self._book_ids()
        outcome = Outcome(fault)
        try:
            outcome.answer = self._place()
        except Exception as exc:  # judged below: it must be typed
            outcome.error = exc
        self._let_stalled_request_finish()
        outcome.booked = [row for row in self._book_rows() if row["orderId"] not in before]
        self.outcomes.append(outcome)
        self._recover_world(fault)
        return outcome

    def _place(self) -> Any:
        answer = self.client.place_order(
            ACCOUNT,
            self.rng.choice(CONIDS),
            self.rng.choice(("BUY", "SELL")),
            self.rng.randint(1, 5),
            "MKT",
        )
        question = order_question(answer)
        if question is not None:  # a question not suppressed: confirm it, as recipes do
            answer = self.client.reply_to_order(question[0], confirmed=True)
        return answer

    def _let_stalled_request_finish(self) -> None:
        """The suite's one real-time wait: a stalled request is still being served after
        the client gave up on it. Were virtual time to jump a day meanwhile, the gateway
        would see it arrive after the cOID's 24 h memory: no real gateway does that."""
        if self.stall_ends is not None:
            time.sleep(max(0.0, self.stall_ends - time.monotonic()) + STALL_MARGIN)
            self.stall_ends = None

    def _recover_world(self, fault: str) -> None:
        """After the order: the other platform lets go, the night ends, time moves on."""
        if self.competing and self.rng.random() < 0.5:
            self.sim.stop_competing()
            self.competing = False
        local = self.clock.now().astimezone(NEW_YORK)
        if fault == "reset window":
            self.clock.set(local.replace(hour=9, minute=45))
        self.clock.advance(self.rng.uniform(1.0, 20.0))

    def settle(self) -> None:
        """End any disturbance and let every resting order reach a market open."""
        if self.competing:
            self.sim.stop_competing()
            self.competing = False
        local = self.clock.now().astimezone(NEW_YORK)
        day = local + _dt.timedelta(days=1)
        while day.weekday() >= 5:
            day += _dt.timedelta(days=1)
        self.clock.set(day.replace(hour=11, minute=0))

    def _book_rows(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.sim.book.orders()["orders"]
        return rows

    def _book_ids(self) -> set[int]:
        return {row["orderId"] for row in self._book_rows()}


@pytest.fixture
def chaos(sim: SimulatedGateway, clock: ManualClock) -> Iterator[Chaos]:
    with IbkrClient(sim.url, clock=clock, timeout=CLIENT_TIMEOUT, rng=random.Random(1)) as client:
        client.suppress_messages(SUPPRESSED)
        yield Chaos(sim, client, clock, seed=20261124)


def _run(chaos: Chaos, orders: int, late_answers: int) -> None:
    chaos.late_answers_left = late_answers
    for _ in range(orders):
        chaos.place_one()
    chaos.settle()
    _assert_no_order_traded_twice_or_lost(chaos, orders)


def _assert_no_order_traded_twice_or_lost(chaos: Chaos, orders: int) -> None:
    outcomes = chaos.outcomes
    assert len(outcomes) == orders

    untyped = [
        o.error for o in outcomes if o.error is not None and not isinstance(o.error, IbkrError)
    ]
    assert untyped == []

    rows = chaos.sim.book.orders()["orders"]
    per_coid = Counter(row["order_ref"] for row in rows)
    assert [coid for coid, n in per_coid.items() if n > 1] == []
    fills = chaos.sim.executions_by_coid()
    assert [coid for coid, n in fills.items() if n > 1] == []

    for outcome in outcomes:
        assert len(outcome.booked) <= 1, outcome
        assert all(outcome.knows(row) for row in outcome.booked), outcome

    faults = Counter(o.fault for o in outcomes)
    assert {"lost answer", "503", "expired", "competing"} <= set(faults), faults
    booked = sum(len(o.booked) for o in outcomes)
    assert booked >= orders * 0.8, f"only {booked} of {orders} orders booked: {faults}"
    assert sum(fills.values()) >= booked * 0.9  # the market filled them: the trades are real
    dropped = [r for r in chaos.sim.requests if r.dropped]
    assert len(dropped) >= faults["lost answer"] + faults["lost answer, lookup 503"]
    errors = Counter(type(o.error).__name__ for o in outcomes if o.error is not None)
    print(f"faults {dict(faults)}; booked {booked}; fills {sum(fills.values())}")
    print(f"errors {dict(errors)}")


def test_200_orders_through_random_faults_trade_at_most_once_and_are_all_known(
    chaos: Chaos,
) -> None:
    _run(chaos, orders=200, late_answers=2)


@pytest.mark.slow
def test_1200_orders_through_random_faults_trade_at_most_once_and_are_all_known(
    chaos: Chaos,
) -> None:
    _run(chaos, orders=1200, late_answers=8)


def test_an_order_whose_answer_is_lost_is_reconciled_not_resent(chaos: Chaos) -> None:
    chaos.lost_answer()

    answer = chaos.client.place_order(ACCOUNT, 265598, "BUY", 1, "MKT", coid="chaos-lost-1")

    assert answer[0]["reconciled"] is True
    posts = [r for r in chaos.sim.requests if r.method == "POST" and r.path.endswith("/orders")]
    assert len(posts) == 1
    booked = chaos.sim.book.order_by_coid("chaos-lost-1")
    assert booked is not None
    assert str(booked.order_id) == answer[0]["order_id"]
