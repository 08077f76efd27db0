"""Option chains of the simulated stocks and ETFs: months, strikes and contracts.

IBKR lists options on a grid of strikes around the underlying's price for a run of
monthly expiries. The simulator invents them the same way, deterministically:

- months: the next ``MONTHS_LISTED`` monthly expiries (the third Friday), as IBKR names
  them in ``/iserver/secdef/search`` and ``/iserver/secdef/strikes`` (``"JAN27"``);
- strikes: ``STRIKES_EACH_SIDE`` grid steps either side of the underlying's last trade,
  the step growing with the price (2.5 for a 230 stock, 5 for a 650 ETF);
- contracts: each (underlying, expiry, strike, right) has a conid that *encodes* it, so
  any part of the simulator can turn a chain's conid back into an ``Instrument``
  (``option_instrument``) — snapshot it, trade it, hold it — without shared state.
  The hand-made option of ``instruments.UNIVERSE`` keeps its own conid.

Simplification: an option's price path starts near its value at the underlying's base
price and then moves on its own, like every simulated instrument (no pricing model).
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import dataclass

from ibkr_sim.hours import NEW_YORK, STOCK_HOURS
from ibkr_sim.instruments import UNIVERSE, Instrument

__all__ = [
    "MONTHS_LISTED",
    "STRIKES_EACH_SIDE",
    "OptionKey",
    "expiry_of",
    "listed_months",
    "month_code",
    "option_conid",
    "option_instrument",
    "option_key",
    "optionable",
    "parse_month",
    "strike_grid",
    "strike_step",
]

MONTHS_LISTED = 6
STRIKES_EACH_SIDE = 20
_OPTIONABLE = (265598, 8314, 272093, 756733, 320227571)  # US stocks and ETFs
_CONID_BASE = 1_000_000_000
_PER_UNDERLYING = 100_000_000
_PER_MONTH = 100_000
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")  # fmt: skip
_MONTH_CODE = re.compile(r"([A-Z]{3})(\d{2})")


@dataclass(frozen=True)
class OptionKey:
    """What an option contract is: underlying, expiry month, strike and right."""

    underlying: int
    year: int
    month: int
    strike: float
    right: str  # "C" or "P"


def optionable(conid: int) -> bool:
    return conid in _OPTIONABLE


def month_code(year: int, month: int) -> str:
    """``(2027, 1)`` → ``"JAN27"``."""
    return f"{_MONTH_NAMES[month - 1]}{year % 100:02d}"


def parse_month(code: str) -> tuple[int, int] | None:
    """``"JAN27"`` → ``(2027, 1)``; ``None`` for anything else."""
    found = _MONTH_CODE.fullmatch(code.strip().upper())
    if found is None or found.group(1) not in _MONTH_NAMES:
        return None
    return 2000 + int(found.group(2)), _MONTH_NAMES.index(found.group(1)) + 1


def expiry_of(year: int, month: int) -> _dt.date:
    """The third Friday of the month: the monthly expiry."""
    first = _dt.date(year, month, 1)
    first_friday = first + _dt.timedelta(days=(4 - first.weekday()) % 7)
    return first_friday + _dt.timedelta(days=14)


def listed_months(now: float) -> list[tuple[int, int]]:
    """The next ``MONTHS_LISTED`` monthly expiries that have not passed at ``now``."""
    today = _dt.datetime.fromtimestamp(now, NEW_YORK).date()
    year, month = today.year, today.month
    months: list[tuple[int, int]] = []
    while len(months) < MONTHS_LISTED:
        if expiry_of(year, month) >= today:
            months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def strike_step(price: float) -> float:
    for limit, step in ((25.0, 0.5), (100.0, 1.0), (250.0, 2.5), (1000.0, 5.0)):
        if price < limit:
            return step
    return 10.0


def strike_grid(price: float) -> list[float]:
    """Strikes around ``price``: the nearest grid strike and ``STRIKES_EACH_SIDE`` per side."""
    step = strike_step(price)
    center = round(price / step)
    return [
        float(k * step)
        for k in range(center - STRIKES_EACH_SIDE, center + STRIKES_EACH_SIDE + 1)
        if k > 0
    ]


def option_conid(key: OptionKey) -> int:
    """The conid of a chain's contract; the hand-made option keeps its own."""
    for instrument in UNIVERSE.values():
        if (
            instrument.sec_type == "OPT"
            and instrument.underlying_conid == key.underlying
            and instrument.expiry == expiry_of(key.year, key.month).strftime("%Y%m%d")
            and instrument.strike == key.strike
            and (instrument.right or "")[:1] == key.right
        ):
            return instrument.conid
    months = (key.year - 2000) * 12 + key.month - 1
    return (
        _CONID_BASE
        + _OPTIONABLE.index(key.underlying) * _PER_UNDERLYING
        + months * _PER_MONTH
        + round(key.strike * 2) * 2
        + (1 if key.right == "P" else 0)
    )


def option_key(conid: int) -> OptionKey | None:
    """The contract a chain conid encodes, or ``None`` if it is not one."""
    rest = conid - _CONID_BASE
    if not 0 <= rest < len(_OPTIONABLE) * _PER_UNDERLYING:
        return None
    underlying, rest = divmod(rest, _PER_UNDERLYING)
    months, rest = divmod(rest, _PER_MONTH)
    half_strikes, put = divmod(rest, 2)
    if half_strikes == 0:
        return None
    return OptionKey(
        underlying=_OPTIONABLE[underlying],
        year=2000 + months // 12,
        month=months % 12 + 1,
        strike=half_strikes / 2,
        right="P" if put else "C",
    )


def option_instrument(conid: int) -> Instrument | None:
    """The ``Instrument`` of a chain conid (``None`` if ``conid`` is not one)."""
    key = option_key(conid)
    if key is None:
        return None
    underlying = UNIVERSE[key.underlying]
    expiry = expiry_of(key.year, key.month)
    call = key.right == "C"
    spot = underlying.base_price
    years = max((expiry - _dt.date(2026, 1, 1)).days, 30) / 365.0
    intrinsic = max(spot - key.strike, 0.0) if call else max(key.strike - spot, 0.0)
    value = intrinsic + 0.4 * spot * 0.2 * math.sqrt(years) * math.exp(
        -abs(spot - key.strike) / spot * 4
    )
    strike = f"{key.strike:g}"
    occ_strike = f"{round(key.strike * 1000):08d}"
    return Instrument(
        conid=conid,
        symbol=underlying.symbol,
        sec_type="OPT",
        currency=underlying.currency,
        exchange="SMART",
        listing_exchange="CBOE",
        company_name=underlying.company_name,
        valid_exchanges="SMART,AMEX,CBOE,PHLX,ISE,BOX,MIAX",
        hours=STOCK_HOURS,
        tick=0.01,
        base_price=max(round(value, 2), 0.05),
        daily_volatility=0.04,
        daily_volume=5e3,
        size_unit=10,
        multiplier=100.0,
        local_symbol=f"{underlying.symbol:<6}{expiry:%y%m%d}{key.right}{occ_strike}",
        trading_class=underlying.symbol,
        underlying_conid=underlying.conid,
        expiry=expiry.strftime("%Y%m%d"),
        strike=key.strike,
        right="CALL" if call else "PUT",
        text=f"{expiry:%b %d '%y}".upper() + f" {strike} {'Call' if call else 'Put'}",
    )
