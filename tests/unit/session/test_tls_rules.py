"""Which certificates are trusted, decided before the first request (DESIGN §5)."""

from __future__ import annotations

from pathlib import Path

import pytest
import responses

from ibkr_session import InsecureGatewayError, InvalidRequestError, SessionManager
from ibkr_session.tls import is_loopback, parse_pin
from tests.logcapture import capture_logs

HEX = "ab" * 32


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("10.0.0.5", False),
        ("gateway.example.com", False),
        ("128.0.0.1", False),
    ],
)
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    "pin", [f"sha256:{HEX}", f"SHA256:{HEX.upper()}", "sha256:" + ":".join(["AB"] * 32), HEX]
)
def test_pins_accept_upper_case_and_colons(pin: str) -> None:
    assert parse_pin(pin) == HEX


@pytest.mark.parametrize("pin", ["sha256:abc", "md5:" + HEX, "sha256:" + "zz" * 32, ""])
def test_bad_pins_are_refused_with_a_typed_error(pin: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        parse_pin(pin)
    assert caught.value.field == "pin"


@responses.activate
def test_remote_gateway_without_pin_or_ca_is_refused_and_nothing_is_sent() -> None:
    with pytest.raises(InsecureGatewayError, match=r"ibkr pin https://10\.0\.0\.5:5000"):
        SessionManager("https://10.0.0.5:5000")
    assert len(responses.calls) == 0


@responses.activate
def test_insecure_escape_works_and_logs_a_warning() -> None:
    responses.post("https://10.0.0.5:5000/v1/api/tickle", json={"session": "x"})
    with capture_logs() as logs:
        manager = SessionManager("https://10.0.0.5:5000", insecure=True)
    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    assert [entry["event"] for entry in warnings] == ["session.tls_insecure"]
    assert manager.request("POST", "/tickle") == {"session": "x"}


def test_remote_gateway_with_pin_or_ca_file_is_accepted(tmp_path: Path) -> None:
    pinned = SessionManager("https://gw.example.com:5000", pin=f"sha256:{HEX}")
    assert pinned.gateway_url == "https://gw.example.com:5000"
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text("-----BEGIN CERTIFICATE-----\n")
    assert SessionManager("https://gw.example.com:5000", verify=str(ca_file)).gateway_url


def test_missing_ca_file_and_pin_with_ca_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="does not exist"):
        SessionManager("https://gw.example.com:5000", verify=str(tmp_path / "missing.pem"))
    with pytest.raises(InvalidRequestError, match="either pin or verify"):
        SessionManager("https://gw.example.com:5000", pin=HEX, verify=str(tmp_path))


def test_verify_false_alone_does_not_disable_verification_for_a_remote_gateway() -> None:
    with pytest.raises(InsecureGatewayError):
        SessionManager("https://10.0.0.5:5000", verify=False)
