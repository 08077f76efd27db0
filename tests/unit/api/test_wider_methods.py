"""The methods beyond the 19 (issue 13): the exact request each sends, the gateway's JSON
returned unchanged, bad input refused unsent, retries only where repeating is harmless."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from ibkr_api.client import IbkrClient
from ibkr_session import InvalidRequestError, ManualClock, RateLimitedError
from ibkr_session.errors import GatewayUnavailableError, GatewayUnreachableError

from .conftest import ACCOUNT, Gateway, Reply, Sent

Call = Callable[[IbkrClient], Any]

PNL = {"upnl": {f"{ACCOUNT}.Core": {"rowType": 1, "dpl": 15.7, "nl": 10000.0, "upl": 607.0}}}
ORDER_STATUS = {
    "order_id": 1799796559,
    "conid": 265598,
    "symbol": "AAPL",
    "side": "S",
    "total_size": "5.0",
    "cum_fill": "5.0",
    "order_status": "Filled",
    "average_price": "192.26",
}
WHATIF = {
    "amount": {"amount": "1,923.60 USD", "commission": "1 USD", "total": "1,924.60 USD"},
    "equity": {"current": "1,000,000", "change": "-1", "after": "999,999"},
    "warn": None,
    "error": None,
}
STRIKES = {"call": [185.0, 190.0, 195.0, 200.0, 205.0], "put": [185.0, 190.0, 195.0, 200.0]}
SCANNER_PARAMS = {
    "scan_type_list": [{"display_name": "Top % Gainers", "code": "TOP_PERC_GAIN"}],
    "instrument_list": [{"display_name": "US Stocks", "type": "STK", "filters": []}],
    "filter_list": [],
    "location_tree": [],
}
PERFORMANCE = {"currencyType": "base", "rc": 0, "nav": {"data": []}, "pm": "TWR"}

WIDER: list[tuple[str, Call, Sent, Any]] = [
    (
        "get_order_status",
        lambda c: c.get_order_status(1799796559),
        Sent("GET", "/iserver/account/order/status/1799796559", {}, None),
        ORDER_STATUS,
    ),
    (
        "get_trades",
        lambda c: c.get_trades(days=3, account_id=ACCOUNT),
        Sent("GET", "/iserver/account/trades", {"days": "3", "accountId": ACCOUNT}, None),
        "Orders__GET-trades",
    ),
    (
        "get_trades_today",
        lambda c: c.get_trades(),
        Sent("GET", "/iserver/account/trades", {}, None),
        "Orders__GET-trades",
    ),
    (
        "get_pnl",
        lambda c: c.get_pnl(),
        Sent("GET", "/iserver/account/pnl/partitioned", {}, None),
        PNL,
    ),
    (
        "preview_order",
        lambda c: c.preview_order(ACCOUNT, "265598", "buy", 10, "LMT", 192.36, "gtc"),
        Sent(
            "POST",
            f"/iserver/account/{ACCOUNT}/orders/whatif",
            {},
            {
                "orders": [
                    {
                        "acctId": ACCOUNT,
                        "conid": 265598,
                        "side": "BUY",
                        "quantity": 10,
                        "orderType": "LMT",
                        "price": 192.36,
                        "tif": "GTC",
                        "outsideRTH": False,
                    }
                ]
            },
        ),
        WHATIF,
    ),
    (
        "reset_suppressed_messages",
        lambda c: c.reset_suppressed_messages(),
        Sent("POST", "/iserver/questions/suppress/reset", {}, None),
        "Session__POST-suppress-reset",
    ),
    (
        "get_account_balances",
        lambda c: c.get_account_balances(ACCOUNT),
        Sent("GET", f"/iserver/account/{ACCOUNT}/summary", {}, None),
        {"balance": 825903.0, "netLiquidationValue": 1290490.0, "cashBalances": []},
    ),
    (
        "get_account_balances_page",
        lambda c: c.get_account_balances(ACCOUNT, page="Margins"),
        Sent("GET", f"/iserver/account/{ACCOUNT}/summary/margins", {}, None),
        {"total": {"RegT_margin": "1,000"}},
    ),
    (
        "invalidate_positions",
        lambda c: c.invalidate_positions(ACCOUNT),
        Sent("POST", f"/portfolio/{ACCOUNT}/positions/invalidate", {}, None),
        {"message": "success"},
    ),
    (
        "search_stocks",
        lambda c: c.search_stocks(["aapl", "IBM "]),
        Sent("GET", "/trsrv/stocks", {"symbols": "AAPL,IBM"}, None),
        {"AAPL": [{"name": "APPLE INC", "assetClass": "STK", "contracts": []}], "IBM": []},
    ),
    (
        "search_futures",
        lambda c: c.search_futures("ES", exchange="CME"),
        Sent("GET", "/trsrv/futures", {"symbols": "ES", "exchange": "CME"}, None),
        {"ES": [{"symbol": "ES", "conid": 495512557, "expirationDate": 20241220}]},
    ),
    (
        "get_trading_schedule",
        lambda c: c.get_trading_schedule("stk", "IBM", "NYSE"),
        Sent(
            "GET",
            "/trsrv/secdef/schedule",
            {"assetClass": "STK", "symbol": "IBM", "exchange": "NYSE"},
            None,
        ),
        [{"id": "p101781", "exchange": "NYSE", "timezone": "America/New_York", "schedules": []}],
    ),
    (
        "get_option_strikes",
        lambda c: c.get_option_strikes(265598, "jan25"),
        Sent(
            "GET",
            "/iserver/secdef/strikes",
            {"conid": "265598", "sectype": "OPT", "month": "JAN25", "exchange": "SMART"},
            None,
        ),
        STRIKES,
    ),
    (
        "get_secdef_info",
        lambda c: c.get_secdef_info(265598, "OPT", "JAN25", 192.5, "call"),
        Sent(
            "GET",
            "/iserver/secdef/info",
            {
                "conid": "265598",
                "sectype": "OPT",
                "month": "JAN25",
                "strike": "192.5",
                "right": "C",
            },
            None,
        ),
        [{"conid": 700000001, "right": "C", "strike": 192.5, "maturityDate": "20250117"}],
    ),
    (
        "get_contract_rules",
        lambda c: c.get_contract_rules("265598", is_buy=False),
        Sent("POST", "/iserver/contract/rules", {}, {"conid": 265598, "isBuy": False}),
        {"orderTypes": ["limit", "market"], "increment": 0.01, "error": None},
    ),
    (
        "unsubscribe_all_market_data",
        lambda c: c.unsubscribe_all_market_data(),
        Sent("GET", "/iserver/marketdata/unsubscribeall", {}, None),
        {"unsubscribed": True},
    ),
    (
        "run_scanner",
        lambda c: c.run_scanner("STK", "TOP_PERC_GAIN", "STK.US.MAJOR", [("priceAbove", 5)]),
        Sent(
            "POST",
            "/iserver/scanner/run",
            {},
            {
                "instrument": "STK",
                "type": "TOP_PERC_GAIN",
                "location": "STK.US.MAJOR",
                "filter": [{"code": "priceAbove", "value": 5}],
            },
        ),
        {"contracts": [{"con_id": 265598, "symbol": "AAPL"}], "scan_data_column_name": "Chg%"},
    ),
    (
        "get_alerts",
        lambda c: c.get_alerts(ACCOUNT),
        Sent("GET", f"/iserver/account/{ACCOUNT}/alerts", {}, None),
        [{"order_id": 9876543210, "account": ACCOUNT, "alert_name": "AAPL", "alert_active": 1}],
    ),
    (
        "create_alert",
        lambda c: c.create_alert(
            ACCOUNT,
            "AAPL above 200",
            "AAPL crossed 200",
            [{"conidex": "265598@SMART", "type": 1, "operator": ">=", "value": "200"}],
            show_popup=True,
        ),
        Sent(
            "POST",
            f"/iserver/account/{ACCOUNT}/alert",
            {},
            {
                "alertName": "AAPL above 200",
                "alertMessage": "AAPL crossed 200",
                "alertRepeatable": 0,
                "outsideRth": 0,
                "sendMessage": 0,
                "showPopup": 1,
                "iTWSOrdersOnly": 0,
                "tif": "GTC",
                "conditions": [
                    {"conidex": "265598@SMART", "type": 1, "operator": ">=", "value": "200"}
                ],
            },
        ),
        {"request_id": None, "order_id": 1408549184, "success": True, "text": "Submitted"},
    ),
    (
        "delete_alert",
        lambda c: c.delete_alert(ACCOUNT, 9876543210),
        Sent("DELETE", f"/iserver/account/{ACCOUNT}/alert/9876543210", {}, {}),
        {
            "request_id": None,
            "order_id": 9876543210,
            "success": True,
            "text": "Request was submitted",
        },
    ),
    (
        "get_watchlists",
        lambda c: c.get_watchlists(),
        Sent("GET", "/iserver/watchlists", {"SC": "USER_WATCHLIST"}, None),
        {"data": {"user_lists": [{"id": "1234", "name": "Test"}]}, "action": "content", "MID": "2"},
    ),
    (
        "create_watchlist",
        lambda c: c.create_watchlist(1234, "Tech", [265598, "8314"]),
        Sent(
            "POST",
            "/iserver/watchlist",
            {},
            {"id": "1234", "name": "Tech", "rows": [{"C": 265598}, {"C": 8314}]},
        ),
        {"id": "1234", "hash": "1702581306241", "name": "Tech", "readOnly": False},
    ),
    (
        "delete_watchlist",
        lambda c: c.delete_watchlist("1234"),
        Sent("DELETE", "/iserver/watchlist", {"id": "1234"}, None),
        {"data": {"deleted": "1234"}, "action": "context", "MID": "2"},
    ),
    (
        "get_performance",
        lambda c: c.get_performance(ACCOUNT, "ytd"),
        Sent("POST", "/pa/performance", {}, {"acctIds": [ACCOUNT], "period": "YTD"}),
        PERFORMANCE,
    ),
    (
        "get_transactions",
        lambda c: c.get_transactions([ACCOUNT], 265598, "usd", 30),
        Sent(
            "POST",
            "/pa/transactions",
            {},
            {"acctIds": [ACCOUNT], "conids": [265598], "currency": "USD", "days": 30},
        ),
        {"rc": 0, "nd": 4, "currency": "USD", "transactions": []},
    ),
    (
        "get_notifications",
        lambda c: c.get_notifications(),
        Sent("GET", "/fyi/notifications", {"max": "10"}, None),
        [{"R": "0", "D": "1702580846.0", "MS": "FYI: AAPL", "MD": "...", "ID": "2023", "HT": 0}],
    ),
    (
        "validate_sso",
        lambda c: c.validate_sso(),
        Sent("GET", "/sso/validate", {}, None),
        {"USER_ID": 123456789, "RESULT": True, "EXPIRES": 415890},
    ),
    ("logout", lambda c: c.logout(), Sent("POST", "/logout", {}, None), {"status": True}),
    (
        "request",
        lambda c: c.request("GET", "/fyi/unreadnumber"),
        Sent("GET", "/fyi/unreadnumber", {}, None),
        {"BN": 4},
    ),
    (
        "request_with_params",
        lambda c: c.request("get", "/iserver/account/orders", params={"force": True}),
        Sent("GET", "/iserver/account/orders", {"force": "true"}, None),
        {"orders": [], "snapshot": False},
    ),
]


@pytest.mark.parametrize(("name", "call", "request_sent", "body"), WIDER, ids=[w[0] for w in WIDER])
def test_each_method_sends_exactly_its_request_and_returns_the_json_unchanged(
    client: IbkrClient, gateway: Gateway, name: str, call: Call, request_sent: Sent, body: Any
) -> None:
    if isinstance(body, str):
        body = gateway.body(body)
    gateway.answer(request_sent.method, request_sent.path, body)

    answer = call(client)

    assert answer == body
    assert gateway.sent() == [request_sent]


@pytest.mark.parametrize(
    ("call", "path", "body"),
    [
        (
            lambda c: c.get_position(ACCOUNT, "265598"),
            f"/portfolio/{ACCOUNT}/position/265598",
            [{"acctId": ACCOUNT, "conid": 265598, "position": 10.0}],
        ),
        (
            lambda c: c.get_allocation(ACCOUNT),
            f"/portfolio/{ACCOUNT}/allocation",
            {"assetClass": {"long": {"STK": 1000.0}, "short": {}}},
        ),
    ],
    ids=["get_position", "get_allocation"],
)
def test_portfolio_reads_ask_the_accounts_list_first_once(
    client: IbkrClient, gateway: Gateway, call: Call, path: str, body: Any
) -> None:
    gateway.answer("GET", "/portfolio/accounts", gateway.body("Portfolio__GET-portfolio-accounts"))
    gateway.answer("GET", path, body)

    assert call(client) == body
    assert call(client) == body
    assert gateway.paths() == ["GET /portfolio/accounts", f"GET {path}", f"GET {path}"]


def test_brokerage_accounts_are_read_as_the_gateway_lists_them(
    client: IbkrClient, gateway: Gateway
) -> None:
    body = gateway.body("Accounts__GET-iserver-accounts")

    assert client.get_brokerage_accounts() == body
    assert gateway.sent(include_session=True)[-1].path == "/iserver/accounts"


# --- splitting, bounding, caching ---------------------------------------------------------


def test_secdef_is_split_into_requests_of_200_and_joined_in_order(
    client: IbkrClient, gateway: Gateway
) -> None:
    conids = list(range(1, 451))
    gateway.answer(
        "GET",
        "/trsrv/secdef",
        {"secdef": [{"conid": n} for n in conids[:200]]},
        {"secdef": [{"conid": n} for n in conids[200:400]]},
        {"secdef": [{"conid": n} for n in conids[400:]]},
    )

    answer = client.get_secdef(conids)

    assert [row["conid"] for row in answer["secdef"]] == conids
    sent = [r.query["conids"].split(",") for r in gateway.sent()]
    assert [len(chunk) for chunk in sent] == [200, 200, 50]
    assert sent[2][-1] == "450"


def test_option_chain_asks_about_the_strikes_nearest_the_price_and_lists_their_rows(
    client: IbkrClient, gateway: Gateway
) -> None:
    gateway.answer("GET", "/iserver/secdef/strikes", STRIKES)
    rows = {
        (strike, right): [{"conid": int(strike * 10) + (right == "P"), "right": right}]
        for strike in (185.0, 190.0, 195.0, 200.0, 205.0)
        for right in "CP"
    }

    gateway.answer(
        "GET", "/iserver/secdef/info", rows[(200.0, "C")], rows[(200.0, "P")], rows[(205.0, "C")]
    )

    chain = client.get_option_chain(265598, "JAN25", strikes_near=203.0, max_strikes=2)

    infos = [r for r in gateway.sent() if r.path == "/iserver/secdef/info"]
    assert [(r.query["strike"], r.query["right"]) for r in infos] == [
        ("200", "C"),
        ("200", "P"),
        ("205", "C"),  # no 205 put is listed: not asked about
    ]
    assert chain == [*rows[(200.0, "C")], *rows[(200.0, "P")], *rows[(205.0, "C")]]


def test_option_chain_without_a_price_takes_the_middle_strikes(
    client: IbkrClient, gateway: Gateway
) -> None:
    gateway.answer("GET", "/iserver/secdef/strikes", {"call": [1.0, 2.0, 3.0, 4.0, 5.0], "put": []})
    gateway.answer("GET", "/iserver/secdef/info", [{"conid": 1}])

    client.get_option_chain(265598, "JAN25", max_strikes=3)

    strikes = [r.query["strike"] for r in gateway.sent() if r.path == "/iserver/secdef/info"]
    assert strikes == ["2", "3", "4"]


def test_unsubscribing_makes_the_next_snapshot_sit_out_the_pre_flight_again(
    client: IbkrClient, gateway: Gateway
) -> None:
    quote = {"conid": 265598, "31": "168.42"}
    gateway.answer("GET", "/iserver/marketdata/snapshot", [quote])
    gateway.answer("POST", "/iserver/marketdata/unsubscribe", {"success": True})
    client.get_market_snapshot(265598, [31])

    assert client.unsubscribe_market_data([265598]) == [{"success": True}]
    gateway.answer(
        "GET", "/iserver/marketdata/snapshot", [{"conid": 265598, "conidEx": "265598"}], [quote]
    )
    assert client.get_market_snapshot(265598, [31]) == [quote]

    assert gateway.paths() == [
        "GET /iserver/marketdata/snapshot",
        "POST /iserver/marketdata/unsubscribe",
        "GET /iserver/marketdata/snapshot",
        "GET /iserver/marketdata/snapshot",
    ]
    assert gateway.sent()[1].body == {"conid": 265598}


def test_scanner_params_are_cached_for_the_rows_fifteen_minutes(
    client: IbkrClient, gateway: Gateway, clock: ManualClock
) -> None:
    gateway.answer("GET", "/iserver/scanner/params", SCANNER_PARAMS)

    first = client.get_scanner_params()
    first["scan_type_list"].clear()  # a caller changing its copy changes nobody else's
    assert client.get_scanner_params() == SCANNER_PARAMS
    clock.advance(15 * 60 / 0.9 + 1)
    assert client.get_scanner_params() == SCANNER_PARAMS

    assert gateway.paths() == ["GET /iserver/scanner/params"] * 2


def test_scanner_params_after_a_failure_say_when_to_ask_again_without_sending(
    client: IbkrClient, gateway: Gateway, clock: ManualClock
) -> None:
    gateway.answer("GET", "/iserver/scanner/params", Reply(503), SCANNER_PARAMS)
    with pytest.raises(GatewayUnavailableError):
        client.get_scanner_params()
    clock.advance(60)

    with pytest.raises(RateLimitedError) as raised:
        client.get_scanner_params()

    assert raised.value.retry_after == pytest.approx(15 * 60 / 0.9 - 60)
    assert gateway.paths() == ["GET /iserver/scanner/params"]


def test_performance_twice_in_fifteen_minutes_is_refused_at_once_unsent(
    client: IbkrClient, gateway: Gateway, clock: ManualClock
) -> None:
    gateway.answer("POST", "/pa/performance", PERFORMANCE)
    client.get_performance([ACCOUNT])
    clock.advance(100)
    started = clock.monotonic()

    with pytest.raises(RateLimitedError) as raised:
        client.get_performance([ACCOUNT])

    assert clock.monotonic() == started  # refused, not waited for
    assert raised.value.retry_after == pytest.approx(15 * 60 / 0.9 - 100)
    assert gateway.paths() == ["POST /pa/performance"]
    clock.advance(raised.value.retry_after)
    assert client.get_performance([ACCOUNT]) == PERFORMANCE
    assert gateway.paths() == ["POST /pa/performance"] * 2


def test_each_pa_endpoint_has_its_own_fifteen_minutes(client: IbkrClient, gateway: Gateway) -> None:
    gateway.answer("POST", "/pa/performance", PERFORMANCE)
    gateway.answer("POST", "/pa/transactions", {"rc": 0})

    client.get_performance([ACCOUNT])
    client.get_transactions([ACCOUNT], [265598])
    with pytest.raises(RateLimitedError):
        client.request("POST", "/pa/transactions", json={"acctIds": [ACCOUNT]})

    assert gateway.paths() == ["POST /pa/performance", "POST /pa/transactions"]


def test_a_pa_call_after_a_failed_one_never_blocks_the_worker(
    client: IbkrClient, gateway: Gateway, clock: ManualClock
) -> None:
    gateway.answer(
        "POST", "/pa/performance", requests.exceptions.ConnectTimeout("no connect"), PERFORMANCE
    )
    with pytest.raises(GatewayUnreachableError):
        client.get_performance([ACCOUNT])
    started = clock.monotonic()

    with pytest.raises(RateLimitedError) as raised:
        client.get_performance([ACCOUNT])

    assert clock.monotonic() == started
    assert 0 < raised.value.retry_after <= 15 * 60 / 0.9 + 1
    assert gateway.paths() == ["POST /pa/performance"]


# --- retries by kind ------------------------------------------------------------------------


def test_reads_retry_on_a_gateway_failure(client: IbkrClient, gateway: Gateway) -> None:
    gateway.answer("GET", "/iserver/account/order/status/1", Reply(503), ORDER_STATUS)

    assert client.get_order_status(1) == ORDER_STATUS
    assert len(gateway.sent()) == 2


def test_a_preview_is_retried_like_a_read_and_never_carries_a_coid(
    client: IbkrClient, gateway: Gateway
) -> None:
    path = f"/iserver/account/{ACCOUNT}/orders/whatif"
    gateway.answer("POST", path, requests.exceptions.ReadTimeout("lost"), WHATIF)

    assert client.preview_order(ACCOUNT, 265598, "BUY", 1) == WHATIF
    assert [r.path for r in gateway.sent()] == [path, path]
    assert all("cOID" not in r.body["orders"][0] for r in gateway.sent())


@pytest.mark.parametrize(
    ("call", "method", "path"),
    [
        (
            lambda c: c.create_alert(ACCOUNT, "a", "b", [{"type": 1}]),
            "POST",
            f"/iserver/account/{ACCOUNT}/alert",
        ),
        (lambda c: c.create_watchlist(1, "w", [265598]), "POST", "/iserver/watchlist"),
        (lambda c: c.logout(), "POST", "/logout"),
        (lambda c: c.request("POST", "/iserver/some/new/thing"), "POST", "/iserver/some/new/thing"),
    ],
    ids=["create_alert", "create_watchlist", "logout", "request_unknown_post"],
)
def test_changes_are_sent_once_and_never_retried(
    client: IbkrClient, gateway: Gateway, call: Call, method: str, path: str
) -> None:
    gateway.answer(method, path, requests.exceptions.ReadTimeout("lost"), {"ok": True})

    with pytest.raises(GatewayUnreachableError):
        call(client)

    assert [r.path for r in gateway.sent()] == [path]


def test_deletions_retry_like_cancels(client: IbkrClient, gateway: Gateway) -> None:
    path = f"/iserver/account/{ACCOUNT}/alert/42"
    gateway.answer("DELETE", path, requests.exceptions.ReadTimeout("lost"), {"success": True})

    assert client.delete_alert(ACCOUNT, "42") == {"success": True}
    assert [r.path for r in gateway.sent()] == [path, path]


# --- bad input ----------------------------------------------------------------------------

BAD: list[tuple[str, Call, str]] = [
    ("order status id with slash", lambda c: c.get_order_status("1/2"), "order_id"),
    ("trades over a week", lambda c: c.get_trades(days=8), "days"),
    ("trades bad account", lambda c: c.get_trades(account_id="U1 2"), "account_id"),
    ("preview LMT no price", lambda c: c.preview_order(ACCOUNT, 1, "BUY", 1, "LMT"), "price"),
    ("balances bad page", lambda c: c.get_account_balances(ACCOUNT, "ledger"), "page"),
    ("position bad conid", lambda c: c.get_position(ACCOUNT, 0), "conid"),
    ("invalidate bad account", lambda c: c.invalidate_positions("../x"), "account_id"),
    ("allocation no account", lambda c: c.get_allocation(""), "account_id"),
    ("stocks comma", lambda c: c.search_stocks("AAPL,IBM"), "symbols"),
    ("futures empty", lambda c: c.search_futures([]), "symbols"),
    ("futures bad exchange", lambda c: c.search_futures("ES", "C M E"), "exchange"),
    ("secdef no conids", lambda c: c.get_secdef([]), "conids"),
    ("schedule bad class", lambda c: c.get_trading_schedule("XYZ", "IBM"), "asset_class"),
    ("strikes bad month", lambda c: c.get_option_strikes(1, "2025-01"), "month"),
    ("strikes bad sectype", lambda c: c.get_option_strikes(1, "JAN25", "STK"), "sec_type"),
    ("info option no right", lambda c: c.get_secdef_info(1, "OPT", "JAN25", 100.0), "right"),
    ("info bad strike", lambda c: c.get_secdef_info(1, "OPT", "JAN25", -1.0, "C"), "strike"),
    ("chain too many", lambda c: c.get_option_chain(1, "JAN25", max_strikes=41), "max_strikes"),
    ("chain bad near", lambda c: c.get_option_chain(1, "JAN25", strikes_near=0), "strikes_near"),
    ("rules not bool", lambda c: c.get_contract_rules(1, is_buy="yes"), "is_buy"),
    ("unsubscribe none", lambda c: c.unsubscribe_market_data([]), "conids"),
    ("scanner bad filter", lambda c: c.run_scanner("STK", "X", "Y", [("a b", 1)]), "filters"),
    ("scanner bad location", lambda c: c.run_scanner("STK", "X", "a/b"), "location"),
    ("alert no conditions", lambda c: c.create_alert(ACCOUNT, "a", "b", []), "conditions"),
    (
        "alert GTD no expiry",
        lambda c: c.create_alert(ACCOUNT, "a", "b", [{"type": 1}], tif="GTD"),
        "expire_time",
    ),
    ("delete alert bad id", lambda c: c.delete_alert(ACCOUNT, "a b"), "alert_id"),
    ("watchlist bad id", lambda c: c.create_watchlist("abc", "w", [1]), "watchlist_id"),
    ("delete watchlist bad id", lambda c: c.delete_watchlist("1;2"), "watchlist_id"),
    ("performance bad period", lambda c: c.get_performance(ACCOUNT, "2W"), "period"),
    ("performance no account", lambda c: c.get_performance([]), "account_ids"),
    ("transactions bad currency", lambda c: c.get_transactions(ACCOUNT, 1, "US"), "currency"),
    ("transactions zero days", lambda c: c.get_transactions(ACCOUNT, 1, days=0), "days"),
    ("notifications too many", lambda c: c.get_notifications(1000), "limit"),
    ("request bad method", lambda c: c.request("PATCH", "/x"), "method"),
    ("request absolute url", lambda c: c.request("GET", "https://evil/x"), "path"),
    ("request dot dot", lambda c: c.request("GET", "/iserver/../sso/validate"), "path"),
    ("request query in path", lambda c: c.request("GET", "/fyi/x?y=1"), "path"),
    ("request bad params", lambda c: c.request("GET", "/fyi/x", params={"a": [1]}), "params"),
    (
        "request NaN body",
        lambda c: c.request("POST", "/fyi/x", json={"a": float("nan")}),
        "json_body",
    ),
    (
        "bracket exits on the wrong side",
        lambda c: c.place_bracket_order(ACCOUNT, 265598, "BUY", 10, 100.0, 99.0, 95.0),
        "take_profit",
    ),
    (
        "bracket stop above a sell",
        lambda c: c.place_bracket_order(ACCOUNT, 265598, "SELL", 10, 100.0, 95.0, 99.0),
        "stop_loss",
    ),
    (
        "bracket market entry",
        lambda c: c.place_bracket_order(ACCOUNT, 265598, "BUY", 1, 100.0, 110.0, 90.0, "MKT"),
        "order_type",
    ),
    ("orders empty", lambda c: c.place_orders(ACCOUNT, []), "orders"),
    (
        "orders bad leg",
        lambda c: c.place_orders(ACCOUNT, [{"conid": 1, "side": "BUY", "quantity": -1}]),
        "orders[0].quantity",
    ),
    (
        "orders unknown parent",
        lambda c: c.place_orders(
            ACCOUNT, [{"conid": 1, "side": "BUY", "quantity": 1, "parent_coid": "nobody"}]
        ),
        "orders[0].parent_coid",
    ),
    (
        "orders duplicate coid",
        lambda c: c.place_orders(
            ACCOUNT,
            [
                {"conid": 1, "side": "BUY", "quantity": 1, "coid": "a"},
                {"conid": 1, "side": "SELL", "quantity": 1, "coid": "a"},
            ],
        ),
        "orders[1].coid",
    ),
]


@pytest.mark.parametrize(("case", "call", "field"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_naming_the_field_and_nothing_is_sent(
    client: IbkrClient, gateway: Gateway, case: str, call: Call, field: str
) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        call(client)

    assert raised.value.field == field
    assert gateway.sent(include_session=True) == []


def test_a_reset_is_not_undone_by_the_next_re_login(client: IbkrClient, gateway: Gateway) -> None:
    gateway.answer("POST", "/iserver/questions/suppress", {"status": "submitted"})
    gateway.answer("POST", "/iserver/questions/suppress/reset", {"status": "submitted"})
    client.suppress_messages(["o163"])
    client.reset_suppressed_messages()
    # A 401 ends the brokerage session; the call recovers and re-sends.
    gateway.answer("GET", "/iserver/contract/8314/info", Reply(401), {"con_id": 8314})

    assert client.get_contract_details(8314) == {"con_id": 8314}
    assert "POST /iserver/questions/suppress" not in gateway.paths()[2:]
