"""IBKR's string formats for snapshot values ("1,300", "23.6M", "C168.42", "0.54%").

The gateway sends market data as display strings, not numbers; clients that call
``float()`` on them break, and the simulator must reproduce that faithfully.
"""

from __future__ import annotations

__all__ = ["format_change", "format_percent", "format_price", "format_size", "format_volume"]


def format_price(price: float, decimals: int) -> str:
    """A price with the instrument's decimals: ``655.90``, ``1.08215``."""
    return f"{price:.{decimals}f}"


def format_change(change: float, decimals: int) -> str:
    """A signed move without a plus sign, as IBKR shows it: ``3.50``, ``-1.20``."""
    text = f"{change:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def format_percent(fraction: float) -> str:
    """A change in percent with two decimals: ``0.54%``, ``-1.10%``."""
    return f"{format_change(fraction * 100, 2)}%"


def format_size(size: float) -> str:
    """Whole units with thousands separators: ``1,300``."""
    return f"{round(size):,}"


def format_volume(volume: float) -> str:
    """Three significant digits with a K/M/B suffix: ``999``, ``12.3K``, ``123K``, ``50.0M``."""
    if volume < 1000:
        return str(round(volume))
    for threshold, suffix in ((1e3, "K"), (1e6, "M"), (1e9, "B")):
        scaled = volume / threshold
        digits = 2 if scaled < 10 else 1 if scaled < 100 else 0
        text = f"{scaled:.{digits}f}"
        if float(text) < 1000:
            return text + suffix
    return f"{volume / 1e9:.0f}B"
