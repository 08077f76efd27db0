"""A readable account of a run: timestamped lines in local time, and a summary table.

The demo compresses a trading day and night into seconds; what the user keeps is this
story: when the session changed state and why, which orders went out, what filled, which
questions were answered, when the worker waited and when it resumed. ``StateDurations``
turns the session's transitions into "time spent in each state" for the closing table.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

__all__ = ["Event", "StateDurations", "Timeline", "format_duration", "render_table"]


@dataclass(frozen=True)
class Event:
    """One line of the timeline."""

    time: _dt.datetime
    kind: str
    text: str


class Timeline:
    """Collects events and, when given a stream, prints each one as it happens."""

    KIND_WIDTH = 9

    def __init__(self, zone: _dt.tzinfo, out: TextIO | None = None) -> None:
        self.zone = zone
        self._out = out
        self.events: list[Event] = []

    def add(self, time: _dt.datetime, kind: str, text: str) -> None:
        event = Event(time, kind, text)
        self.events.append(event)
        self.write(self.format(event))

    def write(self, line: str) -> None:
        """Print a free line (headings, progress) without recording an event."""
        if self._out is not None:
            print(line, file=self._out, flush=True)

    def format(self, event: Event) -> str:
        return f"{self.stamp(event.time)}  {event.kind:<{self.KIND_WIDTH}} {event.text}"

    def stamp(self, time: _dt.datetime) -> str:
        """``Mon 09:00 EDT``: local time, with the weekday so a night is readable."""
        return f"{time.astimezone(self.zone):%a %H:%M %Z}"

    def span(self, start: _dt.datetime, end: _dt.datetime) -> str:
        """``14:20:00-14:21:00 EDT``: an interval, to the second (a stream's gap is short)."""
        return f"{start.astimezone(self.zone):%H:%M:%S}-{end.astimezone(self.zone):%H:%M:%S %Z}"

    def of_kind(self, kind: str) -> list[Event]:
        return [event for event in self.events if event.kind == kind]


class StateDurations:
    """Time spent in each state, from a start state and the moments it changed."""

    def __init__(self, state: str, since: _dt.datetime) -> None:
        self._state = state
        self._since = since
        self._totals: dict[str, float] = {}

    @property
    def state(self) -> str:
        return self._state

    def change(self, state: str, at: _dt.datetime) -> None:
        self._close(at)
        self._state = state

    def totals(self, until: _dt.datetime) -> dict[str, float]:
        """Seconds per state up to ``until`` (the current state counted to then)."""
        self._close(until)
        return dict(self._totals)

    def _close(self, at: _dt.datetime) -> None:
        spent = max((at - self._since).total_seconds(), 0.0)
        self._totals[self._state] = self._totals.get(self._state, 0.0) + spent
        self._since = at


def format_duration(seconds: float) -> str:
    """``14 h 05 min``, ``12 min``, ``45 s``: how long, at a glance."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min" if not secs else f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def render_table(rows: Sequence[tuple[str, str]], *, title: str = "") -> str:
    """Two left-aligned columns in a box drawn with plain ASCII."""
    width_label = max((len(label) for label, _ in rows), default=0)
    width_value = max((len(value) for _, value in rows), default=0)
    width_value = max(width_value, len(title) - width_label - 3)
    rule = f"+{'-' * (width_label + 2)}+{'-' * (width_value + 2)}+"
    lines = [rule]
    if title:
        lines += [f"| {title:<{width_label + width_value + 3}} |", rule]
    lines += [f"| {label:<{width_label}} | {value:<{width_value}} |" for label, value in rows]
    lines.append(rule)
    return "\n".join(lines)
