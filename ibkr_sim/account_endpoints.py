"""Account endpoints beyond orders: the brokerage account summary and its sub-pages,
alerts, watchlists, Portfolio Analyst (``/pa/*``) and FYI notifications.

The HTTP side of ``ibkr_sim.balances``, ``ibkr_sim.alerts``, ``ibkr_sim.watchlists``,
``ibkr_sim.analysis`` and ``ibkr_sim.notifications``, all reached through the ``Broker``.
``/iserver/*`` needs the brokerage session (the summary also the ``/accounts`` priming,
as IBKR's spec says); ``/pa/*`` and ``/fyi/*`` need only the SSO session.
"""

from __future__ import annotations

from collections.abc import Callable

from ibkr_sim.balances import SUMMARY_PAGES, account_summary, summary_page
from ibkr_sim.book import Broker
from ibkr_sim.market_endpoints import parse_conid
from ibkr_sim.replies import Reply, json_reply
from ibkr_sim.routing import Access, Call, Route, bad_request

__all__ = ["AccountEndpoints"]

_MAX_PA_DAYS = 365


class AccountEndpoints:
    """Answers of the account, alert, watchlist, ``/pa`` and ``/fyi`` endpoints."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker

    def routes(self) -> list[Route]:
        brokerage, sso = Access.BROKERAGE, Access.SSO
        summary = "/iserver/account/{acct}/summary"
        pages = [
            Route("GET", f"{summary}/{page}", self._page(page), brokerage, needs_priming=True)
            for page in SUMMARY_PAGES
        ]
        return [
            Route("GET", summary, self.summary, brokerage, needs_priming=True),
            *pages,
            Route("GET", "/iserver/account/{acct}/alerts", self.alerts, brokerage),
            Route("POST", "/iserver/account/{acct}/alert", self.save_alert, brokerage),
            Route(
                "DELETE", "/iserver/account/{acct}/alert/{alert_id}", self.delete_alert, brokerage
            ),
            Route("GET", "/iserver/account/alert/{alert_id}", self.alert_details, brokerage),
            Route("GET", "/iserver/watchlists", self.watchlists, brokerage),
            Route("GET", "/iserver/watchlist", self.watchlist, brokerage),
            Route("POST", "/iserver/watchlist", self.create_watchlist, brokerage),
            Route("DELETE", "/iserver/watchlist", self.delete_watchlist, brokerage),
            Route("POST", "/pa/performance", self.performance, sso),
            Route("POST", "/pa/transactions", self.transactions, sso),
            Route("GET", "/fyi/notifications", self.notifications, sso),
            Route("GET", "/fyi/unreadnumber", self.unread, sso),
            Route("PUT", "/fyi/notifications/{notification_id}", self.mark_read, sso),
        ]

    def summary(self, call: Call) -> Reply:
        return json_reply(account_summary(self._broker.portfolio(call.params["acct"])))

    def _page(self, page: str) -> Callable[[Call], Reply]:
        def answer(call: Call) -> Reply:
            portfolio = self._broker.portfolio(call.params["acct"])
            return json_reply(summary_page(portfolio, page, self._broker.now()))

        return answer

    def alerts(self, call: Call) -> Reply:
        self._broker.portfolio(call.params["acct"])
        return json_reply(self._broker.alerts.list(call.params["acct"]))

    def save_alert(self, call: Call) -> Reply:
        acct = call.params["acct"]
        self._broker.portfolio(acct)
        return json_reply(self._broker.alerts.save(acct, call.json_object(), self._broker.now()))

    def alert_details(self, call: Call) -> Reply:
        if call.query("type") != "Q":
            raise bad_request("orderId and type are required")
        return json_reply(self._broker.alerts.details(call.params["alert_id"]))

    def delete_alert(self, call: Call) -> Reply:
        acct = call.params["acct"]
        self._broker.portfolio(acct)
        return json_reply(self._broker.alerts.delete(acct, call.params["alert_id"]))

    def watchlists(self, call: Call) -> Reply:
        return json_reply(self._broker.watchlists.all())

    def watchlist(self, call: Call) -> Reply:
        return json_reply(self._broker.watchlists.one(call.required_query("id")))

    def create_watchlist(self, call: Call) -> Reply:
        body = call.json_object()
        return json_reply(self._broker.watchlists.create(body, self._broker.now()))

    def delete_watchlist(self, call: Call) -> Reply:
        return json_reply(self._broker.watchlists.delete(call.required_query("id")))

    def performance(self, call: Call) -> Reply:
        body = call.json_object()
        accounts = _account_ids(body.get("acctIds"))
        period = str(body.get("period") or "12M")
        return json_reply(self._broker.performance(accounts, period))

    def transactions(self, call: Call) -> Reply:
        body = call.json_object()
        accounts = _account_ids(body.get("acctIds"))
        raw_conids = body.get("conids")
        if not isinstance(raw_conids, list) or not raw_conids:
            raise bad_request("conids must be a non-empty list")
        conids = [parse_conid(c) for c in raw_conids]
        days = body.get("days", 90)
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= _MAX_PA_DAYS:
            raise bad_request(f"days must be a whole number from 1 to {_MAX_PA_DAYS}")
        currency = str(body.get("currency") or "USD")
        return json_reply(self._broker.transactions(accounts, conids, currency, days))

    def notifications(self, call: Call) -> Reply:
        most = call.required_query("max")
        if not most.isdigit():
            raise bad_request(f"max must be a number, got {most!r}")
        return json_reply(self._broker.notifications.listing(int(most)))

    def unread(self, call: Call) -> Reply:
        return json_reply(self._broker.notifications.unread())

    def mark_read(self, call: Call) -> Reply:
        return json_reply(self._broker.notifications.mark_read(call.params["notification_id"]))


def _account_ids(raw: object) -> list[str]:
    if not isinstance(raw, list) or not raw or not all(isinstance(a, str) for a in raw):
        raise bad_request('acctIds must be a non-empty list like ["U1234567"]')
    return list(raw)
