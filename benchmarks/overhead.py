"""Per-call cost of ``IbkrClient`` against a bare ``requests.Session``, same endpoint.

Both sides call ``GET /portfolio/accounts`` of one simulated gateway over keep-alive HTTPS
on loopback, with the same TLS settings (the adapter and ``verify`` the library picks for
a loopback gateway). Pacing is off on both sides for this measurement only: it exists to
wait, and waiting is not overhead. Rounds alternate (client, bare, client, ...) so drift
of the machine hits both alike; the figure is the median of the per-round ratios.

    python benchmarks/overhead.py [--rounds 15] [--calls 300]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import requests
from bench import quiet_logs, report

from ibkr_api.client import IbkrClient
from ibkr_session.tls import decide_trust, parse_gateway_url
from ibkr_sim.gateway import SimulatedGateway

PATH = "/portfolio/accounts"
TARGET = 1.10


def bare_session(url: str) -> requests.Session:
    """A plain ``requests.Session`` trusting the gateway exactly as the library does."""
    address = parse_gateway_url(url)
    trust = decide_trust(address)
    session = requests.Session()
    session.trust_env = False
    session.verify = trust.verify
    session.mount(address.root + "/", trust.adapter)
    return session


def per_call(call: Callable[[], object], calls: int) -> float:
    """Seconds per call over ``calls`` back-to-back calls."""
    started = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=300)
    options = parser.parse_args()
    quiet_logs()

    with (
        SimulatedGateway(pacing=False) as sim,
        IbkrClient(sim.url, pacing=False) as client,
        bare_session(sim.url) as bare,
    ):
        url = f"{sim.url}/v1/api{PATH}"

        def bare_call() -> object:
            response = bare.get(url, timeout=(5.0, 10.0))
            response.raise_for_status()
            return response.json()

        per_call(client.get_accounts, 50)  # warm-up: connections, caches, imports
        per_call(bare_call, 50)
        library: list[float] = []
        baseline: list[float] = []
        for _ in range(options.rounds):
            library.append(per_call(client.get_accounts, options.calls))
            baseline.append(per_call(bare_call, options.calls))

    ratios = [lib / base for lib, base in zip(library, baseline, strict=True)]
    ratio = statistics.median(ratios)
    client_us = statistics.median(library) * 1e6
    bare_us = statistics.median(baseline) * 1e6
    report(
        "overhead",
        {
            "endpoint": f"GET {PATH}",
            "rounds": options.rounds,
            "calls_per_round": options.calls,
            "client_us_per_call_median": round(client_us, 1),
            "bare_us_per_call_median": round(bare_us, 1),
            "added_us_per_call": round(client_us - bare_us, 1),
            "ratio_median": round(ratio, 3),
            "ratio_min": round(min(ratios), 3),
            "ratio_max": round(max(ratios), 3),
            "target": TARGET,
            "met": ratio <= TARGET,
        },
        [
            ("IbkrClient per call", f"{client_us:.0f} us", ""),
            ("bare requests per call", f"{bare_us:.0f} us", ""),
            ("added by the library", f"{client_us - bare_us:.0f} us", ""),
            ("ratio (median of rounds)", f"{ratio:.3f}", f"<= {TARGET}"),
        ],
    )


if __name__ == "__main__":
    main()
