"""A seeded, deterministic price path: a pure function of (seed, conid, time).

No state advances with the clock, so time travel in either direction lands on the same
prices, and two simulators with the same seed agree to the cent. The log-price is a sum
of seeded sinusoids (periods from 23 minutes to a year, amplitudes growing like a random
walk's, ``sigma * sqrt(period)``) plus a small per-minute hash noise. ``set_price``
multiplies the path by a factor from that moment on, so the path continues from the
override and history before it is unchanged.

Daily volume follows an intraday U-shape (busy open and close), scaled per day by hash.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

from ibkr_sim.hours import Session
from ibkr_sim.instruments import Instrument

__all__ = ["PricePath"]

_MASK = (1 << 64) - 1
_DAY = 86_400.0
_PERIODS_DAYS = (23 / 1440, 97 / 1440, 7.3 / 24, 2.7, 13.0, 61.0, 367.0)
_NOISE = 0.05  # per-minute noise, as a fraction of the daily volatility
_INTRADAY_SHAPE = 0.5  # volume density 1 + a*cos(2*pi*x) over the session
_EXTENDED_RATE = 0.0002  # extended-hours volume per minute, as a fraction of the day's


def _unit_hash(*parts: int) -> float:
    """A deterministic uniform number in [0, 1) from integers (splitmix64 mixing)."""
    return _unit(_key(*parts))


def _key(*parts: int) -> int:
    x = 0x9E3779B97F4A7C15
    for part in parts:
        x = _mix(x ^ (part & _MASK))
    return x


def _mix(x: int) -> int:
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9 & _MASK
    x = (x ^ (x >> 27)) * 0x94D049BB133111EB & _MASK
    return x ^ (x >> 31)


def _unit(x: int) -> float:
    return (x >> 11) / float(1 << 53)


@dataclass
class _Overrides:
    """Multiplicative factors taking effect at given times (sorted by time)."""

    times: list[float] = field(default_factory=list)
    factors: list[float] = field(default_factory=list)

    def factor_at(self, t: float) -> float:
        index = bisect.bisect_right(self.times, t)
        return self.factors[index - 1] if index else 1.0

    def add(self, t: float, factor: float) -> None:
        index = bisect.bisect_right(self.times, t)
        del self.times[index:], self.factors[index:]
        self.times.append(t)
        self.factors.append(factor)


class PricePath:
    """Raw prices and volumes of every instrument for one seed."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._terms: dict[int, tuple[tuple[float, float, float], ...]] = {}
        self._overrides: dict[int, _Overrides] = {}
        self._streams: dict[tuple[int, int], int] = {}
        self._day_volumes: dict[tuple[int, int], float] = {}

    def price(self, instrument: Instrument, t: float) -> float:
        """The unrounded price at ``t`` (path time: callers clamp to trading hours)."""
        return self.path(instrument, t) * self.factor(instrument, t)

    def path(self, instrument: Instrument, t: float) -> float:
        """The price without overrides."""
        conid = instrument.conid
        terms = self._terms.get(conid) or self._make_terms(instrument)
        log_move = 0.0
        for amplitude, omega, phase in terms:
            log_move += amplitude * math.sin(omega * t + phase)
        noise = (self.jitter(instrument, t, 7) * 2 - 1) * _NOISE
        return instrument.base_price * math.exp(log_move + noise * instrument.daily_volatility)

    def factor(self, instrument: Instrument, t: float) -> float:
        overrides = self._overrides.get(instrument.conid)
        return overrides.factor_at(t) if overrides else 1.0

    def override(self, instrument: Instrument, path_time: float, t: float, price: float) -> None:
        """From ``t`` on, scale the path so that it reads ``price`` at ``path_time``."""
        factor = price / self.path(instrument, path_time)
        self._overrides.setdefault(instrument.conid, _Overrides()).add(t, factor)

    def day_volume(self, instrument: Instrument, day_index: int) -> float:
        """Total volume of one trading date (``day_index``: the date's ordinal)."""
        cache_key = (instrument.conid, day_index)
        volume = self._day_volumes.get(cache_key)
        if volume is None:
            scale = 0.7 + 0.6 * _unit_hash(self._seed, instrument.conid, day_index, 11)
            volume = self._day_volumes[cache_key] = instrument.daily_volume * scale
        return volume

    def cumulative_volume(self, instrument: Instrument, day_index: int, fraction: float) -> float:
        """Volume traded after ``fraction`` (0..1) of the session of ``day_index``."""
        x = min(max(fraction, 0.0), 1.0)
        shape = x + _INTRADAY_SHAPE * math.sin(2 * math.pi * x) / (2 * math.pi)
        return self.day_volume(instrument, day_index) * shape

    def volume_between(
        self, instrument: Instrument, session: Session, start: float, end: float
    ) -> float:
        """Volume traded in ``[start, end)``: U-shaped inside ``session``, a trickle outside
        it (extended hours)."""
        if end <= start:
            return 0.0
        day_index = session.date.toordinal()
        if start == session.open and end == session.close:
            return self.day_volume(instrument, day_index)
        inside_start, inside_end = max(start, session.open), min(end, session.close)
        inside = 0.0
        if inside_end > inside_start:
            length = session.close - session.open
            inside = self.cumulative_volume(
                instrument, day_index, (inside_end - session.open) / length
            ) - self.cumulative_volume(
                instrument, day_index, (inside_start - session.open) / length
            )
        outside_minutes = ((end - start) - max(inside_end - inside_start, 0.0)) / 60.0
        return inside + outside_minutes * _EXTENDED_RATE * self.day_volume(instrument, day_index)

    def jitter(self, instrument: Instrument, t: float, salt: int) -> float:
        """A deterministic uniform number in [0, 1) per minute, one stream per ``salt``."""
        stream = (instrument.conid, salt)
        key = self._streams.get(stream)
        if key is None:
            key = self._streams[stream] = _key(self._seed, instrument.conid, salt)
        return _unit(_mix(key ^ (int(t // 60) & _MASK)))

    def _make_terms(self, instrument: Instrument) -> tuple[tuple[float, float, float], ...]:
        terms = tuple(
            (
                instrument.daily_volatility * 0.5 * math.sqrt(days),
                2 * math.pi / (days * _DAY),
                2 * math.pi * _unit_hash(self._seed, instrument.conid, index),
            )
            for index, days in enumerate(_PERIODS_DAYS)
        )
        self._terms[instrument.conid] = terms
        return terms
