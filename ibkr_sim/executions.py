"""Executions (fills) and their ``/iserver/account/trades`` rows."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

from ibkr_sim.instruments import Instrument

__all__ = ["Execution"]


@dataclass(frozen=True)
class Execution:
    """One fill of one order: it happened once, at one price."""

    execution_id: str
    order_id: int
    account: str
    instrument: Instrument
    buy: bool
    quantity: float
    price: float
    time: float
    coid: str | None

    def row(self) -> dict[str, Any]:
        """The trade as ``GET /iserver/account/trades`` lists it (recorded shape + spec)."""
        instrument = self.instrument
        when = _dt.datetime.fromtimestamp(self.time, _dt.UTC)
        price = f"{self.price:.{instrument.decimals}f}"
        return {
            "execution_id": self.execution_id,
            "symbol": instrument.symbol,
            "supports_tax_opt": "1",
            "side": "BOT" if self.buy else "SLD",
            "order_description": (
                f"{'Bought' if self.buy else 'Sold'} {self.quantity:g} @ {price} "
                f"on {instrument.listing_exchange}"
            ),
            "trade_time": when.strftime("%Y%m%d-%H:%M:%S"),
            "trade_time_r": int(self.time * 1000),
            "size": self.quantity,
            "price": self.price,
            "order_ref": self.coid,
            "submitter": self.account,
            "exchange": instrument.listing_exchange,
            "commission": "0.00",
            "net_amount": round(self.quantity * self.price * instrument.multiplier, 2),
            "account": self.account,
            "accountCode": self.account,
            "account_allocation_name": self.account,
            "company_name": instrument.company_name,
            "contract_description_1": instrument.local_symbol or instrument.symbol,
            "sec_type": instrument.sec_type,
            "listing_exchange": instrument.listing_exchange,
            "conid": instrument.conid,
            "conidEx": str(instrument.conid),
            "clearing_id": "IB",
            "clearing_name": "IB",
            "liquidation_trade": "0",
            "is_event_trading": "0",
            "order_id": self.order_id,
        }
