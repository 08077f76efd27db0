"""Each of the 19 methods: the exact request it sends, and the gateway's JSON unchanged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ibkr_api.client import MAX_POSITION_PAGES, IbkrClient
from ibkr_session import (
    IbkrAPIError,
    InvalidRequestError,
    ManualClock,
    SessionManager,
)

from .conftest import ACCOUNT, Gateway, Reply, Sent

Call = Callable[[IbkrClient], Any]

READS: list[tuple[str, Call, Sent, str]] = [
    (
        "tickle",
        lambda c: c.tickle(),
        Sent("POST", "/tickle", {}, None),
        "Session__POST-tickle",
    ),
    (
        "auth_status",
        lambda c: c.auth_status(),
        Sent("POST", "/iserver/auth/status", {}, None),
        "Session__GET-auth-status",
    ),
    (
        "get_accounts",
        lambda c: c.get_accounts(),
        Sent("GET", "/portfolio/accounts", {}, None),
        "Portfolio__GET-portfolio-accounts",
    ),
    (
        "get_subaccounts",
        lambda c: c.get_subaccounts(),
        Sent("GET", "/portfolio/subaccounts", {}, None),
        "Portfolio__GET-portfolio-subaccounts",
    ),
    (
        "get_historical_data",
        lambda c: c.get_historical_data(conid=756733, period="1d", bar="1min"),
        Sent(
            "GET",
            "/iserver/marketdata/history",
            {"conid": "756733", "period": "1d", "bar": "1min", "outsideRth": "false"},
            None,
        ),
        "MarketData__GET-history",
    ),
    (
        "search_contract",
        lambda c: c.search_contract("AAPL", "stk"),
        Sent("GET", "/iserver/secdef/search", {"symbol": "AAPL", "secType": "STK"}, None),
        "Contracts__POST-secdef-search",
    ),
    (
        "get_contract_details",
        lambda c: c.get_contract_details("756733"),
        Sent("GET", "/iserver/contract/756733/info", {}, None),
        "Contracts__GET-contract-info",
    ),
    (
        "get_orders",
        lambda c: c.get_orders(),
        Sent("GET", "/iserver/account/orders", {}, None),
        "Orders__GET-live-orders",
    ),
    (
        "get_filled_orders",
        lambda c: c.get_filled_orders(ACCOUNT),
        Sent("GET", "/iserver/account/orders", {"filters": "filled", "accountId": ACCOUNT}, None),
        "Orders__GET-live-orders",
    ),
    (
        "cancel_order",
        lambda c: c.cancel_order(ACCOUNT, 602801486),
        Sent("DELETE", f"/iserver/account/{ACCOUNT}/order/602801486", {}, None),
        "Orders__DELETE-cancel-order",
    ),
    (
        "suppress_messages",
        lambda c: c.suppress_messages(["o163", "o451"]),
        Sent("POST", "/iserver/questions/suppress", {}, {"messageIds": ["o163", "o451"]}),
        "Session__POST-suppress",
    ),
    (
        "select_account",
        lambda c: c.select_account(ACCOUNT),
        Sent("POST", "/iserver/account", {}, {"acctId": ACCOUNT}),
        "Accounts__POST-switch-account",
    ),
    (
        "reply_to_order",
        lambda c: c.reply_to_order("test-reply-id-001", confirmed=True),
        Sent("POST", "/iserver/reply/test-reply-id-001", {}, {"confirmed": True}),
        "Orders__POST-reply-submitted",
    ),
]


@pytest.mark.parametrize(("name", "call", "request_sent", "stem"), READS, ids=[r[0] for r in READS])
def test_method_sends_exactly_its_request_and_returns_the_recording(
    client: IbkrClient, gateway: Gateway, name: str, call: Call, request_sent: Sent, stem: str
) -> None:
    body = gateway.body(stem)
    gateway.answer(request_sent.method, request_sent.path, body)

    assert call(client) == body
    # auth/status is not guarded, so no probe precedes it: the one request is the call.
    assert gateway.sent(include_session=name == "auth_status") == [request_sent]


@pytest.mark.parametrize(
    ("name", "path", "stem"),
    [
        ("get_summary", f"/portfolio/{ACCOUNT}/summary", "Portfolio__GET-portfolio-summary"),
        ("get_ledger", f"/portfolio/{ACCOUNT}/ledger", "Portfolio__GET-portfolio-ledger"),
        (
            "get_positions",
            f"/portfolio/{ACCOUNT}/positions/0",
            "Portfolio__GET-portfolio-positions-page0",
        ),
    ],
)
def test_account_reads_ask_portfolio_accounts_once_first(
    client: IbkrClient, gateway: Gateway, name: str, path: str, stem: str
) -> None:
    body = gateway.body(stem)
    gateway.answer("GET", "/portfolio/accounts", gateway.body("Portfolio__GET-portfolio-accounts"))
    gateway.answer("GET", path, body)

    method = getattr(client, name)
    assert method(ACCOUNT) == body
    assert method(ACCOUNT) == body
    assert gateway.paths() == ["GET /portfolio/accounts", f"GET {path}", f"GET {path}"]


def test_positions_are_read_page_by_page_until_a_short_page(
    client: IbkrClient, gateway: Gateway
) -> None:
    row = gateway.body("Portfolio__GET-portfolio-positions-page0")[0]
    page0 = [{**row, "conid": n} for n in range(100)]
    page1 = [{**row, "conid": n} for n in range(100, 103)]
    gateway.answer("GET", "/portfolio/accounts", gateway.body("Portfolio__GET-portfolio-accounts"))
    client.get_accounts()
    gateway.answer("GET", f"/portfolio/{ACCOUNT}/positions/0", page0)
    gateway.answer("GET", f"/portfolio/{ACCOUNT}/positions/1", page1)

    positions = client.get_positions(ACCOUNT)

    assert [p["conid"] for p in positions] == list(range(103))
    assert gateway.paths()[1:] == [
        f"GET /portfolio/{ACCOUNT}/positions/0",
        f"GET /portfolio/{ACCOUNT}/positions/1",
    ]


def test_a_full_last_page_is_followed_by_an_empty_one(client: IbkrClient, gateway: Gateway) -> None:
    row = gateway.body("Portfolio__GET-portfolio-positions-page0")[0]
    gateway.answer("GET", "/portfolio/accounts", gateway.body("Portfolio__GET-portfolio-accounts"))
    client.get_accounts()
    gateway.answer("GET", f"/portfolio/{ACCOUNT}/positions/0", [row] * 100)
    gateway.answer(
        "GET",
        f"/portfolio/{ACCOUNT}/positions/1",
        gateway.body("Portfolio__GET-portfolio-positions-empty"),
    )

    assert len(client.get_positions(ACCOUNT)) == 100
    assert len(gateway.paths()) == 3


def test_history_sends_outside_rth_as_the_gateway_spells_it(
    client: IbkrClient, gateway: Gateway
) -> None:
    gateway.answer("GET", "/iserver/marketdata/history", gateway.body("MarketData__GET-history"))

    client.get_historical_data(265598, period="1w", bar="1h", outside_rth=True)

    assert gateway.sent()[0].query == {
        "conid": "265598",
        "period": "1w",
        "bar": "1h",
        "outsideRth": "true",
    }


def test_filled_orders_without_account_send_only_the_filter(
    client: IbkrClient, gateway: Gateway
) -> None:
    gateway.answer("GET", "/iserver/account/orders", gateway.body("Orders__GET-live-orders"))

    client.get_filled_orders()

    assert gateway.sent()[0].query == {"filters": "filled"}


def test_suppressed_ids_are_handed_to_the_session_for_re_auth(
    client: IbkrClient, gateway: Gateway
) -> None:
    gateway.answer("POST", "/iserver/questions/suppress", gateway.body("Session__POST-suppress"))
    client.suppress_messages(["o163"])
    # A 401 ends the brokerage session; the same call recovers, re-suppresses, re-sends.
    gateway.answer("GET", "/iserver/contract/8314/info", Reply(401), {"con_id": 8314})
    assert client.get_contract_details(8314) == {"con_id": 8314}
    assert gateway.paths()[-2:] == [
        "POST /iserver/questions/suppress",
        "GET /iserver/contract/8314/info",
    ]
    assert gateway.sent()[-2].body == {"messageIds": ["o163"]}


BAD_CALLS: list[tuple[str, Call, str]] = [
    ("empty account", lambda c: c.get_summary(""), "account_id"),
    ("account with slash", lambda c: c.get_ledger("U1/../x"), "account_id"),
    ("negative conid", lambda c: c.get_contract_details(-5), "conid"),
    ("bad period", lambda c: c.get_historical_data(265598, period="2x"), "period"),
    ("bad bar", lambda c: c.get_historical_data(265598, bar="7min"), "bar"),
    ("bad sec type", lambda c: c.search_contract("AAPL", "XYZ"), "sec_type"),
    ("bad side", lambda c: c.place_order(ACCOUNT, 265598, "HOLD", 1), "side"),
    ("zero quantity", lambda c: c.place_order(ACCOUNT, 265598, "BUY", 0), "quantity"),
    ("LMT without price", lambda c: c.place_order(ACCOUNT, 265598, "BUY", 1, "LMT"), "price"),
    ("bad tif", lambda c: c.place_order(ACCOUNT, 265598, "BUY", 1, tif="NEVER"), "tif"),
    ("long coid", lambda c: c.place_order(ACCOUNT, 265598, "BUY", 1, coid="x" * 65), "coid"),
    ("modify no price", lambda c: c.modify_order(ACCOUNT, "1", 265598, "BUY", 1), "price"),
    ("cancel bad id", lambda c: c.cancel_order(ACCOUNT, "1/2"), "order_id"),
    ("reply not bool", lambda c: c.reply_to_order("abc", confirmed="yes"), "confirmed"),  # type: ignore[arg-type]
    ("suppress empty", lambda c: c.suppress_messages([]), "message_ids"),
    ("snapshot no conid", lambda c: c.get_market_snapshot([]), "conids"),
    ("snapshot bad field", lambda c: c.get_market_snapshot(265598, ["last"]), "fields"),
    ("select empty", lambda c: c.select_account(" "), "account_id"),
]


@pytest.mark.parametrize(("case", "call", "field"), BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
def test_bad_input_is_refused_before_anything_is_sent(
    client: IbkrClient, gateway: Gateway, case: str, call: Call, field: str
) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        call(client)

    assert raised.value.field == field
    assert gateway.sent(include_session=True) == []


def test_a_bad_conid_past_the_first_hundred_is_named_by_its_own_index(
    client: IbkrClient, gateway: Gateway
) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        client.get_market_snapshot([265598] * 150 + [0])

    assert "item 150 (0)" in str(raised.value)
    assert gateway.sent(include_session=True) == []


def test_a_given_manager_stays_open_and_conflicting_options_are_refused(
    gateway: Gateway, clock: ManualClock
) -> None:
    manager = SessionManager(clock=clock)
    with IbkrClient(session=manager) as borrowed:
        assert borrowed.session is manager
    gateway.answer("POST", "/tickle", gateway.body("Session__POST-tickle"))
    assert manager.request("POST", "/tickle") is not None

    with pytest.raises(InvalidRequestError):
        IbkrClient("https://127.0.0.1:5000", session=manager)
    with pytest.raises(InvalidRequestError):
        IbkrClient(session=manager, clock=clock)
    with pytest.raises(InvalidRequestError):
        IbkrClient(auto_confirm=["are you sure?"], clock=clock)


def test_paging_stops_at_a_bound_when_every_page_is_full(
    client: IbkrClient, gateway: Gateway
) -> None:
    row = gateway.body("Portfolio__GET-portfolio-positions-page0")[0]
    gateway.answer("GET", "/portfolio/accounts", gateway.body("Portfolio__GET-portfolio-accounts"))
    for page in range(MAX_POSITION_PAGES + 1):
        gateway.answer("GET", f"/portfolio/{ACCOUNT}/positions/{page}", [row] * 100)

    assert len(client.get_positions(ACCOUNT)) == 100 * MAX_POSITION_PAGES
    assert len(gateway.sent()) == 1 + MAX_POSITION_PAGES


def test_an_answer_of_the_wrong_shape_is_a_typed_error(
    client: IbkrClient, gateway: Gateway
) -> None:
    gateway.answer("GET", "/iserver/marketdata/snapshot", {"unexpected": "object"})

    with pytest.raises(IbkrAPIError, match="not a list"):
        client.get_market_snapshot(265598, [31])
