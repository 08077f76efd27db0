"""Reference-data endpoints: ``/trsrv/*`` security definitions and schedules, option
strikes and contracts, contract rules, the scanner, and closing market-data lines.

The HTTP side of ``Market``, ``ibkr_sim.secdefs`` and ``ibkr_sim.scanner``: it parses
what a client sends (IBKR's limit of 200 conids per ``/trsrv/secdef``) and passes their
answers through. ``/trsrv/*`` needs only the SSO session; the rest is ``/iserver``.
"""

from __future__ import annotations

from ibkr_sim.book import Broker
from ibkr_sim.instruments import UNIVERSE, Instrument, find_instrument
from ibkr_sim.market import Market
from ibkr_sim.market_endpoints import parse_conid
from ibkr_sim.replies import Reply, json_reply
from ibkr_sim.routing import Access, Call, Route, bad_request, parse_bool
from ibkr_sim.scanner import run_scan, scanner_params
from ibkr_sim.secdefs import (
    contract_rules,
    future_entries,
    stock_entries,
    trading_schedule,
    trsrv_secdef_row,
)

__all__ = ["MAX_SECDEF_CONIDS", "ReferenceEndpoints"]

MAX_SECDEF_CONIDS = 200
"""IBKR-FACTS §3: ``/trsrv/secdef`` takes at most 200 conids per request."""


class ReferenceEndpoints:
    """Answers of the reference-data endpoints, from the ``Market`` (accounts from the
    ``Broker`` for contract rules)."""

    def __init__(self, market: Market, broker: Broker) -> None:
        self._market = market
        self._broker = broker

    def routes(self) -> list[Route]:
        sso, brokerage = Access.SSO, Access.BROKERAGE
        return [
            Route("GET", "/trsrv/stocks", self.stocks, sso),
            Route("GET", "/trsrv/futures", self.futures, sso),
            Route("GET", "/trsrv/secdef", self.secdef, sso),
            Route("POST", "/trsrv/secdef", self.secdef, sso),
            Route("GET", "/trsrv/secdef/schedule", self.schedule, sso),
            Route("GET", "/iserver/secdef/strikes", self.strikes, brokerage),
            Route("GET", "/iserver/secdef/info", self.info, brokerage),
            Route("POST", "/iserver/contract/rules", self.rules, brokerage),
            Route("POST", "/iserver/marketdata/unsubscribe", self.unsubscribe, brokerage),
            Route("GET", "/iserver/marketdata/unsubscribeall", self.unsubscribe_all, brokerage),
            Route("GET", "/iserver/scanner/params", self.scanner_params, brokerage),
            Route("POST", "/iserver/scanner/run", self.scanner_run, brokerage),
        ]

    def stocks(self, call: Call) -> Reply:
        return json_reply(stock_entries(_symbols(call.required_query("symbols"))))

    def futures(self, call: Call) -> Reply:
        symbols = _symbols(call.required_query("symbols"))
        return json_reply(future_entries(symbols, self._market.now()))

    def secdef(self, call: Call) -> Reply:
        """``conids`` as a comma list (GET query) or a JSON list (POST body)."""
        raw = call.body_or_query().get("conids")
        if raw is None or raw == "":
            raise bad_request("missing required parameter 'conids'")
        parts = raw if isinstance(raw, list) else str(raw).split(",")
        conids = [parse_conid(part) for part in parts if str(part).strip()]
        if len(conids) > MAX_SECDEF_CONIDS:
            raise bad_request(f"at most {MAX_SECDEF_CONIDS} conids per request")
        found = [find_instrument(conid) for conid in conids]
        return json_reply({"secdef": [trsrv_secdef_row(i) for i in found if i is not None]})

    def schedule(self, call: Call) -> Reply:
        asset_class = call.required_query("assetClass").upper()
        symbol = call.required_query("symbol").upper()
        exchange = (call.query("exchange") or "").upper()
        for instrument in UNIVERSE.values():
            if _schedule_match(instrument, asset_class, symbol, exchange):
                return json_reply(trading_schedule(instrument, self._market.now()))
        raise bad_request(f"no {asset_class} contract {symbol!r} on {exchange or 'any exchange'}")

    def strikes(self, call: Call) -> Reply:
        conid = parse_conid(call.required_query("conid"))
        sec_type = call.required_query("sectype")
        month = call.required_query("month")
        return json_reply(self._market.strikes(conid, sec_type, month))

    def info(self, call: Call) -> Reply:
        strike_text = call.query("strike")
        strike = None
        if strike_text:
            try:
                strike = float(strike_text)
            except ValueError:
                raise bad_request(f"strike must be a number, got {strike_text!r}") from None
        rows = self._market.secdef_info(
            parse_conid(call.required_query("conid")),
            call.query("sectype") or call.query("secType") or "STK",
            month=call.query("month"),
            strike=strike,
            right=call.query("right"),
        )
        return json_reply(rows)

    def rules(self, call: Call) -> Reply:
        body = call.json_object()
        conid = parse_conid(body.get("conid"))
        instrument = find_instrument(conid)
        if instrument is None:
            raise bad_request(f"no contract for conid {conid}")
        is_buy = parse_bool(body.get("isBuy"), "isBuy", default=True)
        last = self._market.price(conid)
        return json_reply(contract_rules(instrument, last, self._broker.accounts, is_buy=is_buy))

    def unsubscribe(self, call: Call) -> Reply:
        conid = parse_conid(call.json_object().get("conid"))
        self._market.unsubscribe(conid)
        return json_reply({"success": True})

    def unsubscribe_all(self, call: Call) -> Reply:
        self._market.unsubscribe_all()
        return json_reply({"unsubscribed": True})

    def scanner_params(self, call: Call) -> Reply:
        return json_reply(scanner_params())

    def scanner_run(self, call: Call) -> Reply:
        body = call.json_object()
        filters: list[tuple[str, float]] = []
        raw_filters = body.get("filter") or []
        if not isinstance(raw_filters, list):
            raise bad_request('filter must be a list of {"code": ..., "value": ...}')
        for item in raw_filters:
            if not isinstance(item, dict) or "code" not in item:
                raise bad_request('filter must be a list of {"code": ..., "value": ...}')
            try:
                filters.append((str(item["code"]), float(item.get("value", 0))))
            except (TypeError, ValueError):
                raise bad_request(f"filter {item.get('code')!r} needs a number") from None
        answer = run_scan(
            self._market,
            str(body.get("instrument") or ""),
            str(body.get("type") or ""),
            str(body.get("location") or ""),
            filters,
        )
        return json_reply(answer)


def _symbols(text: str) -> list[str]:
    return [part.strip().upper() for part in text.split(",") if part.strip()]


def _schedule_match(instrument: Instrument, asset_class: str, symbol: str, exchange: str) -> bool:
    if instrument.sec_type != asset_class or instrument.symbol != symbol:
        return False
    return not exchange or exchange in instrument.valid_exchanges.split(",")
