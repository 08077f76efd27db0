"""Historical bars (``/iserver/marketdata/history``) cut from the same price path.

How a period is measured (documented simulator choices, close to what the gateway does):
the window ends at the last trading instant (now while the market is open, else the last
close); ``min``, ``h`` and ``d`` periods count *trading* time backwards across sessions
(a day is one session's length: 6.5 h of regular hours for a stock, so ``1d`` of
``15min`` bars is always 26 bars, as the reference's mean-reversion recipe expects),
``w``/``m``/``y`` are calendar spans. Intraday
bars are aligned to each session's open; ``1d``/``1w``/``1m`` bars gather whole sessions
by date, ISO week and month, stamped at their first open. At most the 1000 most recent
bars are returned. US stocks and options use regular hours unless ``outside_rth`` asks
for 04:00-20:00. ``v`` is in hundreds of shares, as ``volumeFactor`` says.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import math
import re
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any

from ibkr_sim.hours import EXTENDED_STOCK_HOURS, NEW_YORK, STOCK_HOURS, Hours, Session
from ibkr_sim.instruments import Instrument
from ibkr_sim.pricepath import PricePath
from ibkr_sim.refusal import HistoryError

__all__ = ["BAR_SECONDS", "MAX_POINTS", "PERIOD_LIMITS", "build_history"]

MAX_POINTS = 1000
PERIOD_LIMITS = {"min": 30, "h": 8, "d": 1000, "w": 792, "m": 182, "y": 15}
"""The largest count IBKR accepts for each period unit (IBKR-FACTS §5)."""
BAR_SECONDS = {
    "1min": 60, "2min": 120, "3min": 180, "5min": 300, "10min": 600, "15min": 900,
    "30min": 1800, "1h": 3600, "2h": 7200, "3h": 10800, "4h": 14400, "8h": 28800,
    "1d": 86_400, "1w": 604_800, "1m": 2_592_000,
}  # fmt: skip
"""Every documented bar size and its ``barLength`` in seconds."""

_PERIOD = re.compile(r"(\d+)(min|h|d|w|m|y)")
_UNIT_SECONDS = {"min": 60.0, "h": 3600.0}
_VOLUME_FACTOR = 100
_WICK = 0.15  # bar wicks, as a fraction of the daily volatility scaled by sqrt(duration)
_GROUPERS: dict[str, Callable[[Session], Hashable]] = {
    "1d": lambda s: s.date,
    "1w": lambda s: s.date.isocalendar()[:2],
    "1m": lambda s: (s.date.year, s.date.month),
}


@dataclass(frozen=True)
class _Bar:
    start: float
    end: float
    sessions: tuple[Session, ...]


def build_history(
    path: PricePath,
    instrument: Instrument,
    now: float,
    period: str,
    bar: str,
    outside_rth: bool,
) -> dict[str, Any]:
    """The history answer for ``instrument`` at ``now``; bad period/bar → ``HistoryError``."""
    amount, unit = _parse_period(period)
    if bar not in BAR_SECONDS:
        raise HistoryError(
            f"Bad Request: bar '{bar}' is not supported; use one of {', '.join(BAR_SECONDS)}"
        )
    hours = _hours(instrument, outside_rth)
    anchor = hours.last_trading_instant(now)
    window_start = _window_start(hours, anchor, amount, unit)
    bars = _bars(hours, anchor, window_start, bar)
    data = [_ohlcv(path, instrument, b) for b in bars]
    return _answer(instrument, data, period, bar, outside_rth, hours, anchor)


def _parse_period(period: str) -> tuple[int, str]:
    match = _PERIOD.fullmatch(period)
    if match is None or not 1 <= int(match.group(1)) <= PERIOD_LIMITS[match.group(2)]:
        raise HistoryError(
            f"Bad Request: period '{period}' is not supported; use "
            "{1-30}min, {1-8}h, {1-1000}d, {1-792}w, {1-182}m or {1-15}y"
        )
    return int(match.group(1)), match.group(2)


def _hours(instrument: Instrument, outside_rth: bool) -> Hours:
    if outside_rth and instrument.hours == STOCK_HOURS:
        return EXTENDED_STOCK_HOURS
    return instrument.hours


def _window_start(hours: Hours, anchor: float, amount: int, unit: str) -> float:
    if unit in ("min", "h", "d"):
        if unit == "d":
            unit_seconds = hours.latest_session(anchor).minutes * 60
        else:
            unit_seconds = _UNIT_SECONDS[unit]
        remaining = amount * unit_seconds
        for session in hours.sessions_backwards(anchor):
            end = min(session.close, anchor)
            if end - session.open >= remaining:
                return end - remaining
            remaining -= end - session.open
    local = _dt.datetime.fromtimestamp(anchor, NEW_YORK)
    if unit == "w":
        return (local - _dt.timedelta(weeks=amount)).timestamp()
    months = amount * (12 if unit == "y" else 1)
    return _months_before(local, months).timestamp()


def _months_before(local: _dt.datetime, months: int) -> _dt.datetime:
    index = local.year * 12 + local.month - 1 - months
    year, month = divmod(index, 12)
    day = min(local.day, calendar.monthrange(year, month + 1)[1])
    return local.replace(year=year, month=month + 1, day=day)


def _bars(hours: Hours, anchor: float, window_start: float, bar: str) -> list[_Bar]:
    """The newest ``MAX_POINTS`` bars inside ``[window_start, anchor]``, oldest first."""
    newest_first: list[_Bar] = []
    grouper = _GROUPERS.get(bar)
    sessions = _sessions_in(hours, anchor, window_start)
    if grouper is None:
        step = BAR_SECONDS[bar]
        for session in sessions:
            end = min(session.close, anchor)
            count = math.ceil((end - session.open) / step)
            for k in range(count - 1, -1, -1):
                start = session.open + k * step
                bar_end = min(start + step, end)
                if bar_end <= window_start or len(newest_first) == MAX_POINTS:
                    break
                newest_first.append(_Bar(start, bar_end, (session,)))
            if len(newest_first) == MAX_POINTS:
                break
    else:
        groups: dict[Hashable, list[Session]] = {}
        for session in sessions:
            key = grouper(session)
            if key not in groups and len(groups) == MAX_POINTS:
                break
            groups.setdefault(key, []).append(session)
        for members in groups.values():
            ordered = tuple(reversed(members))
            newest_first.append(_Bar(ordered[0].open, min(ordered[-1].close, anchor), ordered))
    return newest_first[::-1]


def _sessions_in(hours: Hours, anchor: float, window_start: float) -> Iterator[Session]:
    for session in hours.sessions_backwards(anchor):
        if session.close <= window_start:
            return
        yield session


def _ohlcv(path: PricePath, instrument: Instrument, bar: _Bar) -> dict[str, float | int]:
    open_ = path.price(instrument, bar.start)
    close = path.price(instrument, bar.end)
    high, low = max(open_, close), min(open_, close)
    volume = 0.0
    for session in bar.sessions:
        start, end = max(bar.start, session.open), min(bar.end, session.close)
        if end < bar.end:  # each session close inside a week or month bar
            inner = path.price(instrument, end)
            high, low = max(high, inner), min(low, inner)
        volume += path.volume_between(instrument, session, start, end)
    minutes = (bar.end - bar.start) / 60.0
    spread = instrument.daily_volatility * _WICK * math.sqrt(max(minutes, 1.0) / 390.0)
    high *= 1 + spread * path.jitter(instrument, bar.start, 21)
    low *= 1 - spread * path.jitter(instrument, bar.start, 22)
    return {
        "o": instrument.round_to_tick(open_),
        "c": instrument.round_to_tick(close),
        "h": instrument.round_to_tick(high),
        "l": instrument.round_to_tick(low),
        "v": round(volume / _VOLUME_FACTOR, 2),
        "t": int(bar.start * 1000),
    }


def _answer(
    instrument: Instrument,
    data: list[dict[str, float | int]],
    period: str,
    bar: str,
    outside_rth: bool,
    hours: Hours,
    anchor: float,
) -> dict[str, Any]:
    price_factor = 10**instrument.decimals
    first_ms = int(data[0]["t"]) if data else int(anchor * 1000)
    session = hours.latest_session(anchor)
    return {
        "serverId": "6571225",
        "symbol": instrument.local_symbol or instrument.symbol,
        "text": instrument.company_name,
        "priceFactor": price_factor,
        "startTime": _dt.datetime.fromtimestamp(first_ms / 1000, _dt.UTC).strftime(
            "%Y%m%d-%H:%M:%S"
        ),
        "high": _extreme(data, "h", max, price_factor, first_ms),
        "low": _extreme(data, "l", min, price_factor, first_ms),
        "timePeriod": period,
        "barLength": BAR_SECONDS[bar],
        "mdAvailability": "S",
        "mktDataDelay": 0,
        "outsideRth": outside_rth,
        "tradingDayDuration": round(session.minutes),
        "volumeFactor": _VOLUME_FACTOR,
        "priceDisplayRule": 1,
        "priceDisplayValue": str(instrument.decimals),
        "negativeCapable": False,
        "messageVersion": 2,
        "direction": -1,
        "data": data,
        "points": max(len(data) - 1, 0),
        "travelTime": 7,
    }


def _extreme(
    data: list[dict[str, float | int]],
    key: str,
    pick: Callable[..., dict[str, float | int]],
    price_factor: int,
    first_ms: int,
) -> str:
    """IBKR's ``"price*factor/volume/minutes-from-start"`` summary of the top or bottom bar."""
    if not data:
        return "0/0/0"
    row = pick(data, key=lambda r: r[key])
    minutes = (int(row["t"]) - first_ms) // 60_000
    return f"{round(row[key] * price_factor)}/{row['v']}/{minutes}"
