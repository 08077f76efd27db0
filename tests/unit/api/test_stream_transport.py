"""The WebSocket transport obeys REST's trust decision (DESIGN §5) and IBKR's address and
cookie (IBKR-FACTS §3a)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from ibkr_session import ManualClock, SessionManager
from ibkr_session.errors import InsecureGatewayError
from ibkr_session.tls import decide_trust, parse_gateway_url
from ibkr_session.ws_transport import session_cookie, ssl_context, trust_of, websocket_url

PIN = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("gateway", "expected"),
    [
        ("https://localhost:5000", "wss://localhost:5000/v1/api/ws"),
        ("https://localhost:5000/v1/api/", "wss://localhost:5000/v1/api/ws"),
        ("https://127.0.0.1:5001", "wss://127.0.0.1:5001/v1/api/ws"),
        ("https://[::1]:5000", "wss://[::1]:5000/v1/api/ws"),
    ],
)
def test_the_socket_lives_at_v1_api_ws_of_the_gateway(gateway: str, expected: str) -> None:
    assert websocket_url(gateway) == expected


def test_the_cookie_carries_the_tickle_session_as_ibkr_spells_it() -> None:
    assert session_cookie("a1b2c3") == 'api={"session":"a1b2c3"}'


def test_a_loopback_gateway_is_trusted_quietly_without_a_pin() -> None:
    context, fingerprint = ssl_context(decide_trust(parse_gateway_url("https://localhost:5000")))
    assert context.verify_mode is ssl.CERT_NONE
    assert fingerprint is None


def test_a_pin_is_checked_on_every_socket() -> None:
    address = parse_gateway_url("https://gateway.internal:5000")
    context, fingerprint = ssl_context(decide_trust(address, pin=PIN))
    assert context.verify_mode is ssl.CERT_NONE  # the pin replaces the chain
    assert fingerprint == "ab" * 32


def test_a_ca_file_means_full_verification(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    address = parse_gateway_url("https://gateway.internal:5000")
    trust = decide_trust(address, verify=str(ca))
    with pytest.raises(ssl.SSLError):  # an empty CA file: the context really loads it
        ssl_context(trust)


def test_verify_true_uses_the_system_store_and_the_hostname() -> None:
    address = parse_gateway_url("https://gateway.internal:5000")
    context, fingerprint = ssl_context(decide_trust(address, verify=True))
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert fingerprint is None


def test_insecure_is_the_explicit_escape_for_a_remote_gateway() -> None:
    address = parse_gateway_url("https://gateway.internal:5000")
    context, fingerprint = ssl_context(decide_trust(address, insecure=True))
    assert context.verify_mode is ssl.CERT_NONE
    assert fingerprint is None


def test_a_remote_gateway_without_trust_never_gets_a_socket() -> None:
    with pytest.raises(InsecureGatewayError):
        SessionManager("https://gateway.internal:5000", clock=ManualClock())


def test_the_manager_s_own_decision_is_the_one_the_socket_uses() -> None:
    manager = SessionManager("https://gateway.internal:5000", clock=ManualClock(), pin=PIN)
    try:
        context, fingerprint = ssl_context(trust_of(manager))
    finally:
        manager.close()
    assert fingerprint == "ab" * 32
    assert context.verify_mode is ssl.CERT_NONE
