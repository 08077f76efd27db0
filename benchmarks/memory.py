"""Peak memory of a long run: RSS growth over 100 000 guarded calls after a warm-up.

The gateway is ``responses`` (requests' transport mocked in-process, answers prepared
once), so what grows is the client, not a server; its records of calls (one overall, one
per registration) are cleared every ``CLEAR_EVERY`` calls, so the mock does not grow.
Time is virtual (a ``ManualClock``): pacing waits cost nothing. The calls cycle through
snapshots, history, contract details, contract search and order placements (each with a
fresh cOID), all ``/iserver`` calls through the session guard. (The live orders are left
out: their 1-per-5-s pacing would carry 100 000 calls into the nightly reset.)

Peak RSS is ``VmHWM`` of /proc/self/status (``ru_maxrss`` where that file is missing).

    python benchmarks/memory.py [--calls 100000] [--warmup 5000]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import re
import resource
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import requests
import responses
from bench import quiet_logs, report

from ibkr_api.client import IbkrClient
from ibkr_session.clock import ManualClock

BASE = "https://localhost:5000/v1/api"
ACCOUNT = "U1234567"
CONIDS = (265598, 8314, 272093, 756733)
START = _dt.datetime(2026, 1, 5, 15, 0, tzinfo=_dt.UTC)  # Monday 10:00 New York
CLEAR_EVERY = 100
TARGET_MB = 5.0
STATUS = {"authenticated": True, "competing": False, "connected": True, "message": ""}

ANSWERS: dict[str, object] = {
    "/iserver/auth/status": STATUS,
    "/iserver/accounts": {"accounts": [ACCOUNT], "selectedAccount": ACCOUNT},
    "/iserver/marketdata/snapshot": [
        {"conid": conid, "31": "168.42", "84": "168.41", "86": "168.43"} for conid in CONIDS
    ],
    "/iserver/marketdata/history": {
        "symbol": "AAPL",
        "data": [
            {"o": 168.0, "c": 168.5, "h": 169.0, "l": 167.5, "v": 1000, "t": 1767625200000 + i}
            for i in range(78)
        ],
    },
    "/iserver/secdef/search": [{"conid": "265598", "symbol": "AAPL", "sections": []}],
    f"/iserver/account/{ACCOUNT}/orders": [
        {"order_id": "1370093240", "order_status": "Submitted", "encrypt_message": "1"}
    ],
}
PREPARED = {path: json.dumps(body).encode() for path, body in ANSWERS.items()}
INFO = json.dumps({"con_id": 265598, "symbol": "AAPL", "exchange": "NASDAQ"}).encode()

CALLS: tuple[Callable[[IbkrClient], object], ...] = (
    lambda c: c.get_market_snapshot(list(CONIDS), ["31", "84", "86"]),
    lambda c: c.get_historical_data(CONIDS[0], "1d", "5min"),
    lambda c: c.get_contract_details(CONIDS[1]),
    lambda c: c.search_contract("AAPL"),
    lambda c: c.place_order(ACCOUNT, CONIDS[2], "BUY", 1, "MKT"),
)


def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
    path = urlsplit(str(request.url)).path.removeprefix("/v1/api")
    body = PREPARED.get(path, INFO if path.endswith("/info") else b"{}")
    return 200, {"Content-Type": "application/json"}, body


def peak_rss_kib() -> int:
    status = Path("/proc/self/status")
    if status.exists():
        found = re.search(r"VmHWM:\s+(\d+) kB", status.read_text())
        if found:
            return int(found[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run(client: IbkrClient, mock: responses.RequestsMock, calls: int) -> None:
    for number in range(calls):
        CALLS[number % len(CALLS)](client)
        if number % CLEAR_EVERY == 0:
            mock.calls.reset()
            for registered in mock.registered():  # each registration keeps its own calls
                registered.calls.reset()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--warmup", type=int, default=5_000)
    options = parser.parse_args()
    quiet_logs()

    clock = ManualClock(START)
    with (
        responses.RequestsMock(assert_all_requests_are_fired=False) as mock,
        IbkrClient(clock=clock) as client,
    ):
        for method in ("GET", "POST"):
            mock.add_callback(method, re.compile(re.escape(BASE) + r"/.*"), callback=answer)
        run(client, mock, options.warmup)
        before = peak_rss_kib()
        started = time.perf_counter()
        run(client, mock, options.calls)
        elapsed = time.perf_counter() - started
        after = peak_rss_kib()

    growth_mb = (after - before) / 1024
    report(
        "memory",
        {
            "transport": "responses (requests mocked in-process)",
            "clock": "ManualClock (virtual)",
            "warmup_calls": options.warmup,
            "calls": options.calls,
            "virtual_hours": round((clock.now() - START).total_seconds() / 3600, 2),
            "wall_seconds": round(elapsed, 1),
            "peak_rss_before_mib": round(before / 1024, 1),
            "peak_rss_after_mib": round(after / 1024, 1),
            "peak_rss_growth_mib": round(growth_mb, 2),
            "target_mib": TARGET_MB,
            "met": growth_mb < TARGET_MB,
        },
        [
            ("peak RSS after warm-up", f"{before / 1024:.1f} MiB", ""),
            (f"peak RSS after {options.calls} calls", f"{after / 1024:.1f} MiB", ""),
            ("growth", f"{growth_mb:.2f} MiB", f"< {TARGET_MB} MB"),
        ],
    )


if __name__ == "__main__":
    main()
