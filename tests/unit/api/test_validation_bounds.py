"""Ids as IBKR issues them and numbers within bounds: anything else is refused unsent.

A worker that pastes ``..;`` into an account id must not reach ``/portfolio/..;/summary``,
and ``conid=10**5000`` must be a refused argument, not a ``ValueError`` from ``int`` or an
``OverflowError`` from ``float`` deep inside the client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses

from ibkr_api import IbkrClient, InvalidRequestError
from ibkr_session import ManualClock
from tests.conftest import MARKET_OPEN

Call = Callable[[IbkrClient], Any]


@pytest.fixture
def client() -> Iterator[IbkrClient]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        ibkr = IbkrClient(clock=ManualClock(MARKET_OPEN), retry_attempts=1)
        yield ibkr
        assert len(mock.calls) == 0  # nothing was sent, not even a probe


SNEAKY_IDS = [
    "..;",
    ".;",
    "..",
    ".",
    "U1;",
    "U1.",
    "U1234567;x",
    "u1234567",
    "U1%2e",
    "\uff11\uff12",
]


@pytest.mark.parametrize("bad", SNEAKY_IDS)
@pytest.mark.parametrize(
    "call",
    [
        lambda c, bad: c.get_summary(bad),
        lambda c, bad: c.get_ledger(bad),
        lambda c, bad: c.get_positions(bad),
        lambda c, bad: c.select_account(bad),
        lambda c, bad: c.get_filled_orders(bad),
        lambda c, bad: c.place_order(bad, 265598, "BUY", 1),
        lambda c, bad: c.cancel_order(bad, "1234"),
    ],
    ids=["summary", "ledger", "positions", "select", "filled", "place", "cancel"],
)
def test_account_ids_must_look_like_ibkrs(
    client: IbkrClient, call: Callable[[IbkrClient, str], Any], bad: str
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        call(client, bad)
    assert caught.value.field == "account_id"


@pytest.mark.parametrize("bad", ["..;", ".;", "1.5", "-1", "0", "12a", "9" * 20, 0, -1, 2**63])
def test_order_ids_are_numbers(client: IbkrClient, bad: object) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        client.cancel_order("U1234567", bad)  # type: ignore[arg-type]
    assert caught.value.field == "order_id"
    with pytest.raises(InvalidRequestError):
        client.modify_order("U1234567", bad, 265598, "BUY", 1, price=1.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["..;", ".;", "a/b", "a.b", "-x", "x" * 65])
def test_reply_ids_are_letters_digits_and_dashes(client: IbkrClient, bad: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        client.reply_to_order(bad)
    assert caught.value.field == "message_id"


HUGE = 10**5000  # past Python's 4300-digit str/int conversion limit


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.get_historical_data(HUGE), "conid"),
        (lambda c: c.get_contract_details(HUGE), "conid"),
        (lambda c: c.get_contract_details("9" * 5000), "conid"),
        (lambda c: c.get_contract_details(2**31), "conid"),
        (lambda c: c.get_market_snapshot([265598, HUGE]), "conids"),
        (lambda c: c.get_market_snapshot(265598, fields=[HUGE]), "fields"),
        (lambda c: c.get_market_snapshot(265598, fields=["9" * 5000]), "fields"),
        (lambda c: c.get_market_snapshot(list(range(1, 20_000))), "conids"),
        (lambda c: c.place_order("U1234567", HUGE, "BUY", 1), "conid"),
        (lambda c: c.place_order("U1234567", 265598, "BUY", 10**400), "quantity"),
        (lambda c: c.place_order("U1234567", 265598, "BUY", 1e10), "quantity"),
        (lambda c: c.place_order("U1234567", 265598, "BUY", 1, "LMT", 10**400), "price"),
        (lambda c: c.place_order("U1234567", 265598, "BUY", 1, "LMT", 1e300), "price"),
        (
            lambda c: c.modify_order("U1234567", "1", 265598, "BUY", -(10**400), price=1.0),
            "quantity",
        ),
        (lambda c: c.search_contract("A" * 10_000), "symbol"),
        (lambda c: c.suppress_messages(["o" + "1" * 5000]), "message_ids"),
        (lambda c: c.get_historical_data(265598, period="9" * 5000 + "d"), "period"),
    ],
)
def test_numbers_and_strings_past_any_real_value_are_refused_unsent(
    client: IbkrClient, call: Call, field: str
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        call(client)
    assert caught.value.field == field
    assert len(str(caught.value)) < 400  # the value is described, not printed whole


@pytest.mark.parametrize("account", ["U1234567", "DU1234567", "F1234567", "DFN884096", "I123"])
def test_every_kind_of_account_id_ibkr_issues_is_accepted(account: str) -> None:
    from ibkr_api import validation as v

    assert v.validate(v.GetSummaryArgs, account_id=account).account_id == account
    assert v.validate(v.CancelOrderArgs, account_id=account, order_id=602801486).order_id == (
        "602801486"
    )
