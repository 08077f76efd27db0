"""TLS decisions against a real HTTPS server on loopback (the simulator's self-signed cert)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from urllib3.exceptions import InsecureRequestWarning

from ibkr_session import GatewayUnreachableError, ManualClock, SessionManager
from ibkr_session.tls import fetch_fingerprint
from ibkr_sim import SimulatedGateway

Connect = Callable[..., SessionManager]


def insecure_warnings(action: Callable[[], object]) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        action()
    return [entry for entry in caught if issubclass(entry.category, InsecureRequestWarning)]


def test_loopback_self_signed_cert_is_accepted_without_warnings(
    connect: Connect, sim: SimulatedGateway
) -> None:
    manager = connect()
    assert insecure_warnings(lambda: manager.request("POST", "/tickle")) == []
    # The same request made the plain way does warn: the check above can fail.
    plain = requests.Session()
    plain.trust_env = False
    sent = insecure_warnings(lambda: plain.post(sim.url + "/v1/api/tickle", verify=False))
    assert sent != []


def test_right_pin_is_accepted(connect: Connect, sim: SimulatedGateway) -> None:
    manager = connect(pin=sim.fingerprint.upper().replace("SHA256:", "sha256:"))
    assert "iserver" in manager.request("POST", "/tickle")


def test_wrong_pin_is_refused_before_the_request_leaves(
    connect: Connect, sim: SimulatedGateway
) -> None:
    manager = connect(pin="sha256:" + "00" * 32)
    with pytest.raises(GatewayUnreachableError, match="TLS") as caught:
        manager.request("POST", "/tickle")
    assert caught.value.maybe_sent is False
    assert sim.requests == []
    assert "Fingerprints did not match" in str(caught.value)
    assert "Max retries" not in str(caught.value)  # the cause, not urllib3's pool internals


def test_the_certificate_as_a_ca_file_is_accepted(
    connect: Connect, sim: SimulatedGateway, tmp_path: Path
) -> None:
    ca_file = tmp_path / "gateway.pem"
    ca_file.write_bytes(sim.certificate_pem)
    manager = connect(verify=str(ca_file))
    assert "iserver" in manager.request("POST", "/tickle")


def test_fetch_fingerprint_reads_the_pin_a_user_should_give(sim: SimulatedGateway) -> None:
    assert fetch_fingerprint(sim.url, timeout=5.0) == sim.fingerprint


def test_fetch_fingerprint_of_a_gateway_that_is_down(sim: SimulatedGateway) -> None:
    url = sim.url
    sim.down()
    with pytest.raises(GatewayUnreachableError, match="cannot read the certificate"):
        fetch_fingerprint(url, timeout=2.0)


def test_refused_connection_is_surely_not_sent(sim: SimulatedGateway, clock: ManualClock) -> None:
    url = sim.url
    sim.down()
    with SessionManager(url, clock=clock) as manager:
        with pytest.raises(GatewayUnreachableError) as caught:
            manager.request("GET", "/portfolio/accounts")
        assert caught.value.maybe_sent is False
        assert str(caught.value).startswith(f"GET /portfolio/accounts to {url}: could not connect")
        assert "Max retries" not in str(caught.value)
