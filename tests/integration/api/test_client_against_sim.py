"""The reference's call forms, end to end against the simulated gateway."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ibkr_api import IbkrClient
from ibkr_session import ManualClock
from ibkr_sim import SimulatedGateway

ACCOUNT = "U1234567"  # the simulator's default account
AAPL = 265598


def confirm_all(ibkr: IbkrClient, r: Any, questions: list[str] | None = None) -> Any:
    """The reference's recipe, followed through a whole chain of questions."""
    asked = questions if questions is not None else []
    while isinstance(r, list) and r and "message" in r[0]:
        asked.extend(r[0]["messageIds"])
        assert len(asked) < 10
        r = ibkr.reply_to_order(r[0]["id"], confirmed=True)
    return r


def orders_with_coid(ibkr: IbkrClient, coid: str) -> list[dict[str, Any]]:
    return [o for o in ibkr.get_orders()["orders"] if o.get("order_ref") == coid]


def test_the_reference_setup_and_reads(ibkr: IbkrClient) -> None:
    ibkr.tickle()
    accs = ibkr.get_accounts()
    ibkr.select_account(accs[0]["accountId"])
    assert ibkr.auth_status()["authenticated"] is True

    res = ibkr.search_contract("AAPL", "STK")
    conid = int(res[0]["conid"])
    assert conid == AAPL
    assert ibkr.get_contract_details(conid)["symbol"] == "AAPL"

    hist = ibkr.get_historical_data(conid=conid, period="1d", bar="5min")
    closes = [b["c"] for b in hist["data"]]
    assert closes
    assert all(isinstance(c, int | float) for c in closes)

    ledger = ibkr.get_ledger(ACCOUNT)
    assert float(ledger.get("USD", {}).get("netliquidationvalue", 0)) > 0
    assert "netliquidation" in ibkr.get_summary(ACCOUNT)
    assert ibkr.get_positions(ACCOUNT) == []


def test_subaccounts(ibkr: IbkrClient) -> None:
    assert [a["accountId"] for a in ibkr.get_subaccounts()] == [ACCOUNT]


def test_the_first_snapshot_of_the_session_has_prices(ibkr: IbkrClient) -> None:
    quote = ibkr.get_market_snapshot(conids=[AAPL])

    assert float(quote[0].get("31", 0)) > 0
    assert {"84", "86"} <= set(quote[0])


def test_a_market_buy_fills_once_and_shows_in_positions(
    ibkr: IbkrClient, sim: SimulatedGateway, clock: ManualClock
) -> None:
    ibkr.get_market_snapshot(AAPL)  # market data first: no "no market data" question
    r = ibkr.place_order(ACCOUNT, AAPL, "BUY", 10, "MKT", coid="it-mkt-1")
    r = confirm_all(ibkr, r)
    assert r[0]["order_id"]

    clock.advance(10)
    (order,) = orders_with_coid(ibkr, "it-mkt-1")
    assert order["status"] == "Filled"
    assert ibkr.get_filled_orders(ACCOUNT)["orders"]
    positions = ibkr.get_positions(ACCOUNT)
    assert [(p["conid"], p["position"]) for p in positions] == [(AAPL, 10.0)]


def test_a_question_chain_is_answered_by_the_reference_recipe(
    ibkr: IbkrClient, sim: SimulatedGateway
) -> None:
    last = float(ibkr.get_market_snapshot(AAPL)[0]["31"])
    # Far from the last price (o163), large (o383) and valuable (o451): a chain.
    r = ibkr.place_order(ACCOUNT, AAPL, "BUY", 1000, "LMT", round(last * 0.5, 2), coid="chain")
    asked: list[str] = []

    final = confirm_all(ibkr, r, asked)

    assert sorted(asked) == ["o163", "o383", "o451"]
    assert final[0]["order_status"]
    assert len(orders_with_coid(ibkr, "chain")) == 1


def test_auto_confirm_answers_chosen_questions_by_id(
    connect: Callable[..., IbkrClient],
) -> None:
    ibkr = connect(auto_confirm=("o163", "o383", "o451", "o354"))
    last = float(ibkr.get_market_snapshot(AAPL)[0]["31"])

    r = ibkr.place_order(ACCOUNT, AAPL, "BUY", 1000, "LMT", round(last * 0.5, 2), coid="auto")

    assert "order_id" in r[0]
    assert len(orders_with_coid(ibkr, "auto")) == 1


def test_an_order_whose_answer_is_lost_is_counted_once(
    ibkr: IbkrClient, sim: SimulatedGateway
) -> None:
    ibkr.get_market_snapshot(AAPL)
    order_posts = f"/iserver/account/{ACCOUNT}/orders"
    sim.drop_after_accept(1, path=order_posts)

    r = ibkr.place_order(ACCOUNT, AAPL, "BUY", 5, "MKT", coid="dropped-1")

    assert r[0]["reconciled"] is True
    assert len(orders_with_coid(ibkr, "dropped-1")) == 1
    sent = [q for q in sim.requests if q.method == "POST" and q.path == order_posts]
    assert len(sent) == 1


def test_suppressed_questions_stay_suppressed_after_the_brokerage_session_expires(
    ibkr: IbkrClient, sim: SimulatedGateway
) -> None:
    ibkr.suppress_messages(["o163"])
    ibkr.get_market_snapshot(AAPL)
    sim.expire_brokerage()
    assert ibkr.auth_status()["authenticated"] is False  # the session learns it, too

    # A new brokerage session: the snapshot's pre-flight repeats and is handled again,
    # and the o163 suppression was re-applied by the recovery.
    last = float(ibkr.get_market_snapshot(AAPL)[0]["31"])
    r = ibkr.place_order(ACCOUNT, AAPL, "BUY", 1, "LMT", round(last * 0.9, 2))

    assert "order_id" in r[0]


def test_cancel_is_acknowledged(ibkr: IbkrClient, sim: SimulatedGateway) -> None:
    last = float(ibkr.get_market_snapshot(AAPL)[0]["31"])
    r = confirm_all(ibkr, ibkr.place_order(ACCOUNT, AAPL, "BUY", 1, "LMT", round(last * 0.98, 2)))

    ack = ibkr.cancel_order(ACCOUNT, r[0]["order_id"])

    assert ack["msg"] == "Request was submitted"


def test_a_confirmed_order_whose_reply_answer_is_lost_is_counted_once(
    ibkr: IbkrClient, sim: SimulatedGateway
) -> None:
    last = float(ibkr.get_market_snapshot(AAPL)[0]["31"])
    r = ibkr.place_order(ACCOUNT, AAPL, "BUY", 1, "LMT", round(last * 0.5, 2), coid="lost-reply")
    assert r[0]["messageIds"] == ["o163"]
    sim.drop_after_accept(1, path="/iserver/reply/*")

    answer = ibkr.reply_to_order(r[0]["id"], confirmed=True)

    assert answer[0]["reconciled"] is True
    assert len(orders_with_coid(ibkr, "lost-reply")) == 1


def test_a_modify_whose_answer_is_lost_is_found_applied_and_not_resent(
    ibkr: IbkrClient, sim: SimulatedGateway
) -> None:
    ibkr.suppress_messages(["o163"])
    last = float(ibkr.get_market_snapshot(AAPL)[0]["31"])
    placed = ibkr.place_order(ACCOUNT, AAPL, "BUY", 3, "LMT", round(last * 0.8, 2), coid="rest")
    order_id = placed[0]["order_id"]
    modify_path = f"/iserver/account/{ACCOUNT}/order/{order_id}"
    sim.drop_after_accept(1, path=modify_path)

    new_price = round(last * 0.85, 2)
    answer = ibkr.modify_order(ACCOUNT, order_id, AAPL, "BUY", 3, "LMT", new_price)

    assert answer[0]["reconciled"] is True
    (order,) = orders_with_coid(ibkr, "rest")
    assert float(order["price"]) == new_price
    modifies = [q for q in sim.requests if q.method == "POST" and q.path == modify_path]
    assert len(modifies) == 1
