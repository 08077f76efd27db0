"""Portfolio endpoints: accounts, summary, ledger, positions (all, or one contract's),
allocation.

They need only the SSO session, so they keep answering while the brokerage session is
down or the nightly reset runs. The ``Broker`` computes the bodies; this module maps
paths to it.
"""

from __future__ import annotations

from ibkr_sim.book import Broker
from ibkr_sim.market_endpoints import parse_conid
from ibkr_sim.replies import Reply, json_reply
from ibkr_sim.routing import Access, Call, Route, bad_request

__all__ = ["PortfolioEndpoints"]


class PortfolioEndpoints:
    """Answers of ``/portfolio/*``, from the ``Broker``."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker

    def routes(self) -> list[Route]:
        sso = Access.SSO
        return [
            Route("GET", "/portfolio/accounts", self.accounts, sso),
            Route("GET", "/portfolio/subaccounts", self.accounts, sso),
            Route("GET", "/portfolio/{acct}/summary", self.summary, sso),
            Route("GET", "/portfolio/{acct}/ledger", self.ledger, sso),
            Route("GET", "/portfolio/{acct}/positions/{page}", self.positions, sso),
            Route("POST", "/portfolio/{acct}/positions/invalidate", self.invalidate, sso),
            Route("GET", "/portfolio/{acct}/position/{conid}", self.position, sso),
            Route("GET", "/portfolio/{acct}/allocation", self.allocation, sso),
        ]

    def accounts(self, call: Call) -> Reply:
        return json_reply(self._broker.accounts_list())

    def summary(self, call: Call) -> Reply:
        return json_reply(self._broker.summary(call.params["acct"]))

    def ledger(self, call: Call) -> Reply:
        return json_reply(self._broker.ledger(call.params["acct"]))

    def positions(self, call: Call) -> Reply:
        page = call.params["page"]
        if not page.isdigit():
            raise bad_request(f"page must be a number from 0, got {page!r}")
        return json_reply(self._broker.positions(call.params["acct"], int(page)))

    def position(self, call: Call) -> Reply:
        conid = parse_conid(call.params["conid"])
        return json_reply(self._broker.position(call.params["acct"], conid))

    def allocation(self, call: Call) -> Reply:
        return json_reply(self._broker.allocation(call.params["acct"]))

    def invalidate(self, call: Call) -> Reply:
        """The simulator keeps no stale cache; it still checks the account."""
        self._broker.portfolio(call.params["acct"])
        return json_reply({"message": "success"})
