"""Market-data and contract endpoints: snapshot, history, contract search and info.

The HTTP side of ``Market``: it validates what a client sends (IBKR's limits of 100
conids and 50 fields per snapshot, integer conids) and passes the ``Market``'s answers
through unchanged.
"""

from __future__ import annotations

from ibkr_sim.market import Market
from ibkr_sim.replies import Reply, json_reply
from ibkr_sim.routing import Access, Call, Route, bad_request, parse_bool

__all__ = ["MarketEndpoints", "parse_conid"]

_MAX_SNAPSHOT_CONIDS = 100
_MAX_SNAPSHOT_FIELDS = 50


class MarketEndpoints:
    """Answers of the market-data and contract endpoints, from the ``Market``."""

    def __init__(self, market: Market) -> None:
        self._market = market

    def routes(self) -> list[Route]:
        brokerage = Access.BROKERAGE
        snapshot = "/iserver/marketdata/snapshot"
        return [
            Route("GET", snapshot, self.snapshot, brokerage, needs_priming=True),
            Route("GET", "/iserver/marketdata/history", self.history, brokerage),
            Route("GET", "/iserver/secdef/search", self.search, brokerage),
            Route("POST", "/iserver/secdef/search", self.search, brokerage),
            Route("GET", "/iserver/contract/{conid}/info", self.contract_info, brokerage),
        ]

    def snapshot(self, call: Call) -> Reply:
        conids = [parse_conid(part) for part in _split(call.required_query("conids"))]
        fields = _split(call.query("fields") or "")
        if len(conids) > _MAX_SNAPSHOT_CONIDS:
            raise bad_request(f"at most {_MAX_SNAPSHOT_CONIDS} conids per snapshot")
        if len(fields) > _MAX_SNAPSHOT_FIELDS:
            raise bad_request(f"at most {_MAX_SNAPSHOT_FIELDS} fields per snapshot")
        return json_reply([self._market.snapshot_fields(conid, fields) for conid in conids])

    def history(self, call: Call) -> Reply:
        answer = self._market.history(
            parse_conid(call.required_query("conid")),
            call.query("period") or "1d",
            call.required_query("bar"),
            outside_rth=call.query_bool("outsideRth"),
        )
        return json_reply(answer)

    def search(self, call: Call) -> Reply:
        """GET with a query or POST with a JSON body: the gateway serves both."""
        params = call.body_or_query()
        symbol = str(params.get("symbol") or "")
        if not symbol:
            raise bad_request("missing required parameter 'symbol'")
        sec_type = params.get("secType")
        entries = self._market.search(
            symbol,
            str(sec_type) if sec_type else None,
            name=parse_bool(params.get("name"), "name", default=False),
        )
        return json_reply(entries)

    def contract_info(self, call: Call) -> Reply:
        conid = parse_conid(call.params["conid"])
        info = self._market.contract_info(conid)
        if info is None:
            raise bad_request(f"no contract for conid {conid}")
        return json_reply(info)


def parse_conid(text: object) -> int:
    """A conid from a path, query or body: a positive integer (or its string)."""
    try:
        conid = int(str(text).strip())
    except ValueError:
        raise bad_request(f"conid must be an integer, got {text!r}") from None
    if conid <= 0:
        raise bad_request(f"conid must be positive, got {conid}")
    return conid


def _split(csv: str) -> list[str]:
    return [part.strip() for part in csv.split(",") if part.strip()]
