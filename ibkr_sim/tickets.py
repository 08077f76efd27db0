"""Order tickets: the JSON order objects the gateway accepts, checked before anything rests.

Several order objects in one request can form a group (IBKR's spec): a child carries
``parentId`` = its parent's ``cOID`` (a bracket), and ``isSingleGroup: true`` makes all
the request's orders one OCA group.

``parse_ticket`` turns one order object of ``POST /iserver/account/{acct}/orders`` (or
the single object of a modify) into an ``OrderTicket``, or returns the text of the
``{"error": ...}`` answer the gateway sends for it (HTTP 200, like every order reject).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from ibkr_sim.instruments import Instrument, find_instrument

__all__ = [
    "NEEDS_LIMIT",
    "NEEDS_STOP",
    "NEEDS_TRAIL",
    "ORDER_TYPES",
    "TIME_IN_FORCE",
    "OrderTicket",
    "parse_ticket",
]

ORDER_TYPES = frozenset({"MKT", "LMT", "STP", "STOP_LIMIT", "TRAIL", "TRAILLMT", "MIDPRICE"})
TIME_IN_FORCE = frozenset({"DAY", "GTC", "IOC", "OPG", "PAX", "FOK"})
NEEDS_LIMIT = frozenset({"LMT", "STOP_LIMIT", "TRAILLMT"})
"""Order types whose ``price`` (the limit) is required."""
NEEDS_STOP = frozenset({"STP", "STOP_LIMIT"})
"""Order types whose stop is required: ``auxPrice``; a ``STP`` order may carry it in
``price`` instead (IBKR's spec only says ``price`` is "the order's price, where applicable"
and ``auxPrice`` is "used in certain order types, such as stop orders": clients send both
forms, and the gateway takes both)."""
NEEDS_TRAIL = frozenset({"TRAIL", "TRAILLMT"})
"""Order types that need ``trailingAmt`` and ``trailingType`` ("amt" or "%")."""


@dataclass(frozen=True)
class OrderTicket:
    """One validated order."""

    instrument: Instrument
    side: str
    quantity: float
    order_type: str
    tif: str
    price: float | None = None
    aux_price: float | None = None
    trailing_amount: float | None = None
    trailing_percent: bool = False
    coid: str | None = None
    parent_coid: str | None = None  # a bracket's child: the parent's cOID (``parentId``)
    single_group: bool = False  # ``isSingleGroup``: the request's orders are one OCA group

    @property
    def conid(self) -> int:
        return self.instrument.conid

    @property
    def is_buy(self) -> bool:
        return self.side == "BUY"


def parse_ticket(order: Mapping[str, object]) -> OrderTicket | str:
    """A validated ticket, or the gateway's rejection text for this order object."""
    instrument = _instrument(order.get("conid"))
    if instrument is None:
        return f"Invalid contract id: {order.get('conid')!r} is not a known conid"
    side = str(order.get("side", "")).upper()
    if side not in ("BUY", "SELL"):
        return f"Invalid side {order.get('side')!r}: use BUY or SELL"
    quantity = _number(order.get("quantity"))
    if quantity is None or quantity <= 0:
        return f"Invalid quantity {order.get('quantity')!r}: the order size must be positive"
    order_type = str(order.get("orderType", "")).upper()
    if order_type not in ORDER_TYPES:
        return f"Invalid order type {order.get('orderType')!r}"
    tif = str(order.get("tif", "DAY")).upper()
    if tif not in TIME_IN_FORCE:
        return f"Invalid time in force {order.get('tif')!r}"
    prices = _prices(order, order_type)
    if isinstance(prices, str):
        return prices
    price, aux_price, trailing_amount = prices
    trailing_type = str(order.get("trailingType", "amt"))
    if order_type in NEEDS_TRAIL and trailing_type not in ("amt", "%"):
        return f"Invalid trailingType {trailing_type!r}: use 'amt' or '%'"
    coid = order.get("cOID")
    parent = order.get("parentId")
    single_group = order.get("isSingleGroup", False)
    if not isinstance(single_group, bool):
        return f"Invalid isSingleGroup {single_group!r}: use true or false"
    return OrderTicket(
        instrument=instrument,
        side=side,
        quantity=quantity,
        order_type=order_type,
        tif=tif,
        price=price,
        aux_price=aux_price,
        trailing_amount=trailing_amount,
        trailing_percent=trailing_type == "%",
        coid=str(coid) if coid not in (None, "") else None,
        parent_coid=str(parent) if parent not in (None, "") else None,
        single_group=single_group,
    )


def _prices(
    order: Mapping[str, object], order_type: str
) -> tuple[float | None, float | None, float | None] | str:
    """(limit, stop, trailing amount) as the order type requires them, or a rejection."""
    if order_type == "STP" and order.get("auxPrice") is None and order.get("price") is not None:
        order = {**order, "auxPrice": order["price"], "price": None}
    checked: list[float | None] = []
    for key, required in (
        ("price", order_type in NEEDS_LIMIT),
        ("auxPrice", order_type in NEEDS_STOP),
        ("trailingAmt", order_type in NEEDS_TRAIL),
    ):
        raw = order.get(key)
        if raw is None:
            if required:
                return f"Missing {key}: {order_type} orders need one"
            checked.append(None)
            continue
        value = _number(raw)
        if value is None or value <= 0:
            return (
                f"We cannot accept an order at the {key} {raw!r}: prices must be positive numbers"
            )
        checked.append(value)
    return checked[0], checked[1], checked[2]


def _instrument(raw: object) -> Instrument | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return find_instrument(raw)
    if isinstance(raw, str) and raw.strip().isdigit():
        return find_instrument(int(raw))
    return None


def _number(raw: object) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
