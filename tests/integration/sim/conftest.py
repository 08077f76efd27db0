"""Fixtures for the simulator's own tests: a gateway on a virtual clock and a plain client.

These tests talk to the simulator with bare ``requests`` (not this project's client), so
the simulator is checked against IBKR's facts and recordings, never against our client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import urllib3

from ibkr_session.clock import ManualClock
from ibkr_sim import SimulatedGateway

ACCOUNT = "U1234567"


class Api:
    """A bare HTTPS client for the simulator: paths are relative to ``/v1/api``."""

    def __init__(self, gateway: SimulatedGateway, timeout: float = 5.0) -> None:
        self.base = gateway.url + "/v1/api"
        self.timeout = timeout
        self.http = requests.Session()
        self.http.trust_env = False  # REQUESTS_CA_BUNDLE would override verify=False
        self.http.verify = False

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return self.http.request(method, self.base + path, **kwargs)

    def prime(self) -> None:
        """What a client does after (re-)authentication: query the accounts."""
        assert self.get("/iserver/accounts").status_code == 200


@pytest.fixture(autouse=True)
def _quiet_tls_warnings() -> None:
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)


@pytest.fixture
def make_gateway(clock: ManualClock) -> Iterator[Callable[..., SimulatedGateway]]:
    """Start a gateway on the test's clock (pacing off unless asked); stopped afterwards."""
    started: list[SimulatedGateway] = []

    def make(**options: Any) -> SimulatedGateway:
        options.setdefault("pacing", False)
        gateway = SimulatedGateway(clock, **options)
        gateway.start()
        started.append(gateway)
        return gateway

    yield make
    for gateway in started:
        gateway.stop()


@pytest.fixture
def gateway(make_gateway: Callable[..., SimulatedGateway]) -> SimulatedGateway:
    return make_gateway()


@pytest.fixture
def api(gateway: SimulatedGateway) -> Api:
    return Api(gateway)
