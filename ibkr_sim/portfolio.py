"""One account's money: cash per currency, positions, P&L, and the portfolio views of them.

Accounting rules (USD base currency, no commissions, no settlement delay):

- stocks and options move cash by ``quantity * price * multiplier``;
- futures move no cash when opened; realized P&L is paid into cash when they close and
  their open P&L counts towards net liquidation (the ledger's ``futuremarketvalue``);
- FX (EUR.USD) moves both currencies' cash and is not a position
  (``trackVirtualFXPortfolio`` is false), so it shows in the ledger's EUR entry and, at the
  market rate, in BASE;
- net liquidation = cash + stock and option market value + futures open P&L, per currency
  and, converted, in BASE; margin is 25 % of stock and option gross value plus 6 % of
  futures notional; buying power is four times the available funds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from math import fsum
from typing import Any

from ibkr_sim.instruments import UNIVERSE, Instrument
from ibkr_sim.market import Market

__all__ = ["Portfolio", "Position", "Totals"]

_STOCK_MARGIN = 0.25
_FUTURES_MARGIN = 0.06
_LEVERAGE = 4.0
_BASE = "USD"
_PAGE_SIZE = 100  # positions per page, as IBKR pages them
_SUMMARY_SEGMENTED = (
    "netliquidation", "totalcashvalue", "settledcash", "grosspositionvalue",
    "equitywithloanvalue", "initmarginreq", "maintmarginreq", "availablefunds",
    "excessliquidity",
)  # fmt: skip
"""Summary keys that also come per segment: ``-c`` commodities (none here), ``-s`` securities."""
_LEDGER_ZEROES = (
    "commoditymarketvalue", "corporatebondsmarketvalue", "warrantsmarketvalue",
    "interest", "moneyfunds", "funds", "issueroptionsmarketvalue", "tbondsmarketvalue",
    "futureoptionmarketvalue", "cashbalancefxsegment", "tbillsmarketvalue", "dividends",
    "cryptocurrencyvalue",
)  # fmt: skip


@dataclass
class Position:
    """Holdings of one contract: signed quantity, average price, realized P&L."""

    instrument: Instrument
    quantity: float = 0.0
    average_price: float = 0.0
    realized: float = 0.0

    def trade(self, signed_quantity: float, price: float) -> float:
        """Apply one execution; returns the P&L it realized."""
        multiplier = self.instrument.multiplier
        held = self.quantity
        if held == 0 or (held > 0) == (signed_quantity > 0):
            total = abs(held) + abs(signed_quantity)
            self.average_price = (
                self.average_price * abs(held) + price * abs(signed_quantity)
            ) / total
            self.quantity = round(held + signed_quantity, 8)
            return 0.0
        closed = min(abs(signed_quantity), abs(held))
        realized = (price - self.average_price) * closed * multiplier * (1 if held > 0 else -1)
        self.realized += realized
        self.quantity = round(held + signed_quantity, 8)
        if self.quantity == 0:
            self.average_price = 0.0
        elif (self.quantity > 0) != (held > 0):  # flipped: the rest opened at this price
            self.average_price = price
        return realized


@dataclass(frozen=True)
class Totals:
    """An account's figures in USD at one moment."""

    cash: float
    market_value: float  # stocks and options
    gross: float  # stocks and options, longs and shorts alike
    net_liquidation: float
    margin: float
    unrealized: float
    daily: float  # P&L since the prior close of the positions held now

    @property
    def available(self) -> float:
        return self.net_liquidation - self.margin


@dataclass(frozen=True)
class _Mark:
    """A position valued at the current last trade."""

    position: Position
    price: float

    @property
    def market_value(self) -> float:
        p = self.position
        return p.quantity * self.price * p.instrument.multiplier

    @property
    def unrealized(self) -> float:
        p = self.position
        return (self.price - p.average_price) * p.quantity * p.instrument.multiplier


class Portfolio:
    """Cash and positions of one account, valued on a ``Market``."""

    def __init__(self, account_id: str, cash: float, market: Market) -> None:
        self.account_id = account_id
        self._market = market
        self._cash: dict[str, float] = {_BASE: cash}
        self._positions: dict[int, Position] = {}

    def apply_fill(self, instrument: Instrument, buy: bool, quantity: float, price: float) -> None:
        """Book one execution."""
        signed = quantity if buy else -quantity
        if instrument.sec_type == "CASH":
            self._add_cash(instrument.symbol, signed)
            self._add_cash(instrument.currency, -signed * price)
            return
        position = self._positions.setdefault(instrument.conid, Position(instrument))
        realized = position.trade(signed, price)
        if instrument.sec_type == "FUT":
            self._add_cash(instrument.currency, realized)
        else:
            self._add_cash(instrument.currency, -signed * price * instrument.multiplier)

    def cash(self, currency: str = _BASE) -> float:
        return self._cash.get(currency, 0.0)

    def cash_balances(self) -> dict[str, float]:
        """Cash per currency, base currency first."""
        return {ccy: self.cash(ccy) for ccy in self._currencies()}

    def rate(self, currency: str) -> float:
        """USD per unit of ``currency`` at the market's last trade."""
        return self._rate(currency)

    def realized_by_conid(self) -> dict[int, float]:
        """Realized P&L per contract ever held."""
        return {c: p.realized for c, p in self._positions.items() if p.realized}

    def marked_positions(self) -> list[tuple[Instrument, float, float]]:
        """Open positions as (instrument, signed quantity, market value in USD)."""
        return [
            (m.position.instrument, m.position.quantity,
             m.market_value * self._rate(m.position.instrument.currency))
            for m in self._marks()
        ]  # fmt: skip

    def quantity(self, conid: int) -> float:
        """The signed position in ``conid`` (0 when none)."""
        position = self._positions.get(conid)
        return position.quantity if position is not None else 0.0

    def hypothetical(self) -> Portfolio:
        """A copy to try trades on (what-if): the same market, its own cash and positions."""
        copy = Portfolio(self.account_id, 0.0, self._market)
        copy._cash = dict(self._cash)
        copy._positions = {c: dataclasses.replace(p) for c, p in self._positions.items()}
        return copy

    # -- views -----------------------------------------------------------------------

    def positions_page(self, page: int) -> list[dict[str, Any]]:
        """``/portfolio/{acct}/positions/{page}``: open positions by description."""
        marks = sorted(self._marks(), key=lambda m: _description(m.position.instrument))
        first = page * _PAGE_SIZE
        return [self._position_row(mark) for mark in marks[first : first + _PAGE_SIZE]]

    def ledger(self, now: float) -> dict[str, dict[str, Any]]:
        """``/portfolio/{acct}/ledger``: one entry per currency plus BASE (seconds)."""
        entries = {ccy: self._ledger_numbers(ccy) for ccy in self._currencies()}
        base = {
            key: fsum(numbers[key] * self._rate(ccy) for ccy, numbers in entries.items())
            for key in next(iter(entries.values()))
        }
        answer = {
            ccy: self._ledger_entry(ccy, numbers, self._rate(ccy), now)
            for ccy, numbers in entries.items()
        }
        answer["BASE"] = self._ledger_entry("BASE", base, 1.0, now)
        return answer

    def summary(self, now: float) -> dict[str, dict[str, Any]]:
        """``/portfolio/{acct}/summary``: lowercase keys, timestamps in milliseconds."""
        totals = self.totals()
        stamp = int(now * 1000)
        money = {
            "netliquidation": totals.net_liquidation,
            "totalcashvalue": totals.cash,
            "settledcash": totals.cash,
            "grosspositionvalue": totals.gross,
            "equitywithloanvalue": totals.net_liquidation,
            "initmarginreq": totals.margin,
            "maintmarginreq": totals.margin,
            "availablefunds": totals.available,
            "excessliquidity": totals.available,
            "buyingpower": totals.available * _LEVERAGE,
        }
        for key in _SUMMARY_SEGMENTED:
            money[f"{key}-c"] = 0.0
            money[f"{key}-s"] = money[key]
        answer = {
            "accountcode": _summary_entry(0.0, None, self.account_id, stamp),
            "accountready": _summary_entry(0.0, None, "true", stamp),
            "accounttype": _summary_entry(0.0, None, "INDIVIDUAL", stamp),
        }
        for key, amount in money.items():
            rounded = round(amount, 2)
            answer[key] = _summary_entry(rounded, _BASE, str(rounded), stamp)
        return answer

    def pnl_row(self) -> dict[str, Any]:
        """This account's row of ``/iserver/account/pnl/partitioned``."""
        totals = self.totals()
        return {
            "rowType": 1,
            "dpl": round(totals.daily, 2),
            "nl": round(totals.net_liquidation, 2),
            "upl": round(totals.unrealized, 2),
            "el": round(totals.available, 2),
            "mv": round(totals.market_value, 2),
        }

    def totals(self) -> Totals:
        """The account's figures in USD: what the summary and P&L views are built from."""
        marks = self._marks()
        securities = [m for m in marks if m.position.instrument.sec_type != "FUT"]
        futures = [m for m in marks if m.position.instrument.sec_type == "FUT"]
        cash = fsum(amount * self._rate(ccy) for ccy, amount in self._cash.items())
        market_value = fsum(m.market_value for m in securities)
        gross = fsum(abs(m.market_value) for m in securities)
        notional = fsum(abs(m.market_value) for m in futures)
        return Totals(
            cash=cash,
            market_value=market_value,
            gross=gross,
            net_liquidation=cash + market_value + fsum(m.unrealized for m in futures),
            margin=_STOCK_MARGIN * gross + _FUTURES_MARGIN * notional,
            unrealized=fsum(m.unrealized for m in marks),
            daily=fsum(
                m.position.quantity
                * (m.price - self._market.prior_close(m.position.instrument.conid))
                * m.position.instrument.multiplier
                for m in marks
            ),
        )

    # -- helpers ---------------------------------------------------------------------

    def _add_cash(self, currency: str, amount: float) -> None:
        self._cash[currency] = self._cash.get(currency, 0.0) + amount

    def _marks(self) -> list[_Mark]:
        return [
            _Mark(p, self._market.price(conid))
            for conid, p in self._positions.items()
            if p.quantity != 0
        ]

    def _currencies(self) -> list[str]:
        held = {p.instrument.currency for p in self._positions.values()}
        return sorted(set(self._cash) | held, key=lambda c: (c != _BASE, c))

    def _rate(self, currency: str) -> float:
        """USD per unit of ``currency``, from the FX pair's last trade."""
        if currency == _BASE:
            return 1.0
        for instrument in UNIVERSE.values():
            if instrument.sec_type == "CASH" and instrument.symbol == currency:
                return self._market.price(instrument.conid)
        raise ValueError(f"no FX rate for {currency}")

    def _ledger_numbers(self, currency: str) -> dict[str, float]:
        marks = [m for m in self._marks() if m.position.instrument.currency == currency]

        def value_of(sec_type: str) -> float:
            return fsum(m.market_value for m in marks if m.position.instrument.sec_type == sec_type)

        futures_pnl = fsum(m.unrealized for m in marks if m.position.instrument.sec_type == "FUT")
        cash = self.cash(currency)
        stocks, options = value_of("STK"), value_of("OPT")
        return {
            "cashbalance": cash,
            "settledcash": cash,
            "stockmarketvalue": stocks,
            "stockoptionmarketvalue": options,
            "futuremarketvalue": futures_pnl,
            "futuresonlypnl": futures_pnl,
            "netliquidationvalue": cash + stocks + options + futures_pnl,
            "unrealizedpnl": fsum(m.unrealized for m in marks),
            "realizedpnl": fsum(
                p.realized for p in self._positions.values() if p.instrument.currency == currency
            ),
        }

    def _ledger_entry(
        self, currency: str, numbers: dict[str, float], rate: float, now: float
    ) -> dict[str, Any]:
        entry: dict[str, Any] = dict.fromkeys(_LEDGER_ZEROES, 0.0)
        entry.update({key: float(round(value, 2)) for key, value in numbers.items()})
        entry.update(
            {
                "exchangerate": 1 if currency in (_BASE, "BASE") else rate,  # int, as recorded
                "sessionid": 1,
                "currency": currency,
                "acctcode": self.account_id,
                "key": "LedgerList",
                "timestamp": int(now),
                "severity": 0,
                "secondkey": currency,
                "endofbundle": 1,
            }
        )
        return entry

    def _position_row(self, mark: _Mark) -> dict[str, Any]:
        position = mark.position
        instrument = position.instrument
        derivative = instrument.sec_type in ("OPT", "FUT")
        return {
            "acctId": self.account_id,
            "conid": instrument.conid,
            "contractDesc": _description(instrument),
            "position": position.quantity,
            "mktPrice": mark.price,
            "mktValue": round(mark.market_value, 2),
            "currency": instrument.currency,
            "avgCost": round(position.average_price * instrument.multiplier, 8),
            "avgPrice": round(position.average_price, 8),
            "realizedPnl": round(position.realized, 2),
            "unrealizedPnl": round(mark.unrealized, 2),
            "exchs": None,
            "expiry": instrument.expiry,
            "putOrCall": instrument.right[0] if instrument.right else None,
            "multiplier": instrument.multiplier if derivative else None,
            "strike": instrument.strike or 0.0,
            "exerciseStyle": None,
            "conExchMap": [],
            "assetClass": instrument.sec_type,
            "undConid": instrument.underlying_conid,
            "model": "",
        }


def _summary_entry(amount: float, currency: str | None, value: str, stamp: int) -> dict[str, Any]:
    return {
        "amount": amount,
        "currency": currency,
        "isNull": False,
        "timestamp": stamp,
        "value": value,
        "severity": 0,
    }


def _description(instrument: Instrument) -> str:
    if instrument.sec_type == "STK":
        return instrument.symbol
    return f"{instrument.symbol} {instrument.text}"
