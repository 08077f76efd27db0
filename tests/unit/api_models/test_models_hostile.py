"""The typed views read whatever a hostile gateway sends: a view or a typed error.

Integers far past a float's range, non-finite floats, wrong types at every level: a worker
using ``Quote.from_json(...)`` and friends sees an ``IbkrError``, never ``OverflowError``,
``TypeError`` or a pydantic ``ValidationError``.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibkr_api import models
from ibkr_api.models import parse_number
from ibkr_session import IbkrError

HUGE = 9 * 10**3999  # 4000 digits: JSON parses it, no float holds it

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([HUGE, -HUGE, 10**308 * 10, float("inf"), float("nan"), -1e308]),
    st.floats(),
    st.text(max_size=8),
    st.sampled_from(["C168.42", "1,300", "1.2M", "-", "N/A", "9" * 400, "1e999", "nan"]),
)
KEYS = st.sampled_from(
    ["conid", "31", "84", "86", "88", "85", "7059", "87", "_updated", "o", "c", "h", "l", "v",
     "t", "data", "orderId", "order_id", "totalSize", "price", "status", "acctId", "position",
     "mktPrice", "timestamp", "cashbalance", "authenticated", "iserver", "authStatus", "id",
     "message", "messageIds", "error", "con_id", "symbol", "accountId", "orders"]
)  # fmt: skip
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=6),
    max_leaves=12,
)

VIEWS = [
    getattr(models, name)
    for name in (
        "Quote",
        "Bar",
        "History",
        "Account",
        "Position",
        "LedgerEntry",
        "Order",
        "OrderReply",
        "AuthStatus",
        "Contract",
    )
]


def read_all(payload: Any) -> None:
    for view in VIEWS:
        for reader in ("from_json", "list_from_json"):
            with contextlib.suppress(IbkrError):
                getattr(view, reader)(payload)


@settings(max_examples=300, deadline=None)
@given(payload=JSON)
def test_any_json_is_a_view_or_a_typed_error(payload: Any) -> None:
    read_all(payload)


@pytest.mark.parametrize("value", [HUGE, -HUGE, "9" * 400, float("inf"), "1e999"])
def test_numbers_past_a_floats_range_are_refused_as_not_finite(value: object) -> None:
    with pytest.raises(ValueError, match="finite"):
        parse_number(value)


def test_a_quote_with_a_huge_last_price_is_a_typed_error() -> None:
    read_all([{"conid": HUGE, "31": HUGE, "_updated": HUGE}])
    read_all({"conid": 265598, "31": HUGE, "84": "9" * 400, "_updated": HUGE})


@pytest.mark.parametrize(
    "payload",
    [
        {"authenticated": None, "iserver": None},
        {"authenticated": True, "iserver": {"authStatus": None}},
        {"authenticated": True, "iserver": []},
    ],
)
def test_an_auth_status_with_a_broken_iserver_part_is_read_or_refused_typed(
    payload: dict[str, Any],
) -> None:
    try:
        status = models.AuthStatus.from_json(payload)
    except IbkrError:
        return
    assert status.authenticated is (payload["authenticated"] is True)
