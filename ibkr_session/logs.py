"""Loggers that stay quiet until the application configures ``logging``.

structlog's default configuration prints every event to stdout, and changing that global
configuration is the application's business, not a library's. So every module of these
packages logs through ``get_logger(__name__)``: a structlog logger bound to the standard
library logger of that name, with its own processors (the global structlog configuration
is neither read nor changed).

- Nothing is printed unless the application configures ``logging`` (Python's last-resort
  handler shows only warnings and errors, as for any library).
- Level checks happen first, so a disabled ``debug`` event per request costs one
  ``isEnabledFor`` call.
- A record's message is the event and its key-value pairs
  (``session.transition old='AUTHENTICATED' new='STALE' reason='...'``); the pairs are also
  attached as ``record.ibkr_event`` (a dict) for structured handlers.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

import structlog

__all__ = ["EVENT_ATTRIBUTE", "event_of", "get_logger"]

EVENT_ATTRIBUTE = "ibkr_event"
"""The ``LogRecord`` attribute holding the event's key-value pairs (with ``event``)."""


def _to_stdlib(
    logger: logging.Logger, method_name: str, event_dict: MutableMapping[str, Any]
) -> dict[str, Any]:
    """The last processor: one ``logging`` call with a readable message and the pairs.

    A traceback (``exc_info``) is left to ``logging`` itself, which formats it as usual.
    """
    exc_info = event_dict.pop("exc_info", None)
    pairs = " ".join(f"{key}={value!r}" for key, value in event_dict.items() if key != "event")
    event = str(event_dict.get("event", ""))
    message = f"{event} {pairs}" if pairs else event
    kwargs: dict[str, Any] = {"msg": message, "extra": {EVENT_ATTRIBUTE: dict(event_dict)}}
    if exc_info:
        kwargs["exc_info"] = exc_info
    return kwargs


_PROCESSORS: list[Any] = [
    structlog.stdlib.filter_by_level,
    _to_stdlib,
]


def get_logger(name: str, **initial_values: Any) -> Any:
    """A structlog logger over ``logging.getLogger(name)``, bound to ``initial_values``."""
    return structlog.wrap_logger(
        logging.getLogger(name),
        processors=_PROCESSORS,
        wrapper_class=structlog.stdlib.BoundLogger,
        **initial_values,
    )


def event_of(record: logging.LogRecord) -> dict[str, Any]:
    """The key-value pairs of a record made by ``get_logger`` (``{}`` for any other)."""
    pairs = getattr(record, EVENT_ATTRIBUTE, None)
    return dict(pairs) if isinstance(pairs, dict) else {}
