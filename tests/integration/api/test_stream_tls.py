"""The stream's socket obeys the same trust as REST, over real TLS to the simulator: a pin
or a CA file work, a wrong pin or a foreign session cookie get no stream at all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ibkr_api import IbkrClient, Stream
from ibkr_session import ManualClock, SessionManager
from ibkr_session.errors import GatewayUnreachableError
from ibkr_session.ws_transport import WebSocketConnector
from ibkr_sim import SimulatedGateway

AAPL = 265598


def first_quote(stream: Stream, clock: ManualClock) -> float | None:
    stream.subscribe_quotes([AAPL], fields=("31",))
    for _ in range(60):
        stream.next_event(0.1)
        quote = stream.latest(AAPL)
        if quote is not None and quote.last is not None:
            return quote.last
        clock.advance(1)
    return None


def test_a_pinned_gateway_streams(
    connect: Callable[..., IbkrClient], sim: SimulatedGateway, clock: ManualClock
) -> None:
    ibkr = connect(pin=sim.fingerprint)
    with ibkr.stream(poll=0.01) as stream:
        assert first_quote(stream, clock) is not None


def test_a_gateway_trusted_by_ca_file_streams(
    connect: Callable[..., IbkrClient], sim: SimulatedGateway, clock: ManualClock, tmp_path: Path
) -> None:
    ca_file = tmp_path / "gateway.pem"
    ca_file.write_bytes(sim.certificate_pem)
    ibkr = connect(verify=str(ca_file))
    with ibkr.stream(poll=0.01) as stream:
        assert first_quote(stream, clock) is not None


def test_a_wrong_pin_gets_no_socket(sim: SimulatedGateway, clock: ManualClock) -> None:
    session = SessionManager(sim.url, clock=clock)
    pinned = SessionManager(sim.url, clock=clock, pin="sha256:" + "00" * 32)
    try:
        session_id = session.request("POST", "/tickle")["session"]
        with pytest.raises(GatewayUnreachableError, match="pinned"):
            WebSocketConnector(pinned)(session_id)
    finally:
        session.close()
        pinned.close()
    assert not [frame for frame in sim.stream_log if frame.direction == "received"]


def test_a_foreign_session_cookie_is_refused(sim: SimulatedGateway, clock: ManualClock) -> None:
    session = SessionManager(sim.url, clock=clock)
    try:
        with pytest.raises(GatewayUnreachableError, match="401"):
            WebSocketConnector(session)("not-the-session")
    finally:
        session.close()
    assert sim.open_streams == 0
