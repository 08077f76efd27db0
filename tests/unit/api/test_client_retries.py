"""Which failures the client retries, on the session clock, and which it raises at once."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from ibkr_api.client import IbkrClient
from ibkr_session import (
    GatewayUnavailableError,
    ManualClock,
    RateLimitedError,
    ResetWindowError,
)

from .conftest import Gateway, Reply

INFO = "/iserver/contract/265598/info"


def test_a_read_survives_a_dropped_connection_and_a_503(
    client: IbkrClient, gateway: Gateway
) -> None:
    details = gateway.body("Contracts__GET-contract-info")
    gateway.answer("GET", INFO, requests.exceptions.ConnectionError("reset"), Reply(503), details)

    assert client.get_contract_details(265598) == details
    assert len(gateway.sent()) == 3


def test_a_short_429_is_waited_out_then_retried(client: IbkrClient, gateway: Gateway) -> None:
    details = gateway.body("Contracts__GET-contract-info")
    too_many = Reply(429, {"error": "Too Many Requests"}, {"Retry-After": "3"})
    gateway.answer("GET", INFO, too_many, details)

    assert client.get_contract_details(265598) == details
    first, second = gateway.sent()
    assert second.at - first.at >= 3.0


def test_a_429_whose_quiet_time_outlasts_the_deadline_is_raised_at_once(
    client: IbkrClient, gateway: Gateway
) -> None:
    # Without Retry-After the gateway's penalty box lasts minutes: hammering it risks a
    # permanent block, so the worker gets the error instead.
    gateway.answer("GET", INFO, Reply(429, {"error": "Too Many Requests"}))

    with pytest.raises(RateLimitedError):
        client.get_contract_details(265598)
    assert len(gateway.sent()) == 1


def test_reads_give_up_at_the_deadline(gateway: Gateway, clock: ManualClock) -> None:
    gateway.answer("GET", INFO, Reply(503))
    with IbkrClient(clock=clock, retry_deadline=5.0, retry_attempts=100) as client:
        started = clock.monotonic()
        with pytest.raises(GatewayUnavailableError):
            client.get_contract_details(265598)

    assert 1 < len(gateway.sent()) < 100
    assert gateway.sent()[-1].at - started <= 5.0


def test_the_reset_window_is_raised_without_sending_or_retrying(
    gateway: Gateway, clock: ManualClock
) -> None:
    clock.set(dt.datetime(2026, 1, 6, 6, 0, tzinfo=dt.UTC))  # 01:00 New York, winter
    with IbkrClient(clock=clock) as client, pytest.raises(ResetWindowError):
        client.get_contract_details(265598)

    assert gateway.sent(include_session=True) == []
