"""The simulated market: contracts, a deterministic price path, quotes, snapshots, history.

Plain object, no HTTP, not thread-safe: the gateway calls it under its one lock and sends
the returned values as JSON unchanged. Prices are a pure function of the clock (and of
``set_price`` overrides), so time travel on a ``ManualClock`` moves them.

Public methods (what the HTTP side codes against):

- ``search(symbol, sec_type=None, name=False) -> list[dict]`` — ``/iserver/secdef/search``
  entries (conid as a string); ``[]`` when nothing matches.
- ``contract_info(conid) -> dict | None`` — ``/iserver/contract/{conid}/info``; ``None``
  for an unknown conid.
- ``snapshot_fields(conid, fields) -> dict`` — one element of the snapshot answer list.
  The first call per conid in a brokerage session is the pre-flight and returns only
  ``{"conid": int, "conidEx": str}``; unknown conids always get that shape.
- ``reset_subscriptions() -> None`` — the brokerage session ended (re-auth, nightly reset):
  the pre-flight repeats and orders warn about missing market data (o354) again.
- ``has_market_data(conid) -> bool`` — whether this session has a subscription.
- ``unsubscribe(conid) -> bool`` — close one market-data line (pre-flight again).
- ``strikes(conid, sec_type, month) -> dict`` — ``/iserver/secdef/strikes``
  (``ibkr_sim.options``); ``secdef_info(conid, sec_type, month, strike, right) -> list``
  — ``/iserver/secdef/info``.
- ``history(conid, period, bar, outside_rth=False) -> dict`` — the history answer;
  raises ``HistoryError`` (a ``ValueError`` with ``.status``/``.body``) for an unknown
  conid or a bad period/bar.
- ``price(conid) -> float`` (last trade, tick-rounded; the last close when closed),
  ``set_price(conid, price)``, ``quote(conid) -> Quote``, ``is_trading(conid) -> bool``,
  ``prior_close(conid) -> float``, ``bid_ask(conid, last) -> (bid, ask)``,
  ``prices_between(conid, since, until) -> list[(t, price)]`` (for the broker's fills).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ibkr_session.clock import Clock
from ibkr_sim.contracts import contract_info, search_contracts
from ibkr_sim.formatting import (
    format_change,
    format_percent,
    format_price,
    format_size,
    format_volume,
)
from ibkr_sim.history import build_history
from ibkr_sim.hours import Session
from ibkr_sim.instruments import Instrument, find_instrument
from ibkr_sim.options import (
    STRIKES_EACH_SIDE,
    OptionKey,
    listed_months,
    option_conid,
    optionable,
    parse_month,
    strike_grid,
    strike_step,
)
from ibkr_sim.pricepath import PricePath
from ibkr_sim.refusal import HistoryError, Refusal
from ibkr_sim.secdefs import secdef_info_row

__all__ = ["Market", "Quote"]

_HIGH_LOW_STEP = 300.0  # seconds between the samples behind a day's high and low
_MAX_SAMPLES = 2000  # prices_between never returns more points than this


@dataclass(frozen=True)
class Quote:
    """Top of book and the day's statistics of one instrument at one moment."""

    last: float
    bid: float
    ask: float
    bid_size: int
    ask_size: int
    last_size: int
    trading: bool
    open: float
    high: float
    low: float
    close: float  # the latest completed session's close
    prior_close: float  # the close of the session before the latest one
    volume: float


class Market:
    """Every simulated instrument's prices on one clock and one seed."""

    def __init__(self, clock: Clock, *, seed: int = 0) -> None:
        self._clock = clock
        self._path = PricePath(seed)
        self._subscriptions: dict[int, str] = {}
        self._searched: set[int] = set()  # conids secdef/search returned this session

    # -- contracts -------------------------------------------------------------------

    def search(
        self, symbol: str, sec_type: str | None = None, name: bool = False
    ) -> list[dict[str, Any]]:
        found = search_contracts(symbol, sec_type, name=name, now=self._now())
        self._searched.update(int(entry["conid"]) for entry in found)
        return found

    def contract_info(self, conid: int) -> dict[str, Any] | None:
        instrument = find_instrument(conid)
        return contract_info(instrument) if instrument else None

    # -- prices ----------------------------------------------------------------------

    def is_trading(self, conid: int) -> bool:
        return self._known(conid).hours.is_open(self._now())

    def price(self, conid: int) -> float:
        """The last trade now: the path while trading, else the latest close."""
        return self.price_at(self._known(conid), self._now())

    def price_at(self, instrument: Instrument, t: float) -> float:
        """The tick-rounded last trade at ``t`` (frozen outside trading hours)."""
        path_time = instrument.hours.last_trading_instant(t)
        raw = self._path.path(instrument, path_time) * self._path.factor(instrument, t)
        return instrument.round_to_tick(raw)

    def set_price(self, conid: int, price: float) -> None:
        """Move the last trade to ``price`` now; the path continues from there."""
        if not price > 0:
            raise ValueError(f"price must be positive, got {price!r}")
        instrument = self._known(conid)
        now = self._now()
        self._path.override(instrument, instrument.hours.last_trading_instant(now), now, price)

    def prices_between(self, conid: int, since: float, until: float) -> list[tuple[float, float]]:
        """Trades (time, price) in ``(since, until]`` while trading, about one a minute.

        Long gaps are sampled more coarsely so one call never returns more than
        ``_MAX_SAMPLES`` points; ``until`` itself is always included when trading.
        """
        instrument = self._known(conid)
        if until <= since:
            return []
        step = max(60.0, (until - since) / _MAX_SAMPLES)
        samples: list[tuple[float, float]] = []
        t = until
        while t > since:
            if instrument.hours.is_open(t):
                samples.append((t, self.price_at(instrument, t)))
            t -= step
        return samples[::-1]

    def bid_ask(self, conid: int, last: float) -> tuple[float, float]:
        """The quote around a trade at ``last``: one tick either side."""
        instrument = self._known(conid)
        tick = instrument.tick
        return instrument.round_to_tick(last - tick), instrument.round_to_tick(last + tick)

    def prior_close(self, conid: int) -> float:
        """The close of the session before the latest one (what 82/83 compare against)."""
        instrument = self._known(conid)
        session = instrument.hours.latest_session(self._now())
        return self.price_at(instrument, self._previous_session(instrument, session).close)

    def quote(self, conid: int) -> Quote:
        instrument = self._known(conid)
        now = self._now()
        session = instrument.hours.latest_session(now)
        trading = session.contains(now)
        last = self.price_at(instrument, now)
        previous = self._previous_session(instrument, session)
        high, low = self._high_low(instrument, session, min(now, session.close))
        jitter = self._path.jitter
        unit = instrument.size_unit
        bid, ask = self.bid_ask(conid, last)
        return Quote(
            last=last,
            bid=bid,
            ask=ask,
            bid_size=unit * (1 + int(jitter(instrument, now, 31) * 40)),
            ask_size=unit * (1 + int(jitter(instrument, now, 32) * 40)),
            last_size=unit * (1 + int(jitter(instrument, now, 33) * 5)),
            trading=trading,
            open=self.price_at(instrument, session.open),
            high=high,
            low=low,
            close=last if not trading else self.price_at(instrument, previous.close),
            prior_close=self.price_at(instrument, previous.close),
            volume=self._path.volume_between(instrument, session, session.open, now),
        )

    # -- snapshots -------------------------------------------------------------------

    def has_market_data(self, conid: int) -> bool:
        return conid in self._subscriptions

    def reset_subscriptions(self) -> None:
        """The brokerage session ended: market-data lines and searches are forgotten."""
        self._subscriptions.clear()
        self._searched.clear()

    def snapshot_fields(self, conid: int, fields: Iterable[str]) -> dict[str, Any]:
        """One snapshot row: strings as IBKR formats them, after a per-session pre-flight."""
        row: dict[str, Any] = {"conid": conid, "conidEx": str(conid)}
        instrument = find_instrument(conid)
        if instrument is None:
            return row
        if conid not in self._subscriptions:
            self._subscriptions[conid] = f"q{len(self._subscriptions)}"
            return row
        server_id = self._subscriptions[conid]
        values = self._field_values(instrument, self.quote(conid), server_id)
        row.update({tag: values[tag] for tag in fields if tag in values})
        row["_updated"] = int(self._now() * 1000)
        row["server_id"] = server_id
        return row

    def _field_values(self, instrument: Instrument, quote: Quote, server_id: str) -> dict[str, str]:
        digits = instrument.decimals
        change = quote.last - quote.prior_close
        last = format_price(quote.last, digits)
        return {
            "31": last if quote.trading else f"C{last}",
            "55": instrument.local_symbol if instrument.sec_type != "STK" else instrument.symbol,
            "70": format_price(quote.high, digits),
            "71": format_price(quote.low, digits),
            "82": format_change(change, digits),
            "83": format_percent(change / quote.prior_close),
            "84": format_price(quote.bid, digits),
            "85": format_size(quote.ask_size),
            "86": format_price(quote.ask, digits),
            "87": format_volume(quote.volume),
            "88": format_size(quote.bid_size),
            "6119": server_id,
            "6509": "RpB" if quote.trading else "ZpB",
            "7059": format_size(quote.last_size),
            "7295": format_price(quote.open, digits),
            "7296": format_price(quote.close, digits),
            "7741": format_price(quote.prior_close, digits),
            "7762": str(round(quote.volume)),
        }

    def instrument(self, conid: int) -> Instrument | None:
        """The contract of ``conid`` (option chains included), or ``None``."""
        return find_instrument(conid)

    def last_or_none(self, conid: int) -> float | None:
        """The last trade of ``conid``, or ``None`` for an unknown conid."""
        return self.price(conid) if find_instrument(conid) is not None else None

    def now(self) -> float:
        """The clock's reading as epoch seconds."""
        return self._now()

    def unsubscribe_all(self) -> None:
        """Close every market-data line (searches are remembered)."""
        self._subscriptions.clear()

    def unsubscribe(self, conid: int) -> bool:
        """Close one market-data line; the next snapshot is a pre-flight again."""
        return self._subscriptions.pop(conid, None) is not None

    # -- option chains and security definitions --------------------------------------

    def strikes(self, conid: int, sec_type: str, month: str) -> dict[str, list[float]]:
        """``/iserver/secdef/strikes``: empty lists unless the underlying was searched in
        this brokerage session (IBKR's precondition) and ``month`` is listed."""
        empty: dict[str, list[float]] = {"call": [], "put": []}
        wanted = parse_month(month)
        if sec_type.upper() != "OPT" or not optionable(conid) or conid not in self._searched:
            return empty
        if wanted not in listed_months(self._now()):
            return empty
        grid = strike_grid(self.price(conid))
        return {"call": grid, "put": list(grid)}

    def secdef_info(
        self,
        conid: int,
        sec_type: str,
        month: str | None = None,
        strike: float | None = None,
        right: str | None = None,
    ) -> list[dict[str, Any]]:
        """``/iserver/secdef/info``: the contract itself, or a chain's contracts of one
        month and strike (both rights unless ``right`` is ``C`` or ``P``)."""
        instrument = self._known(conid)
        kind = sec_type.upper()
        if kind != "OPT" or instrument.sec_type == "OPT":
            if instrument.sec_type != kind:
                raise Refusal(f"Bad Request: conid {conid} is not a {kind}")
            return [secdef_info_row(instrument)]
        if not optionable(conid):
            raise Refusal(f"Bad Request: conid {conid} has no options")
        wanted = parse_month(month or "")
        if wanted is None or strike is None:
            raise Refusal("Bad Request: month and strike are required for OPT")
        if wanted not in listed_months(self._now()) or not self._listed_strike(conid, strike):
            return []
        rights = [right.upper()[:1]] if right else ["C", "P"]
        rows = []
        for letter in rights:
            if letter not in ("C", "P"):
                raise Refusal(f"Bad Request: right must be C or P, got {right!r}")
            key = OptionKey(conid, wanted[0], wanted[1], strike, letter)
            rows.append(secdef_info_row(self._known(option_conid(key))))
        return rows

    def _listed_strike(self, conid: int, strike: float) -> bool:
        """On the strike grid around the price (with room for the price to have moved)."""
        price = self.price(conid)
        step = strike_step(price)
        steps = strike / step
        near = abs(strike - price) <= 2 * STRIKES_EACH_SIDE * step
        return near and strike > 0 and abs(steps - round(steps)) < 1e-9

    # -- history ---------------------------------------------------------------------

    def history(
        self, conid: int, period: str, bar: str, outside_rth: bool = False
    ) -> dict[str, Any]:
        instrument = find_instrument(conid)
        if instrument is None:
            raise HistoryError(f"Bad Request: no contract for conid {conid}")
        return build_history(self._path, instrument, self._now(), period, bar, outside_rth)

    # -- helpers ---------------------------------------------------------------------

    def _now(self) -> float:
        return self._clock.now().timestamp()

    def _known(self, conid: int) -> Instrument:
        instrument = find_instrument(conid)
        if instrument is None:
            raise Refusal(f"Bad Request: no contract for conid {conid}")
        return instrument

    def _previous_session(self, instrument: Instrument, session: Session) -> Session:
        sessions = instrument.hours.sessions_backwards(session.open - 1)
        return next(sessions)

    def _high_low(
        self, instrument: Instrument, session: Session, until: float
    ) -> tuple[float, float]:
        prices = [self.price_at(instrument, until)]
        t = session.open
        while t < until:
            prices.append(self.price_at(instrument, t))
            t += _HIGH_LOW_STEP
        return max(prices), min(prices)
