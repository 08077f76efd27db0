"""A simulated IBKR Client Portal Gateway over real HTTPS on loopback.

``SimulatedGateway`` answers with IBKR's recorded shapes and misbehaves the way the real
one does (idle expiry, nightly reset, competing logins, pacing, order questions), on an
injected clock, so tests of trading workers can travel through a night in milliseconds::

    clock = ManualClock()
    with SimulatedGateway(clock) as gateway, IbkrClient(gateway.url, clock=clock) as ibkr:
        ibkr.get_positions("U1234567")
        gateway.start_competing()  # ... and watch the client cope
"""

from ibkr_sim.certs import SelfSignedCert, generate_self_signed
from ibkr_sim.gateway import SimRequest, SimulatedGateway

__all__ = ["SelfSignedCert", "SimRequest", "SimulatedGateway", "generate_self_signed"]
