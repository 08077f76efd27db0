"""What-if previews (``POST /iserver/account/{acct}/orders/whatif``): an order's effect on
the account's equity, margin and position, computed on a copy of the portfolio.

A preview never places anything: no order id, no cOID registered, no fill. Figures are
strings formatted as IBKR's spec shows them (``"1,977.60 USD (10 Shares)"``,
``"123,456"``); the simulator charges no commission, so ``commission`` is ``"0 USD"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import fsum
from typing import Any

from ibkr_sim.instruments import Instrument
from ibkr_sim.portfolio import Portfolio

__all__ = ["NO_MARKET_DATA_WARNING", "what_if"]

NO_MARKET_DATA_WARNING = (
    "21/You are trying to submit an order without having market data for this instrument. "
    "\nIB strongly recommends against this kind of blind trading which may result in "
    "\nerroreous or unexpected trades."
)  # sic: IBKR's spec example

Leg = tuple[Instrument, float, float]
"""(instrument, signed quantity, assumed price)."""


def what_if(portfolio: Portfolio, legs: Sequence[Leg], *, has_market_data: bool) -> dict[str, Any]:
    """The preview of ``legs`` traded at their prices on ``portfolio`` (left unchanged)."""
    before = portfolio.totals()
    trial = portfolio.hypothetical()
    for instrument, signed, price in legs:
        trial.apply_fill(instrument, signed > 0, abs(signed), price)
    after = trial.totals()
    amount = fsum(abs(signed) * price * i.multiplier for i, signed, price in legs)
    first = legs[0][0]
    units = "Shares" if first.sec_type == "STK" else "Contracts"
    quantity = fsum(abs(signed) for i, signed, _ in legs if i.conid == first.conid)
    position_before = portfolio.quantity(first.conid)
    position_after = trial.quantity(first.conid)
    return {
        "amount": {
            "amount": f"{amount:,.2f} {first.currency} ({quantity:g} {units})",
            "commission": f"0 {first.currency}",
            "total": f"{amount:,.2f} {first.currency}",
        },
        "equity": _change(before.net_liquidation, after.net_liquidation),
        "initial": _change(before.margin, after.margin),
        "maintenance": _change(before.margin, after.margin),
        "position": {
            "current": f"{position_before:g}",
            "change": f"{position_after - position_before:g}",
            "after": f"{position_after:g}",
        },
        "warn": None if has_market_data else NO_MARKET_DATA_WARNING,
        "error": None,
    }


def _change(current: float, after: float) -> dict[str, str]:
    return {
        "current": f"{current:,.0f}",
        "change": f"{after - current:,.0f}",
        "after": f"{after:,.0f}",
    }
