"""A resting order: its life (status, triggers, fill) and its ``/iserver/account/orders`` row.

Execution rules (documented simplifications of a real exchange):

- an order executes in full, once, at the quote (ask for a buy, bid for a sell) of the
  first trade that allows it; there are no partial fills and no commissions;
- ``MKT`` executes at the first trade, ``MIDPRICE`` too but at the midpoint (its optional
  cap is ignored); ``LMT`` when the ask (buy) or bid (sell) reaches the limit;
- ``STP``/``TRAIL`` trigger when the last trade reaches the stop (a trailing stop follows
  the best price by ``trailingAmt`` or by that percentage) and then act as ``MKT``;
  ``STOP_LIMIT``/``TRAILLMT`` trigger the same way and then act as ``LMT``;
- orders work only in the instrument's regular hours: ``outsideRTH`` is accepted and
  ignored;
- a bracket's children wait (``PreSubmitted``) until their parent fills, then work; the
  orders of an OCA group (a bracket's children, or ``isSingleGroup``) are offered the
  same trades in time order and the first to fill cancels the others.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

from ibkr_sim.tickets import NEEDS_STOP, NEEDS_TRAIL, OrderTicket

__all__ = ["LIVE_STATUSES", "SimOrder"]

LIVE_STATUSES = frozenset({"PreSubmitted", "Submitted"})
_TYPE_NAMES = {
    "MKT": ("MARKET", "Market"),
    "LMT": ("LIMIT", "Limit"),
    "STP": ("STOP", "Stop"),
    "STOP_LIMIT": ("STOP_LIMIT", "Stop Limit"),
    "TRAIL": ("TRAIL", "Trail"),
    "TRAILLMT": ("TRAILLMT", "Trail Limit"),
    "MIDPRICE": ("MIDPRICE", "MidPrice"),
}

_CCP_STATUS = {"PreSubmitted": "1", "Submitted": "1", "Filled": "2", "Cancelled": "3"}
_STATUS_TEXT = {
    "PreSubmitted": "Order Submitted",
    "Submitted": "Order Submitted",
    "Filled": "Order Filled",
    "Cancelled": "Order Cancelled",
}


@dataclass
class SimOrder:
    """One order that reached the book."""

    order_id: int
    account: str
    ticket: OrderTicket
    placed_at: float
    expires_at: float | None  # DAY orders: the session close
    opens_at: float | None  # OPG orders: the only moment they may execute
    updated_at: float  # the last status change (IBKR's lastExecutionTime)
    checked_until: float  # trades up to here have been offered to the order
    status: str = "PreSubmitted"
    filled_quantity: float = 0.0
    average_price: float | None = None
    triggered: bool = False
    best_price: float | None = None  # trailing stops: the extreme they follow
    cancel_requested: bool = False
    parent_id: int | None = None  # a bracket's child: the parent's order id
    oca_group: str | None = None  # the first of a group to fill cancels the others
    waiting: bool = False  # a child held until its parent fills

    @property
    def live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def coid(self) -> str | None:
        return self.ticket.coid

    def replace(self, ticket: OrderTicket, now: float) -> None:
        """A modify: the new terms replace the old, stops re-arm."""
        self.ticket = ticket
        self.triggered = False
        self.best_price = None
        self.updated_at = now

    def execution_price(self, last: float, bid: float, ask: float) -> float | None:
        """The price this order executes at against one trade, or ``None``.

        Updates the stop trigger and the trailing extreme as a side effect, so callers
        feed trades in time order.
        """
        ticket = self.ticket
        if not self._armed(last):
            return None
        if ticket.order_type == "MIDPRICE":
            return (bid + ask) / 2
        quote = ask if ticket.is_buy else bid
        if ticket.order_type in ("MKT", "STP", "TRAIL"):
            return quote
        assert ticket.price is not None  # parse_ticket requires a limit for these types
        crossed = quote <= ticket.price if ticket.is_buy else quote >= ticket.price
        return quote if crossed else None

    def status_now(self, trading: bool) -> str:
        """``Submitted`` while working at the exchange, ``PreSubmitted`` while held."""
        held = not trading or (self._is_stop() and not self.triggered)
        return "PreSubmitted" if held else "Submitted"

    def row(self) -> dict[str, Any]:
        """The order as ``GET /iserver/account/orders`` lists it (recorded shape)."""
        ticket = self.ticket
        instrument = ticket.instrument
        decimals = instrument.decimals
        total = ticket.quantity
        origin, label = _TYPE_NAMES[ticket.order_type]
        filled = self.status == "Filled"
        row: dict[str, Any] = {
            "acct": self.account,
            "conidex": str(instrument.conid),
            "conid": instrument.conid,
            "account": self.account,
            "orderId": self.order_id,
            "cashCcy": instrument.currency,
            "sizeAndFills": f"{total:g}" if filled else f"{self.filled_quantity:g}/{total:g}",
            "orderDesc": self._description(label),
            "description1": instrument.local_symbol or instrument.symbol,
            "ticker": instrument.symbol,
            "secType": instrument.sec_type,
            "listingExchange": instrument.listing_exchange,
            "remainingQuantity": total - self.filled_quantity,
            "filledQuantity": self.filled_quantity,
            "totalSize": total,
            "companyName": instrument.company_name,
            "status": self.status,
            "order_ccp_status": self.status,
            "origOrderType": origin,
            "supportsTaxOpt": "1",
            "lastExecutionTime": _execution_time(self.updated_at),
            "orderType": label,
            "bgColor": "#FFFFFF",
            "fgColor": "#000000",
            "isEventTrading": "0",
            "price": f"{ticket.price:.{decimals}f}" if ticket.price is not None else "",
            "timeInForce": "CLOSE" if ticket.tif == "DAY" else ticket.tif,
            "lastExecutionTime_r": int(self.updated_at * 1000),
            "side": ticket.side,
        }
        if ticket.aux_price is not None:
            row["auxPrice"] = f"{ticket.aux_price:.{decimals}f}"
        if self.average_price is not None:
            row["avgPrice"] = f"{self.average_price:.{decimals}f}"
        if ticket.coid is not None:
            row["order_ref"] = ticket.coid
        if self.parent_id is not None:
            row["parentId"] = self.parent_id
        return row

    def status_row(self, server_id: int) -> dict[str, Any]:
        """The order as ``GET /iserver/account/order/status/{orderId}`` shows it (spec)."""
        ticket = self.ticket
        instrument = ticket.instrument
        decimals = instrument.decimals
        origin, label = _TYPE_NAMES[ticket.order_type]
        filled = self.status == "Filled"
        done = not self.live
        description = self._description(label)
        price = self.average_price
        return {
            "sub_type": None,
            "request_id": str(server_id),
            "server_id": "0",
            "order_id": self.order_id,
            "conidex": str(instrument.conid),
            "conid": instrument.conid,
            "symbol": instrument.symbol,
            "side": "B" if ticket.is_buy else "S",
            "contract_description_1": instrument.local_symbol or instrument.symbol,
            "listing_exchange": instrument.listing_exchange,
            "option_acct": "c",
            "company_name": instrument.company_name,
            "size": f"{ticket.quantity - self.filled_quantity:.1f}",
            "total_size": f"{ticket.quantity:.1f}",
            "currency": instrument.currency,
            "account": self.account,
            "order_type": origin,
            "cum_fill": f"{self.filled_quantity:.1f}",
            "order_status": self.status,
            "order_ccp_status": _CCP_STATUS.get(self.status, "0"),
            "order_status_description": _STATUS_TEXT.get(self.status, self.status),
            "tif": ticket.tif,
            "fg_color": "#FFFFFF",
            "bg_color": "#000000",
            "order_not_editable": done,
            "editable_fields": "" if done else "price,quantity,tif",
            "cannot_cancel_order": done,
            "deactivate_order": False,
            "sec_type": instrument.sec_type,
            "available_chart_periods": "#R|1",
            "order_description": description,
            "order_description_with_contract": description,
            "alert_active": 1,
            "child_order_type": "A" if self.parent_id is not None else "0",
            "order_clearing_account": self.account,
            "size_and_fills": f"{ticket.quantity:g}" if filled else f"{self.filled_quantity:g}",
            "exit_strategy_display_price": f"{price:.{decimals}f}" if price is not None else "",
            "exit_strategy_chart_description": description,
            "average_price": f"{price:.{decimals}f}" if price is not None else "",
            "exit_strategy_tool_availability": "1",
            "allowed_duplicate_opposite": True,
            "order_time": _execution_time(self.placed_at),
        }

    def _is_stop(self) -> bool:
        return self.ticket.order_type in NEEDS_STOP or self.ticket.order_type in NEEDS_TRAIL

    def _armed(self, last: float) -> bool:
        """Whether the order may execute now; stops trigger (once) on ``last``."""
        if not self._is_stop() or self.triggered:
            return True
        ticket = self.ticket
        stop = ticket.aux_price
        if ticket.order_type in NEEDS_TRAIL:
            assert ticket.trailing_amount is not None  # parse_ticket requires it
            best = self.best_price if self.best_price is not None else last
            best = max(best, last) if not ticket.is_buy else min(best, last)
            self.best_price = best
            offset = (
                best * ticket.trailing_amount / 100
                if ticket.trailing_percent
                else ticket.trailing_amount
            )
            stop = best + offset if ticket.is_buy else best - offset
        assert stop is not None  # parse_ticket requires auxPrice for stop types
        self.triggered = last >= stop if ticket.is_buy else last <= stop
        return self.triggered

    def _description(self, label: str) -> str:
        ticket = self.ticket
        done = self.status == "Filled"
        verb = ("Bought" if ticket.is_buy else "Sold") if done else ticket.side.title()
        decimals = ticket.instrument.decimals
        price = f" {ticket.price:.{decimals}f}" if ticket.price is not None else ""
        tif = "Day" if ticket.tif == "DAY" else ticket.tif
        return f"{verb} {ticket.quantity:g} {ticket.instrument.symbol} {label}{price}, {tif}"


def _execution_time(t: float) -> str:
    """IBKR's ``YYMMDDhhmmss`` (UTC)."""
    return _dt.datetime.fromtimestamp(t, _dt.UTC).strftime("%y%m%d%H%M%S")
