"""Fills move cash, positions, P&L, ledger and summary consistently."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibkr_session.clock import ManualClock
from ibkr_sim.book import Broker
from ibkr_sim.market import Market
from ibkr_sim.refusal import UnknownAccountError

from .conftest import AAPL, AAPL_CALL, ACCOUNT, ES, EURUSD, IBM, TUESDAY_10_NY

START_CASH = 1_000_000.0


def _fill(broker: Broker, conid: int, side: str, quantity: float) -> float:
    """A market order, every question suppressed; returns the execution price."""
    answer = broker.place(
        ACCOUNT,
        [{"conid": conid, "side": side, "quantity": quantity, "orderType": "MKT", "tif": "GTC"}],
        {"o163", "o354", "o383", "o451"},
    )
    assert isinstance(answer, list), answer
    assert answer[0]["order_status"] == "Filled", answer
    return broker.executions[-1].price


def _amount(broker: Broker, key: str) -> float:
    value = broker.summary(ACCOUNT)[key]["amount"]
    assert isinstance(value, float)
    return value


def test_a_fresh_account_is_all_cash(broker: Broker) -> None:
    assert broker.positions(ACCOUNT) == []
    assert _amount(broker, "netliquidation") == START_CASH
    assert _amount(broker, "totalcashvalue") == START_CASH
    ledger = broker.ledger(ACCOUNT)
    assert set(ledger) == {"USD", "BASE"}
    assert ledger["BASE"]["cashbalance"] == START_CASH


def test_buys_and_sells_add_up(broker: Broker, market: Market, clock: ManualClock) -> None:
    first = _fill(broker, AAPL, "BUY", 100)
    second = _fill(broker, AAPL, "BUY", 50)
    _fill(broker, IBM, "BUY", 10)
    clock.advance(1800)
    sold_at = _fill(broker, AAPL, "SELL", 60)
    average = (first * 100 + second * 50) / 150
    (aapl,) = (p for p in broker.positions(ACCOUNT) if p["conid"] == AAPL)
    assert aapl["position"] == 90
    assert aapl["avgPrice"] == pytest.approx(average)
    assert aapl["realizedPnl"] == pytest.approx((sold_at - average) * 60, abs=0.01)
    assert aapl["mktValue"] == pytest.approx(90 * market.price(AAPL), abs=0.01)
    assert aapl["unrealizedPnl"] == pytest.approx((market.price(AAPL) - average) * 90, abs=0.01)
    cash = _amount(broker, "totalcashvalue")
    ibm_cost = broker.executions[2].price * 10
    assert cash == pytest.approx(START_CASH - first * 100 - second * 50 - ibm_cost + sold_at * 60)
    value = sum(float(p["mktValue"]) for p in broker.positions(ACCOUNT))
    assert _amount(broker, "netliquidation") == pytest.approx(cash + value, abs=0.02)
    usd = broker.ledger(ACCOUNT)["USD"]
    assert usd["netliquidationvalue"] == pytest.approx(cash + value, abs=0.02)
    assert usd["stockmarketvalue"] == pytest.approx(value, abs=0.02)
    assert usd["realizedpnl"] == pytest.approx(aapl["realizedPnl"], abs=0.01)


def test_selling_through_zero_opens_a_short_at_the_sale_price(broker: Broker) -> None:
    _fill(broker, AAPL, "BUY", 10)
    sold_at = _fill(broker, AAPL, "SELL", 25)
    (aapl,) = broker.positions(ACCOUNT)
    assert aapl["position"] == -15
    assert aapl["avgPrice"] == pytest.approx(sold_at)


def test_closing_a_position_removes_it(broker: Broker) -> None:
    _fill(broker, AAPL, "BUY", 10)
    _fill(broker, AAPL, "SELL", 10)
    assert broker.positions(ACCOUNT) == []
    ledger = broker.ledger(ACCOUNT)["USD"]
    assert ledger["cashbalance"] == pytest.approx(START_CASH + ledger["realizedpnl"], abs=0.01)


def test_options_count_their_multiplier(broker: Broker, market: Market) -> None:
    paid = _fill(broker, AAPL_CALL, "BUY", 2)
    (call,) = broker.positions(ACCOUNT)
    assert call["avgCost"] == pytest.approx(paid * 100)
    assert call["mktValue"] == pytest.approx(2 * 100 * market.price(AAPL_CALL), abs=0.01)
    assert call["putOrCall"] == "C"
    assert broker.ledger(ACCOUNT)["USD"]["stockoptionmarketvalue"] == pytest.approx(
        call["mktValue"]
    )


def test_futures_move_no_cash_until_closed(broker: Broker, clock: ManualClock) -> None:
    bought = _fill(broker, ES, "BUY", 1)
    assert _amount(broker, "totalcashvalue") == START_CASH
    clock.advance(3600)
    sold = _fill(broker, ES, "SELL", 1)
    assert _amount(broker, "totalcashvalue") == pytest.approx(START_CASH + (sold - bought) * 50)


def test_an_fx_trade_shows_in_the_eur_and_base_ledger(broker: Broker, market: Market) -> None:
    rate = _fill(broker, EURUSD, "BUY", 20_000)
    ledger = broker.ledger(ACCOUNT)
    assert ledger["EUR"]["cashbalance"] == 20_000
    assert ledger["USD"]["cashbalance"] == pytest.approx(START_CASH - 20_000 * rate, abs=0.01)
    assert ledger["EUR"]["exchangerate"] == market.price(EURUSD)
    base = START_CASH - 20_000 * rate + 20_000 * market.price(EURUSD)
    assert ledger["BASE"]["netliquidationvalue"] == pytest.approx(base, abs=0.02)
    assert broker.positions(ACCOUNT) == []  # FX is cash, not a position


def test_positions_are_paged_by_100(broker: Broker) -> None:
    _fill(broker, AAPL, "BUY", 1)
    assert len(broker.positions(ACCOUNT, 0)) == 1
    assert broker.positions(ACCOUNT, 1) == []


def test_the_other_account_is_untouched(broker: Broker) -> None:
    _fill(broker, AAPL, "BUY", 10)
    assert broker.positions("U7654321") == []
    with pytest.raises(UnknownAccountError):
        broker.ledger("U0000000")


def test_pnl_partitioned_reports_each_account(broker: Broker) -> None:
    _fill(broker, AAPL, "BUY", 10)
    assert broker.pnl() == {"upnl": {}}  # the session's first request: empty (IBKR's spec)
    rows = broker.pnl()["upnl"]
    assert isinstance(rows, dict)
    assert set(rows) == {f"{ACCOUNT}.Core", "U7654321.Core"}
    assert rows[f"{ACCOUNT}.Core"]["nl"] == _amount(broker, "netliquidation")


def test_ledger_stamps_seconds_and_summary_milliseconds(broker: Broker, clock: ManualClock) -> None:
    now = clock.now().timestamp()
    assert broker.ledger(ACCOUNT)["USD"]["timestamp"] == int(now)
    assert broker.summary(ACCOUNT)["netliquidation"]["timestamp"] == int(now * 1000)


_TRADES = st.lists(
    st.tuples(
        st.sampled_from([AAPL, IBM, AAPL_CALL]),
        st.sampled_from(["BUY", "SELL"]),
        st.integers(min_value=1, max_value=40),
        st.integers(min_value=0, max_value=30),  # minutes until the next trade
    ),
    min_size=1,
    max_size=10,  # at most 5 hours from 10:00: the market stays open
)


@settings(max_examples=25, deadline=None)
@given(trades=_TRADES)
def test_cash_plus_market_value_is_always_net_liquidation(
    trades: list[tuple[int, str, int, int]],
) -> None:
    clock = ManualClock(TUESDAY_10_NY)
    broker = Broker(clock, Market(clock, seed=1), accounts=(ACCOUNT,), cash=START_CASH)
    spent = 0.0
    for conid, side, quantity, minutes in trades:
        price = _fill(broker, conid, side, quantity)
        multiplier = 100 if conid == AAPL_CALL else 1
        spent += (1 if side == "BUY" else -1) * quantity * price * multiplier
        clock.advance(minutes * 60)
        positions = broker.positions(ACCOUNT)
        value = sum(float(p["mktValue"]) for p in positions)
        cash = _amount(broker, "totalcashvalue")
        assert cash == pytest.approx(START_CASH - spent, abs=0.01)
        assert _amount(broker, "netliquidation") == pytest.approx(cash + value, abs=0.05)
        ledger = broker.ledger(ACCOUNT)
        assert ledger["BASE"]["netliquidationvalue"] == pytest.approx(cash + value, abs=0.05)
        unrealized = sum(float(p["unrealizedPnl"]) for p in positions)
        assert ledger["USD"]["unrealizedpnl"] == pytest.approx(unrealized, abs=0.05)
