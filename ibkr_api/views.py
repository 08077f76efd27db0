"""Typed views of the wider methods' answers (issue 13), beside the raw JSON as for the 19.

Same rules as ``ibkr_api.models``: ``extra="allow"`` (nothing the gateway sends is lost),
``from_json(payload)`` builds one, numbers parsed from IBKR's strings (``"1,300"``,
``"5.0"``), an answer of the wrong shape raises ``IbkrAPIError(code="malformed")``.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import AliasChoices, Field

from ibkr_api.models import Id, Number, _alias, _malformed, _View

__all__ = ["AccountBalances", "OptionChainRow", "OrderStatus", "PnlRow", "pnl_rows"]


class PnlRow(_View):
    """One ``"<acct>.Core"`` row of ``get_pnl()``: daily P&L, unrealized P&L, net
    liquidation, excess liquidity, market value. ``key`` is the row's key."""

    key: str | None = None
    account_id: str | None = None
    row_type: int | None = _alias("rowType", "row_type")
    daily_pnl: Number = _alias("dpl", "daily_pnl")
    unrealized_pnl: Number = _alias("upl", "unrealized_pnl")
    net_liquidation: Number = _alias("nl", "net_liquidation")
    excess_liquidity: Number = _alias("el", "excess_liquidity")
    market_value: Number = _alias("mv", "market_value")


def pnl_rows(payload: object) -> dict[str, PnlRow]:
    """``get_pnl()``'s answer as ``{account_id: PnlRow}`` (``{}`` for the first, empty
    answer of a session)."""
    upnl = payload.get("upnl", {}) if isinstance(payload, Mapping) else None
    if not isinstance(upnl, Mapping):
        raise _malformed(PnlRow, payload, "expected {'upnl': {...}}")
    rows: dict[str, PnlRow] = {}
    for key, row in upnl.items():
        account = str(key).split(".", 1)[0]
        if not isinstance(row, Mapping):
            raise _malformed(PnlRow, row, f"row {key!r} is not an object")
        rows[account] = PnlRow.from_json({**row, "key": str(key), "account_id": account})
    return rows


class AccountBalances(_View):
    """``get_account_balances()``'s answer (``/iserver/account/{id}/summary``)."""

    account_type: str | None = _alias("accountType", "account_type")
    balance: Number = None
    sma: Number = _alias("SMA", "sma")
    buying_power: Number = _alias("buyingPower", "buying_power")
    available_funds: Number = _alias("availableFunds", "available_funds")
    excess_liquidity: Number = _alias("excessLiquidity", "excess_liquidity")
    net_liquidation_value: Number = _alias("netLiquidationValue", "net_liquidation_value")
    equity_with_loan_value: Number = _alias("equityWithLoanValue", "equity_with_loan_value")
    total_cash_value: Number = _alias("totalCashValue", "total_cash_value")
    initial_margin: Number = _alias("initialMargin", "initial_margin")
    maintenance_margin: Number = _alias("maintenanceMargin", "maintenance_margin")


class OptionChainRow(_View):
    """One contract of ``get_option_chain()`` / ``get_secdef_info()``: ``strike`` as a
    number, ``right`` ``"C"``/``"P"``, ``maturity`` ``YYYYMMDD``."""

    conid: int
    symbol: str | None = _alias("ticker", "symbol")
    sec_type: str | None = _alias("secType", "sec_type")
    right: str | None = None
    strike: Number = None
    maturity: str | None = _alias("maturityDate", "maturity")
    exchange: str | None = None
    currency: str | None = None
    multiplier: Number = None
    trading_class: str | None = _alias("tradingClass", "trading_class")


class OrderStatus(_View):
    """``get_order_status()``'s answer; sizes and prices parsed from the gateway's
    strings (``"5.0"``)."""

    order_id: Id = Field(default=None, validation_alias=AliasChoices("order_id", "orderId"))
    conid: int | None = None
    symbol: str | None = None
    side: str | None = None
    status: str | None = _alias("order_status", "status")
    order_type: str | None = _alias("order_type", "orderType")
    total_size: Number = _alias("total_size", "totalSize")
    filled_quantity: Number = _alias("cum_fill", "filled_quantity")
    remaining_quantity: Number = _alias("size", "remaining_quantity")
    average_price: Number = _alias("average_price", "avgPrice")
    limit_price: Number = _alias("limit_price", "price")
    stop_price: Number = _alias("stop_price", "auxPrice")
    time_in_force: str | None = _alias("tif", "time_in_force")
    account_id: str | None = _alias("account", "account_id")

    @property
    def is_done(self) -> bool:
        """Filled, cancelled or otherwise finished: nothing more will happen to it."""
        return self.status in {"Filled", "Cancelled", "ApiCancelled", "Inactive"}
