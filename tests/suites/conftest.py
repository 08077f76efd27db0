"""Fixtures of the long-haul suites: quiet logs (the clock and the simulator: tests/conftest.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def quiet_logs() -> Iterator[None]:
    """Only warnings and errors: these suites send tens of thousands of requests, and
    rendering every debug event would cost more than the requests themselves."""
    previous = structlog.get_config()
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        cache_logger_on_first_use=False,
    )
    try:
        yield
    finally:
        structlog.configure(**previous)
