"""Fixtures of the long-haul suites: quiet logs (the clock and the simulator: tests/conftest.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.logcapture import LOGGERS


@pytest.fixture(autouse=True)
def quiet_logs() -> Iterator[None]:
    """Only warnings and errors: these suites send tens of thousands of requests, and
    rendering every debug event would cost more than the requests themselves."""
    loggers = [logging.getLogger(name) for name in LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, previous in zip(loggers, levels, strict=True):
            logger.setLevel(previous)
