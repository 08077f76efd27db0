"""Capture what our packages log, as ``structlog.testing.capture_logs`` did.

The library logs through stdlib ``logging`` (``ibkr_session.logs``), so structlog's test
helper no longer sees its events. ``capture_logs()`` here has the same shape: a context
manager yielding a list of dicts, each the event's key-value pairs plus ``log_level``
(lower case) and ``exc_info=True`` when a traceback was logged. The ``log_events`` fixture
of ``tests/conftest.py`` is built on it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ibkr_session.logs import event_of

__all__ = ["LOGGERS", "as_event", "capture_events", "capture_logs"]


LOGGERS = ("ibkr_session", "ibkr_api", "ibkr_sim", "ibkr_host")
"""The loggers of our four packages (every module logs under its package's name)."""


def as_event(record: logging.LogRecord) -> dict[str, Any]:
    """A log record as ``structlog.testing.capture_logs`` showed it: the event's key-value
    pairs, ``log_level`` (lower case) and ``exc_info=True`` when a traceback was logged."""
    event = event_of(record) or {"event": record.getMessage()}
    event["log_level"] = record.levelname.lower()
    if record.exc_info:
        event["exc_info"] = True
    return event


class _ListHandler(logging.Handler):
    def __init__(self, into: list[dict[str, Any]]) -> None:
        super().__init__(logging.DEBUG)
        self._into = into

    def emit(self, record: logging.LogRecord) -> None:
        self._into.append(as_event(record))


@contextmanager
def capture_events(
    level: int = logging.DEBUG, into: list[dict[str, Any]] | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Every event our packages log inside the block (from ``level`` on), as dicts.

    The loggers are opened to ``level`` for the block and restored afterwards; records still
    propagate, so pytest's own log capture shows them on a failure.
    """
    events: list[dict[str, Any]] = [] if into is None else into
    handler = _ListHandler(events)
    handler.setLevel(level)
    loggers = [logging.getLogger(name) for name in LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(level)
    try:
        yield events
    finally:
        for logger, previous in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(previous)


def capture_logs() -> Any:
    """``with capture_logs() as events:``: the events logged inside the block, at DEBUG."""
    return capture_events()
