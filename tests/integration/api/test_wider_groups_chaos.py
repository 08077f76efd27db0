"""Multi-leg orders when the network misbehaves, against the simulator: answers lost after
the gateway accepted the group, gateway failures before it did. No leg is executed twice,
none is lost, and every leg keeps its own cOID."""

from __future__ import annotations

from typing import Any

import pytest

from ibkr_api import IbkrClient, OrderOutcomeUnknownError
from ibkr_session import ManualClock
from ibkr_sim import SimulatedGateway

ACCOUNT = "U1234567"
AAPL = 265598
PLACE = f"/iserver/account/{ACCOUNT}/orders"


def confirm_all(ibkr: IbkrClient, r: Any) -> Any:
    for _ in range(10):
        if not (isinstance(r, list) and r and "message" in r[0]):
            return r
        r = ibkr.reply_to_order(r[0]["id"], confirmed=True)
    raise AssertionError("endless question chain")


def bracket(ibkr: IbkrClient, coid: str) -> Any:
    last = float(str(ibkr.get_market_snapshot(AAPL, [31])[0]["31"]).lstrip("CH"))
    return ibkr.place_bracket_order(
        ACCOUNT,
        AAPL,
        "BUY",
        10,
        price=round(last * 0.99, 2),  # rests, and close enough to ask no question
        take_profit=round(last * 1.02, 2),
        stop_loss=round(last * 0.98, 2),
        tif="DAY",
        coid=coid,
    )


def legs_of(ibkr: IbkrClient, coid: str) -> dict[str, int]:
    """How many live orders hold each of the bracket's cOIDs."""
    counts = {coid: 0, f"{coid}-tp": 0, f"{coid}-sl": 0}
    for order in ibkr.get_orders()["orders"]:
        if order.get("order_ref") in counts:
            counts[order["order_ref"]] += 1
    return counts


def assert_no_leg_twice(sim: SimulatedGateway) -> None:
    assert [c for c, fills in sim.executions_by_coid().items() if fills > 1] == []


def test_an_answer_lost_after_the_group_was_accepted_is_found_leg_by_leg(
    ibkr: IbkrClient, sim: SimulatedGateway, clock: ManualClock
) -> None:
    sim.drop_after_accept(1, path=PLACE)

    answer = confirm_all(ibkr, bracket(ibkr, "chaos-1"))

    assert [row.get("coid") for row in answer] == ["chaos-1", "chaos-1-tp", "chaos-1-sl"]
    assert all(row.get("reconciled") for row in answer)
    assert legs_of(ibkr, "chaos-1") == {"chaos-1": 1, "chaos-1-tp": 1, "chaos-1-sl": 1}
    placed = [r for r in sim.requests if r.method == "POST" and r.path == PLACE]
    assert len(placed) == 1  # found again, never resent
    assert_no_leg_twice(sim)


def test_a_gateway_failure_before_acting_resends_the_same_legs_once(
    ibkr: IbkrClient, sim: SimulatedGateway, clock: ManualClock
) -> None:
    sim.fail_next(1, 503, method="POST", path=PLACE)

    confirm_all(ibkr, bracket(ibkr, "chaos-2"))

    assert legs_of(ibkr, "chaos-2") == {"chaos-2": 1, "chaos-2-tp": 1, "chaos-2-sl": 1}
    placed = [r for r in sim.requests if r.method == "POST" and r.path == PLACE]
    assert len(placed) == 2  # the failed one, then the same group under the same cOIDs


def test_when_the_lookup_fails_too_the_error_names_every_leg_and_nothing_is_resent(
    ibkr: IbkrClient, sim: SimulatedGateway, clock: ManualClock
) -> None:
    ibkr.get_orders()  # the session's first, empty live-orders answer is behind us
    sim.drop_after_accept(1, path=PLACE)
    sim.fail_next(5, 503, method="GET", path="/iserver/account/orders")  # every retry

    with pytest.raises(OrderOutcomeUnknownError) as raised:
        bracket(ibkr, "chaos-3")

    assert getattr(raised.value, "coids", None) == ["chaos-3", "chaos-3-tp", "chaos-3-sl"]
    clock.advance(10)
    assert legs_of(ibkr, "chaos-3") == {"chaos-3": 1, "chaos-3-tp": 1, "chaos-3-sl": 1}
    placed = [r for r in sim.requests if r.method == "POST" and r.path == PLACE]
    assert len(placed) == 1
