"""The wider methods (issue 13) end to end against the simulated gateway, one virtual clock."""

from __future__ import annotations

from typing import Any

import pytest

from ibkr_api import IbkrClient, RateLimitedError
from ibkr_api.views import AccountBalances, OptionChainRow, OrderStatus, pnl_rows
from ibkr_session import ManualClock
from ibkr_sim import SimulatedGateway

ACCOUNT = "U1234567"  # the simulator's default account
AAPL = 265598


def confirm_all(ibkr: IbkrClient, r: Any) -> Any:
    """Answer a chain of questions the way the reference's recipe does."""
    for _ in range(10):
        if not (isinstance(r, list) and r and "message" in r[0]):
            return r
        r = ibkr.reply_to_order(r[0]["id"], confirmed=True)
    raise AssertionError("endless question chain")


def last_price(ibkr: IbkrClient, conid: int) -> float:
    quote = ibkr.get_market_snapshot(conid, [31])
    return float(str(quote[0]["31"]).lstrip("CH").replace(",", ""))


def by_coid(ibkr: IbkrClient) -> dict[str, dict[str, Any]]:
    return {str(o.get("order_ref")): dict(o) for o in ibkr.get_orders()["orders"]}


def test_a_bracket_fills_its_entry_then_one_exit_and_the_other_is_cancelled(
    ibkr: IbkrClient, sim: SimulatedGateway, clock: ManualClock
) -> None:
    last = last_price(ibkr, AAPL)
    answer = ibkr.place_bracket_order(
        ACCOUNT,
        AAPL,
        "BUY",
        10,
        price=round(last + 1, 2),  # marketable: the entry fills at once
        take_profit=round(last + 5, 2),
        stop_loss=round(last - 5, 2),
        tif="DAY",
        coid="it-br-1",
    )
    answer = confirm_all(ibkr, answer)
    assert len(answer) == 3
    assert all(row.get("order_id") for row in answer)

    clock.advance(6)
    orders = by_coid(ibkr)
    assert orders["it-br-1"]["status"] == "Filled"
    assert orders["it-br-1-tp"]["status"] in {"Submitted", "PreSubmitted"}

    sim.set_price(AAPL, last + 6)
    clock.advance(6)
    orders = by_coid(ibkr)
    assert orders["it-br-1-tp"]["status"] == "Filled"
    assert orders["it-br-1-sl"]["status"] == "Cancelled"

    status = OrderStatus.from_json(ibkr.get_order_status(orders["it-br-1-tp"]["orderId"]))
    assert status.status == "Filled"
    assert status.filled_quantity == 10
    trades = ibkr.get_trades()
    assert {t["order_ref"] for t in trades} >= {"it-br-1", "it-br-1-tp"}
    assert [p["position"] for p in ibkr.get_position(ACCOUNT, AAPL) if p["position"]] == []


def test_a_preview_places_nothing(ibkr: IbkrClient, clock: ManualClock) -> None:
    ibkr.get_market_snapshot(AAPL)
    before = ibkr.get_orders()["orders"]

    preview = ibkr.preview_order(ACCOUNT, AAPL, "BUY", 10)

    assert {"amount", "equity", "initial", "maintenance"} <= set(preview)
    clock.advance(6)
    assert ibkr.get_orders()["orders"] == before
    assert ibkr.get_positions(ACCOUNT) == []


def test_an_option_chain_lists_strikes_and_conids(ibkr: IbkrClient) -> None:
    last = last_price(ibkr, AAPL)
    sections = ibkr.search_contract("AAPL", "STK")[0]["sections"]
    months = next(s["months"] for s in sections if s["secType"] == "OPT").split(";")

    strikes = ibkr.get_option_strikes(AAPL, months[0])
    chain = [
        OptionChainRow.from_json(row)
        for row in ibkr.get_option_chain(AAPL, months[0], strikes_near=last, max_strikes=3)
    ]

    assert strikes["call"]
    assert len({row.strike for row in chain}) == 3
    assert {row.right for row in chain} == {"C", "P"}
    assert all(row.conid > 0 for row in chain)
    closest = min(strikes["call"], key=lambda s: abs(s - last))
    assert closest in {row.strike for row in chain}


def test_scanner_runs_are_paced_at_one_per_second(
    ibkr: IbkrClient, sim: SimulatedGateway, clock: ManualClock
) -> None:
    params = ibkr.get_scanner_params()
    scan = params["scan_type_list"][0]["code"]
    instrument = params["instrument_list"][0]["type"]
    started = clock.monotonic()

    runs = [ibkr.run_scanner(instrument, scan, "STK.US.MAJOR") for _ in range(3)]

    assert all("contracts" in run for run in runs)
    assert clock.monotonic() - started >= 2.0  # three runs need two full seconds between
    assert [r for r in sim.requests if r.status == 429] == []
    assert ibkr.get_scanner_params() == params  # cached: no second request within 15 min


def test_performance_twice_is_refused_without_reaching_the_gateway(
    ibkr: IbkrClient, clock: ManualClock
) -> None:
    first = ibkr.get_performance(ACCOUNT)
    assert "nav" in first or "rc" in first

    with pytest.raises(RateLimitedError) as raised:
        ibkr.get_performance(ACCOUNT)

    assert raised.value.retry_after > 60
    assert "transactions" in ibkr.get_transactions(ACCOUNT, AAPL)  # its own quarter hour


def test_pnl_balances_and_allocation_read_the_simulated_account(
    ibkr: IbkrClient, clock: ManualClock
) -> None:
    ibkr.get_market_snapshot(AAPL)
    confirm_all(ibkr, ibkr.place_order(ACCOUNT, AAPL, "BUY", 5, coid="it-pnl-1"))
    clock.advance(6)

    pnl = ibkr.get_pnl()
    if not pnl.get("upnl"):  # the first answer of a session may be empty
        clock.advance(6)
        pnl = ibkr.get_pnl()
    rows = pnl_rows(pnl)
    assert ACCOUNT in rows
    assert rows[ACCOUNT].net_liquidation is not None

    balances = AccountBalances.from_json(ibkr.get_account_balances(ACCOUNT))
    assert balances.net_liquidation_value is not None
    assert balances.net_liquidation_value > 0
    assert "total" in ibkr.get_account_balances(ACCOUNT, page="balances")
    assert ibkr.get_position(ACCOUNT, AAPL)[0]["position"] == 5.0
    assert set(ibkr.get_allocation(ACCOUNT)) >= {"assetClass"}
    assert ibkr.invalidate_positions(ACCOUNT)
    assert ACCOUNT in ibkr.get_brokerage_accounts()["accounts"]


def test_contract_lookups(ibkr: IbkrClient) -> None:
    stocks = ibkr.search_stocks(["AAPL", "IBM"])
    assert stocks["AAPL"][0]["contracts"][0]["conid"] == AAPL

    secdef = ibkr.get_secdef([AAPL, 8314])
    assert [row["conid"] for row in secdef["secdef"]] == [AAPL, 8314]

    schedule = ibkr.get_trading_schedule("STK", "AAPL")
    assert "schedules" in schedule[0]

    rules = ibkr.get_contract_rules(AAPL)
    assert rules.get("orderTypes")


def test_alerts_and_watchlists_round_trip(ibkr: IbkrClient) -> None:
    created = ibkr.create_alert(
        ACCOUNT,
        "AAPL high",
        "AAPL above 1000",
        [{"conidex": f"{AAPL}@SMART", "type": 1, "operator": ">=", "value": "1000"}],
    )
    assert created["success"] is True
    alerts = ibkr.get_alerts(ACCOUNT)
    assert [a["alert_name"] for a in alerts] == ["AAPL high"]
    assert ibkr.delete_alert(ACCOUNT, alerts[0]["order_id"])["success"] is True
    assert ibkr.get_alerts(ACCOUNT) == []

    ibkr.create_watchlist(4242, "Tech", [AAPL, 8314])
    lists = ibkr.get_watchlists()["data"]["user_lists"]
    assert "4242" in {str(w["id"]) for w in lists}
    ibkr.delete_watchlist(4242)
    lists = ibkr.get_watchlists()["data"]["user_lists"]
    assert "4242" not in {str(w["id"]) for w in lists}


def test_session_and_market_data_housekeeping(ibkr: IbkrClient) -> None:
    ibkr.get_market_snapshot(AAPL)
    assert ibkr.unsubscribe_market_data(AAPL) == [{"success": True}]
    assert ibkr.unsubscribe_all_market_data()["unsubscribed"] is True
    assert float(ibkr.get_market_snapshot(AAPL, [31])[0]["31"]) > 0  # pre-flight re-asked

    assert ibkr.validate_sso()["RESULT"] is True
    assert isinstance(ibkr.get_notifications(), list)
    assert "status" in ibkr.reset_suppressed_messages()
    assert ibkr.request("GET", "/fyi/unreadnumber") is not None


def test_an_oca_group_cancels_the_rest_when_one_fills(
    ibkr: IbkrClient, sim: SimulatedGateway, clock: ManualClock
) -> None:
    last = last_price(ibkr, AAPL)
    legs = [
        {"conid": AAPL, "side": "SELL", "quantity": 5, "order_type": "LMT", "price": p, "coid": c}
        for p, c in ((round(last * 1.02, 2), "it-oca-a"), (round(last * 1.025, 2), "it-oca-b"))
    ]
    answer = confirm_all(ibkr, ibkr.place_orders(ACCOUNT, legs, oca=True))
    assert len(answer) == 2

    sim.set_price(AAPL, last * 1.021)  # crosses the first leg only
    clock.advance(6)

    orders = by_coid(ibkr)
    assert orders["it-oca-a"]["status"] == "Filled"
    assert orders["it-oca-b"]["status"] == "Cancelled"
