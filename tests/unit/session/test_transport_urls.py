"""The gateway URL is parsed once, strictly: what is checked is what is connected to."""

from __future__ import annotations

import pytest
import responses
from structlog.testing import capture_logs

from ibkr_session import InsecureGatewayError, InvalidRequestError, ManualClock
from ibkr_session.tls import is_loopback, parse_gateway_url, redact_url
from ibkr_session.transport import Transport


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example\\@localhost:5000",
        "https://evil.example%5C@localhost:5000",
        "https://user:pw@localhost:5000",
        "https://localhost:5000@evil.example",
        "https://local host:5000",
        "https://localhost:5000\t/v1/api",
        "https://lôcalhost:5000",
        "https://[::1:5000",
        "https://localhost:5000:6000",
        "https://localhost:70000",
    ],
)
def test_urls_two_parsers_could_read_differently_are_refused_before_anything_is_sent(
    url: str,
) -> None:
    with responses.RequestsMock() as mock, pytest.raises(InvalidRequestError) as caught:
        Transport(url, clock=ManualClock())
    assert caught.value.field == "gateway_url"
    assert len(mock.calls) == 0


def test_a_password_in_the_url_never_reaches_an_error_text_or_a_log() -> None:
    with capture_logs() as logs, pytest.raises(InvalidRequestError) as caught:
        Transport("https://trader:hunter2@gw.example.com:5000", clock=ManualClock())
    assert "hunter2" not in str(caught.value)
    assert "***@gw.example.com" in str(caught.value)
    assert "hunter2" not in repr(logs)


def test_redact_url_hides_userinfo_only() -> None:
    assert redact_url("https://a:b@host:1/x") == "https://***@host:1/x"
    assert redact_url("https://host:1/x?a=b") == "https://host:1/x?a=b"


@pytest.mark.parametrize("name", ["evil.localhost", "localhost.evil.example", "127.0.0.1.nip.io"])
def test_names_that_merely_look_local_are_not_trusted_as_loopback(name: str) -> None:
    assert is_loopback(name) is False
    with pytest.raises(InsecureGatewayError):
        Transport(f"https://{name}:5000", clock=ManualClock())


def test_the_address_connected_to_is_the_one_checked() -> None:
    address = parse_gateway_url("https://[::1]:5000/v1/api/")
    assert (address.host, address.port, address.root) == ("::1", 5000, "https://[::1]:5000")
    assert is_loopback(address.host)
