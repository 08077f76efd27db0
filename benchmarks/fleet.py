"""Many workers, one gateway: what a coordination backend costs, and what a fleet achieves.

- cost: one request's coordination (``take_slot`` + ``finish_slot`` on the gateway's row
  and the endpoint's row), timed alone, ``pairs`` times per backend: memory, file (SQLite
  in a temporary directory), redis (a ``redis-server`` started on a free port, no
  persistence), and, for the design choice, redis through a redis-py ``Lock`` around the
  read-modify-write instead of WATCH/MULTI. Then the same with 4 processes at once
  (contention): per-update latency p50/p99 and updates/s across the four.
- fleet: 1, 2, 4, 8 worker processes, each an ``IbkrClient`` sharing one coordination
  (file, then redis) against one ``SimulatedGateway`` in its own process on the real clock
  (IBKR's limits enforced), each worker running the mixed workload of ``pacing.py``
  (snapshots, live orders, positions, history, tickles, one thread per kind) as fast as it
  can for ``seconds``: aggregate achieved ÷ permitted for the whole gateway (IBKR's 10/s
  times the pacer's safety 0.9; requests the gateway served, after the first 2 s whose
  burst into an empty window would flatter the figure) and the 429s the gateway answered.

    python benchmarks/fleet.py [--pairs 3000] [--seconds 20] [--skip-fleet]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import redis
from bench import percentile, quiet_logs, report

from ibkr_session.coordination import Budget, Coordinator, Grant, MemoryStore, Store
from ibkr_session.coordination.file import FileStore
from ibkr_session.coordination.redis_store import RedisStore

T = TypeVar("T")

ROWS = (Budget("gateway", capacity=10, window=1 / 0.9), Budget("snapshot", 10, 1 / 0.9))
"""One snapshot request's rows, as the pacer builds them (10/s with safety 0.9)."""
CONTENDERS = 4


# -- a redis-server of our own ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_redis(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    executable = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 (our own arguments)
        [
            *(executable, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)),
            *("--save", "", "--appendonly", "no", "--loglevel", "warning"),
        ],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, socket_timeout=0.5)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.RedisError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.02)
    client.close()
    return process, f"redis://127.0.0.1:{port}/0"


class LockedRedisStore(RedisStore):
    """The alternative measured for the design choice: redis-py's ``Lock`` (a Lua-backed
    SET NX PX lock) around GET, change, SET, instead of an optimistic WATCH/MULTI."""

    def update(self, keys: Sequence[str], change: Callable[[dict[str, Any]], T]) -> T:
        client = self._client
        names = [self.prefix + key for key in keys]
        with client.lock(self.prefix + "lock", timeout=2.0, blocking_timeout=2.0):
            texts = client.mget(names)
            values = {
                key: json.loads(text)
                for key, text in zip(keys, texts, strict=True)
                if text is not None
            }
            result = change(values)
            pipe = client.pipeline(transaction=False)
            for key, name in zip(keys, names, strict=True):
                if key in values:
                    pipe.set(name, json.dumps(values[key], separators=(",", ":")), ex=self.ttl)
                else:
                    pipe.delete(name)
            pipe.execute()
        return result


def open_store(kind: str, location: str) -> Store:
    if kind == "memory":
        return MemoryStore()
    if kind == "file":
        return FileStore(location, timeout=10.0)
    if kind == "redis":
        return RedisStore(location, timeout=30.0)
    return LockedRedisStore(location, timeout=30.0)


# -- cost per request ---------------------------------------------------------------------


def time_pairs(store: Store, pairs: int, warmup: int = 200) -> list[float]:
    """Seconds per take_slot + finish_slot; virtual times 0.2 s apart, so never a wait."""
    coordinator = Coordinator(store, namespace=f"bench-{uuid.uuid4().hex[:8]}")
    now = 1_000_000.0
    timings: list[float] = []
    for index in range(warmup + pairs):
        now += 0.2
        started = time.perf_counter()
        grant = coordinator.take_slot(ROWS, now)
        assert isinstance(grant, Grant)
        coordinator.finish_slot(grant, now)
        if index >= warmup:
            timings.append(time.perf_counter() - started)
    return timings


def _contender(kind: str, location: str, namespace: str, updates: int, out: Any) -> None:
    """One of the contending processes: ``updates`` read-modify-writes of one shared key."""
    store = open_store(kind, location)
    key = namespace + "|counter"

    def bump(values: dict[str, Any]) -> None:
        values[key] = int(values.get(key, 0)) + 1

    out.recv()  # the start signal
    timings = []
    for _ in range(updates):
        started = time.perf_counter()
        store.update([key], bump)
        timings.append(time.perf_counter() - started)
    store.close()
    out.send(timings)


def contention(kind: str, location: str, updates: int) -> dict[str, float]:
    """``CONTENDERS`` processes updating one key at once: latency and throughput."""
    context = multiprocessing.get_context("spawn")
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    pipes, processes = [], []
    for _ in range(CONTENDERS):
        mine, theirs = context.Pipe()
        process = context.Process(
            target=_contender, args=(kind, location, namespace, updates, theirs)
        )
        process.start()
        pipes.append(mine)
        processes.append(process)
    time.sleep(0.5)
    started = time.perf_counter()
    for pipe in pipes:
        pipe.send("go")
    timings = [t for pipe in pipes for t in pipe.recv()]
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join()
    store = open_store(kind, location)
    total = store.update([namespace + "|counter"], lambda values: values[namespace + "|counter"])
    store.close()
    assert total == CONTENDERS * updates, f"{kind}: lost updates ({total})"
    return {
        "p50_us": round(percentile(timings, 0.5) * 1e6, 1),
        "p99_us": round(percentile(timings, 0.99) * 1e6, 1),
        "updates_per_s": round(len(timings) / elapsed),
    }


def measure_cost(pairs: int, directory: Path, redis_url: str) -> dict[str, Any]:
    locations = {
        "memory": "",
        "file": str(directory / "cost.db"),
        "redis": redis_url,
        "redis-lock": redis_url,
    }
    alone: dict[str, dict[str, float]] = {}
    for kind, location in locations.items():
        store = open_store(kind, location)
        timings = time_pairs(store, pairs)
        store.close()
        alone[kind] = {
            "p50_us": round(percentile(timings, 0.5) * 1e6, 1),
            "p99_us": round(percentile(timings, 0.99) * 1e6, 1),
        }
    contended = {
        kind: contention(kind, location, max(pairs // 4, 100))
        for kind, location in locations.items()
        if kind != "memory"
    }
    return {"pairs": pairs, "alone": alone, "contended_4_processes": contended}


# -- main ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3000, help="timed requests per backend")
    parser.add_argument("--seconds", type=float, default=20.0, help="fleet run per size")
    parser.add_argument("--skip-fleet", action="store_true", help="backend cost only")
    options = parser.parse_args()
    quiet_logs()
    with tempfile.TemporaryDirectory(prefix="ibkr-fleet-") as temporary:
        directory = Path(temporary)
        server, redis_url = start_redis(directory)
        try:
            cost = measure_cost(options.pairs, directory, redis_url)
            fleet = (
                None if options.skip_fleet else measure_fleet(options.seconds, directory, redis_url)
            )
        finally:
            server.terminate()
            server.wait(timeout=10)

    figures: dict[str, Any] = {"cost": cost}
    rows = []
    for kind, row in cost["alone"].items():
        rows.append(
            (f"cost alone: {kind} (p50 / p99 µs)", f"{row['p50_us']} / {row['p99_us']}", "")
        )
    for kind, row in cost["contended_4_processes"].items():
        rows.append(
            (
                f"4 processes: {kind} (p50 / p99 µs, updates/s)",
                f"{row['p50_us']} / {row['p99_us']}, {row['updates_per_s']}",
                "",
            )
        )
    if fleet is not None:
        figures["fleet"] = fleet
        rows += fleet_rows(fleet)
    report("fleet", figures, rows)


# -- the fleet ----------------------------------------------------------------------------

ACCOUNT = "U1234567"
AAPL = 265598
SAFETY = 0.9
PERMITTED = 10 * SAFETY
"""Requests per second the fleet may send: the gateway's 10/s times the pacer's safety."""
TARGET_RATIO = 0.9
WARMUP = 2.0
"""Seconds of each fleet run left out of the ratio (the first window's burst)."""
FLEET_SIZES = (1, 2, 4, 8)
MAX_WAIT = 5.0
KINDS: dict[str, Callable[[Any], object]] = {
    "snapshot": lambda c: c.get_market_snapshot([AAPL], ["31", "84", "86"]),
    "orders": lambda c: c.get_orders(),
    "positions": lambda c: c.get_positions(ACCOUNT),
    "history": lambda c: c.get_historical_data(AAPL, "1d", "5min"),
    "tickle": lambda c: c.tickle(),
}


def _serve_sim(pipe: Any) -> None:
    """The simulated gateway in a process of its own, on the real clock."""
    from ibkr_session.clock import SystemClock
    from ibkr_sim.gateway import SimulatedGateway

    quiet_logs()
    with SimulatedGateway(SystemClock()) as sim:
        pipe.send(sim.url)
        pipe.recv()  # "report"
        pipe.send(
            [
                (request.time.timestamp(), request.method, request.path, request.status)
                for request in sim.requests
            ]
        )


def _fleet_worker(url: str, coordination: str, seconds: float, pipe: Any) -> None:
    """One worker process: a client, one thread per kind of call, as fast as it can."""
    import threading

    from ibkr_api.client import IbkrClient
    from ibkr_session.errors import RateLimitedError

    quiet_logs()
    # A wait longer than MAX_WAIT (a 1-per-5 s row shared by 8) is refused at once and
    # slept off: every thread then stops soon after the run's end.
    client = IbkrClient(url, coordination=coordination, timeout=30.0, pacing_max_wait=MAX_WAIT)
    counts = {"ok": 0, "rate_limited": 0, "errors": 0}
    lock = threading.Lock()
    # No warm-up call: /portfolio/accounts is 1 per 5 s for the whole fleet (8 workers
    # would queue 44 s for it); the session's own first requests fall in the 2 s left out.
    pipe.send("ready")
    start_at = pipe.recv()
    time.sleep(max(0.0, start_at - time.time()))
    end = start_at + seconds

    def loop(call: Callable[[Any], object]) -> None:
        while time.time() < end:
            try:
                call(client)
                outcome = "ok"
            except RateLimitedError as exc:  # refused before sending: a long pacing wait
                outcome = "rate_limited"
                time.sleep(max(0.0, min(exc.retry_after, end - time.time())))
            except Exception as exc:  # counted by name: the run must report, not hang
                outcome = "errors"
                name = type(exc).__name__
                with lock:
                    failures[name] = failures.get(name, 0) + 1
            with lock:
                counts[outcome] += 1

    failures: dict[str, int] = {}
    threads = [threading.Thread(target=loop, args=(call,), daemon=True) for call in KINDS.values()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    hung = sum(thread.is_alive() for thread in threads)
    pipe.send({**counts, "hung_threads": hung, "failures": failures})
    if not hung:
        client.close()


def run_fleet(size: int, coordination: str, seconds: float) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    sim_pipe, theirs = context.Pipe()
    sim = context.Process(target=_serve_sim, args=(theirs,))
    sim.start()
    url = sim_pipe.recv()
    pipes, workers = [], []
    try:
        for _ in range(size):
            mine, theirs = context.Pipe()
            worker = context.Process(
                target=_fleet_worker, args=(url, coordination, seconds, theirs)
            )
            worker.start()
            pipes.append(mine)
            workers.append(worker)
        for pipe in pipes:
            if not pipe.poll(120) or pipe.recv() != "ready":
                raise RuntimeError("a fleet worker did not start")
        start_at = time.time() + 0.5
        for pipe in pipes:
            pipe.send(start_at)
        counts = []
        for pipe in pipes:
            if pipe.poll(seconds + 90):
                counts.append(pipe.recv())
            else:
                counts.append({"ok": 0, "rate_limited": 0, "errors": 0, "hung_threads": -1})
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
    finally:
        sim_pipe.send("report")
        log = sim_pipe.recv() if sim_pipe.poll(60) else []
        sim.join(timeout=30)
        if sim.is_alive():
            sim.kill()
    # Steady state: the first seconds hold the burst an empty window allows (10 at once).
    begin = start_at + WARMUP
    during = [entry for entry in log if begin <= entry[0] < start_at + seconds]
    served = [entry for entry in during if entry[3] != 429]
    achieved = len(served) / (seconds - WARMUP)
    return {
        "workers": size,
        "coordination": coordination.split("://")[0],
        "seconds_measured": seconds - WARMUP,
        "gateway_requests": len(during),
        "achieved_per_s": round(achieved, 2),
        "ratio": round(achieved / PERMITTED, 3),
        "rate_limited_429": sum(1 for entry in log if entry[3] == 429),
        "rate_limited_paths": _merged(
            [{f"{entry[1]} {entry[2]}": 1} for entry in log if entry[3] == 429]
        ),
        "first_429_at": next(
            (round(entry[0] - start_at, 3) for entry in log if entry[3] == 429), None
        ),
        "calls_ok": sum(c["ok"] for c in counts),
        "calls_refused_rate_limited": sum(c["rate_limited"] for c in counts),
        "calls_other_errors": sum(c["errors"] for c in counts),
        "failures": _merged([c.get("failures", {}) for c in counts]),
        "workers_hung": sum(1 for c in counts if c["hung_threads"]),
    }


def _merged(failures: list[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for one in failures:
        for name, count in one.items():
            total[name] = total.get(name, 0) + count
    return total


def measure_fleet(seconds: float, directory: Path, redis_url: str) -> dict[str, Any]:
    runs = []
    for name, url in (("file", f"file://{directory}/fleet.db"), ("redis", redis_url)):
        for size in FLEET_SIZES:
            if name == "file":
                url = f"file://{directory}/fleet-{size}.db"  # a fresh state per run
            runs.append(run_fleet(size, url, seconds))
    return {"permitted_per_s": PERMITTED, "target_ratio": TARGET_RATIO, "runs": runs}


def fleet_rows(fleet: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows = []
    for run in fleet["runs"]:
        rows.append(
            (
                f"fleet {run['coordination']} x{run['workers']}: achieved / permitted, 429s",
                f"{run['ratio']:.3f}, {run['rate_limited_429']}",
                f">= {TARGET_RATIO}, 0",
            )
        )
    return rows


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
