"""Typed views of the wider answers, and the TypedDicts mypy sees on every method."""

from __future__ import annotations

import inspect
import typing
from typing import Any, get_type_hints

import pytest

from ibkr_api import shapes
from ibkr_api.client import IbkrClient
from ibkr_api.views import AccountBalances, OptionChainRow, OrderStatus, pnl_rows
from ibkr_session import IbkrAPIError


def test_pnl_rows_are_keyed_by_account_with_numbers() -> None:
    answer = {"upnl": {"U1234567.Core": {"rowType": 1, "dpl": "15.7", "nl": 10000, "upl": -2}}}

    rows = pnl_rows(answer)

    assert list(rows) == ["U1234567"]
    row = rows["U1234567"]
    assert (row.daily_pnl, row.net_liquidation, row.unrealized_pnl) == (15.7, 10000.0, -2.0)
    assert row.key == "U1234567.Core"
    assert pnl_rows({"upnl": {}}) == {}


def test_pnl_of_the_wrong_shape_is_a_typed_error() -> None:
    with pytest.raises(IbkrAPIError, match="upnl"):
        pnl_rows({"upnl": [1, 2]})


def test_order_status_parses_the_gateways_strings() -> None:
    status = OrderStatus.from_json(
        {
            "order_id": 1799796559,
            "order_status": "Filled",
            "total_size": "5.0",
            "cum_fill": "5.0",
            "average_price": "1,192.26",
            "side": "S",
            "color": "#FFFFFF",
        }
    )

    assert status.order_id == "1799796559"
    assert (status.total_size, status.filled_quantity, status.average_price) == (5, 5, 1192.26)
    assert status.is_done
    assert status.model_extra == {"color": "#FFFFFF"}


def test_balances_and_option_rows() -> None:
    balances = AccountBalances.from_json({"netLiquidationValue": 1290490.0, "SMA": "368,538"})
    assert (balances.net_liquidation_value, balances.sma) == (1290490.0, 368538.0)

    row = OptionChainRow.from_json(
        {
            "conid": 700001,
            "ticker": "AAPL",
            "right": "C",
            "strike": "192.5",
            "maturityDate": "20250117",
        }
    )
    assert (row.symbol, row.strike, row.maturity) == ("AAPL", 192.5, "20250117")


THE_19 = [
    "tickle", "auth_status", "select_account", "get_accounts", "get_subaccounts",
    "get_summary", "get_ledger", "get_positions", "get_market_snapshot",
    "get_historical_data", "search_contract", "get_contract_details", "get_orders",
    "get_filled_orders", "place_order", "modify_order", "cancel_order", "reply_to_order",
    "suppress_messages",
]  # fmt: skip


def _described(annotation: Any) -> bool:
    """A TypedDict, or a list/dict whose values are (described by) one."""
    if typing.is_typeddict(annotation):
        return True
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    return origin in (list, dict) and _described(args[-1])


def test_every_method_is_annotated_with_a_typeddict_of_the_gateways_json() -> None:
    public = [
        name
        for name, member in inspect.getmembers(IbkrClient, inspect.isfunction)
        if not name.startswith("_") and name not in {"close", "request", "stream", "on_stream_gap"}
    ]
    namespace = {**vars(shapes), **vars(typing)}
    undescribed = [
        name
        for name in public
        if not _described(get_type_hints(getattr(IbkrClient, name), localns=namespace)["return"])
    ]

    assert set(THE_19) <= set(public)
    assert undescribed == []
