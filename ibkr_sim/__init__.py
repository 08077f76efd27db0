"""A simulated IBKR Client Portal Gateway over real HTTPS on loopback.

``SimulatedGateway`` answers with IBKR's recorded shapes and misbehaves the way the real
one does (idle expiry, nightly reset, competing logins, pacing, order questions), on an
injected clock, so tests of trading workers can travel through a night in milliseconds::

    clock = ManualClock()
    with SimulatedGateway(clock) as gateway, IbkrClient(gateway.url, clock=clock) as ibkr:
        ibkr.get_positions("U1234567")
        gateway.start_competing()  # ... and watch the client cope

The same port serves IBKR's WebSocket (``wss://HOST:PORT/v1/api/ws``, cookie
``api={"session":"<session from /tickle>"}``): see ``ibkr_sim.streams``.
"""

from ibkr_sim.certs import SelfSignedCert, generate_self_signed
from ibkr_sim.gateway import SimRequest, SimulatedGateway
from ibkr_sim.streams import StreamFrame

__all__ = [
    "SelfSignedCert",
    "SimRequest",
    "SimulatedGateway",
    "StreamFrame",
    "generate_self_signed",
]
