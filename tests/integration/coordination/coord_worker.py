"""One worker process of the coordination contract tests.

Run as ``python -m tests.integration.coordination.coord_worker '<json>'`` from the
repository root; the JSON names the ``mode``, the store ``url`` (``file:///...`` or
``redis://...``, opened *without* degraded mode so a failure is a failure) and the
``namespace``. It prints one JSON line with its result and exits. Modes that race start
together: each prints ``{"ready": true}`` and waits for a start time (epoch seconds) on
stdin (``conftest.start_together``), so slow interpreter start-ups never spoil a race.

Modes:
- ``increment``: ``n`` read-modify-write updates of one counter (lost updates show);
- ``generation``: ``new_generation(seen)``, all workers at once;
- ``pace``: from the common start for ``duration`` s, take a slot of ``budget``, send one line
  to the counting server on ``port`` (which notes the arrival), wait for its answer, then
  ``finish_slot``: the server's notes show whether the limit held *as a server counts*;
- ``penalize``: ``penalize(until)``;
- ``hold``: keep the ``lease`` (``ttl``), renewing every ``interval`` s until killed;
- ``client``: a real ``IbkrClient`` on the ``gateway`` URL with this coordination, three
  threads calling as fast as pacing allows for ``duration`` s; outcomes by class.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from typing import Any

from ibkr_session.coordination import Budget, Coordinator, Grant, Store
from ibkr_session.coordination.file import FileStore
from ibkr_session.coordination.redis_store import RedisStore


def open_raw(url: str) -> Store:
    """The backend a URL names, with no degraded mode around it."""
    if url.startswith("file://"):
        return FileStore(url.removeprefix("file://"), timeout=5.0)
    if url.startswith("redis://"):
        return RedisStore(url, timeout=10.0)
    raise ValueError(f"not a shared store: {url!r}")


def _start(args: dict[str, Any]) -> float:
    """Say ``ready``, read the common start (wall time) from stdin, wait for it."""
    print(json.dumps({"ready": True}), flush=True)
    start_at = float(sys.stdin.readline())
    delay = start_at - time.time()
    if delay > 0:
        time.sleep(delay)
    return start_at


def run(args: dict[str, Any]) -> dict[str, Any]:
    store = open_raw(args["url"])
    coordinator = Coordinator(store, namespace=args["namespace"])
    mode = args["mode"]
    try:
        if mode == "increment":
            key = args["namespace"] + "|counter"

            def bump(values: dict[str, Any]) -> None:
                values[key] = int(values.get(key, 0)) + 1

            _start(args)
            for _ in range(args["n"]):
                store.update([key], bump)
            return {"done": args["n"]}
        if mode == "generation":
            _start(args)
            return {"generation": coordinator.new_generation(args["seen"])}
        if mode == "pace":
            return _pace(coordinator, args)
        if mode == "penalize":
            coordinator.penalize(args["until"])
            return {"penalized": args["until"]}
        if mode == "client":
            return _client(args)
        if mode == "hold":
            print(json.dumps({"holder": coordinator.holder}), flush=True)
            while True:
                coordinator.acquire(args["lease"], args["ttl"], time.time())
                time.sleep(args["interval"])
        raise ValueError(f"unknown mode {mode!r}")
    finally:
        store.close()


def _client(args: dict[str, Any]) -> dict[str, Any]:
    """A real ``IbkrClient`` sharing the coordination: snapshots, positions and tickles
    from three threads, as fast as pacing lets them, for ``duration`` s."""
    import threading

    from ibkr_api.client import IbkrClient
    from ibkr_session.errors import IbkrError

    client = IbkrClient(
        args["gateway"],
        coordination=args["url"],
        timeout=30.0,
        pacing_max_wait=5.0,
        region=args.get("region", "america"),
    )
    calls = {
        "snapshot": lambda: client.get_market_snapshot([265598], ["31"]),
        "positions": lambda: client.get_positions("U1234567"),
        "tickle": client.tickle,
    }
    outcomes: dict[str, int] = {}
    lock = threading.Lock()
    end = _start(args) + args["duration"]

    def loop(call: Any) -> None:
        while time.time() < end:
            try:
                call()
                outcome = "ok"
            except IbkrError as exc:  # typed: counted by class (a 429 would show here)
                outcome = type(exc).__name__
                time.sleep(min(getattr(exc, "retry_after", 0.1) or 0.1, 1.0))
            with lock:
                outcomes[outcome] = outcomes.get(outcome, 0) + 1

    threads = [threading.Thread(target=loop, args=(call,)) for call in calls.values()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.close()
    return {"outcomes": outcomes}


def _pace(coordinator: Coordinator, args: dict[str, Any]) -> dict[str, Any]:
    budget = Budget(**args["budget"])
    sent = 0
    with socket.create_connection(("127.0.0.1", args["port"])) as conn:
        reader = conn.makefile("rb")
        end = _start(args) + args["duration"]
        while time.time() < end:
            result = coordinator.take_slot([budget], time.time())
            if not isinstance(result, Grant):
                time.sleep(min(result.seconds, 0.05))
                continue
            conn.sendall(b"request\n")
            reader.readline()
            coordinator.finish_slot(result, time.time())
            sent += 1
    return {"sent": sent}


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1]))), flush=True)
