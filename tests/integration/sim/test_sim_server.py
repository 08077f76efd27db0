"""The wire: TLS identity, IPv6 loopback, keep-alive, lifecycle, internal failures."""

from __future__ import annotations

import http.client
import socket
import ssl

import pytest
import requests

from ibkr_session.clock import ManualClock
from ibkr_sim import SimulatedGateway
from ibkr_sim.certs import fingerprint_of
from tests.integration.sim.conftest import Api


def _host_port(gateway: SimulatedGateway) -> tuple[str, int]:
    host, port = gateway.url.removeprefix("https://").rsplit(":", 1)
    return host.strip("[]"), int(port)


def test_the_served_certificate_is_the_advertised_fingerprint(gateway: SimulatedGateway) -> None:
    served = ssl.get_server_certificate(_host_port(gateway))
    assert fingerprint_of(ssl.PEM_cert_to_DER_cert(served)) == gateway.fingerprint


def test_keep_alive_serves_many_requests_on_one_verified_connection(
    gateway: SimulatedGateway,
) -> None:
    context = ssl.create_default_context(cadata=gateway.certificate_pem.decode())
    connection = http.client.HTTPSConnection(*_host_port(gateway), context=context, timeout=5)
    try:
        for _ in range(3):
            connection.request("POST", "/v1/api/tickle")
            answer = connection.getresponse()
            assert answer.status == 200
            assert int(answer.headers["Content-Length"]) == len(answer.read())
    finally:
        connection.close()


def test_ipv6_loopback(clock: ManualClock) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    gateway = SimulatedGateway(clock)
    gateway.start("::1")
    try:
        assert gateway.url.startswith("https://[::1]:")
        assert Api(gateway).post("/tickle").status_code == 200
    finally:
        gateway.stop()


def test_context_manager_starts_and_stops(clock: ManualClock) -> None:
    with SimulatedGateway(clock) as gateway:
        api = Api(gateway)
        assert api.post("/tickle").status_code == 200
    with pytest.raises(requests.ConnectionError):
        api.post("/tickle")


def test_a_failure_inside_an_endpoint_is_a_500_and_the_gateway_carries_on(
    gateway: SimulatedGateway, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(acct: str | None = None) -> list[dict[str, object]]:
        raise KeyError(acct)

    monkeypatch.setattr(gateway.book, "trades", broken)
    failed = api.get("/iserver/account/trades")
    assert (failed.status_code, failed.json()) == (500, {"error": "Internal Server Error"})
    assert api.post("/tickle").status_code == 200
