"""Whatever JSON the gateway sends, a view either reads it or says "malformed"; no KeyError."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibkr_api.models import (
    Account,
    AuthStatus,
    Contract,
    History,
    LedgerEntry,
    Order,
    OrderReply,
    Position,
    Quote,
    parse_number,
)
from ibkr_session.errors import IbkrAPIError

# Keys the views look at, so the generated objects reach past the first check.
GATEWAY_KEYS = st.sampled_from(
    [
        "conid",
        "conidEx",
        "31",
        "84",
        "87",
        "7762",
        "_updated",
        "6509",
        "data",
        "o",
        "h",
        "l",
        "c",
        "v",
        "t",
        "orderId",
        "order_ref",
        "orders",
        "iserver",
        "authStatus",
        "authenticated",
        "competing",
        "id",
        "message",
        "messageIds",
        "error",
        "order_id",
        "accountId",
        "con_id",
        "sections",
        "timestamp",
        "cashbalance",
        "avgPrice",
        "position",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=8),
    st.sampled_from(["1,300", "C168.42", "H1", "87K", "1.2M", "0.5%", "-", "265598"]),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(GATEWAY_KEYS | st.text(max_size=5), inner, max_size=6)
    ),
    max_leaves=20,
)

BUILDERS: list[Callable[[Any], object]] = [
    Quote.from_json,
    Quote.list_from_json,
    History.from_json,
    Position.list_from_json,
    LedgerEntry.by_currency,
    Order.list_from_json,
    OrderReply.from_json,
    AuthStatus.from_json,
    Account.list_from_json,
    Contract.from_json,
]


@pytest.mark.parametrize("build", BUILDERS, ids=lambda b: b.__qualname__)
@settings(max_examples=150, deadline=None)
@given(payload=JSON)
def test_any_json_gives_a_view_or_a_malformed_error(
    build: Callable[[Any], object], payload: Any
) -> None:
    error: IbkrAPIError | None = None
    try:
        build(payload)
    except IbkrAPIError as raised:
        error = raised
    assert error is None or error.code == "malformed"


@settings(max_examples=300, deadline=None)
@given(
    number=st.floats(min_value=-1e12, max_value=1e12, allow_nan=False),
    prefix=st.sampled_from(["", "C", "H"]),
)
def test_thousands_separators_and_markers_do_not_change_the_number(
    number: float, prefix: str
) -> None:
    parsed = parse_number(f"{prefix}{number:,.4f}")
    assert parsed is not None
    assert math.isclose(parsed, round(number, 4), rel_tol=1e-12, abs_tol=1e-9)


@settings(max_examples=200, deadline=None)
@given(count=st.integers(0, 999_999), suffix=st.sampled_from(["K", "M"]))
def test_k_and_m_suffixes_scale_by_thousands_and_millions(count: int, suffix: str) -> None:
    scale = 1_000 if suffix == "K" else 1_000_000
    assert parse_number(f"{count / 10:.1f}{suffix}") == pytest.approx(count / 10 * scale)
