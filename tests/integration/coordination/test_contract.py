"""The coordination contract, run against every backend (memory, file, redis).

Threads share one backend through stores of their own (file and Redis: one connection
each), processes through the URL. Times given to the coordinator are virtual (plain
numbers) except in the multi-process pacing test, which is about real arrivals at a server.
"""

from __future__ import annotations

import json
import socketserver
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from ibkr_session.coordination import Budget, Coordinator, Grant, Wait
from ibkr_session.coordination.shared import KEEPALIVE_LEASE, QUESTION_LEASE
from tests.integration.coordination.conftest import Backend, result_of, start_together

Spawn = Callable[[dict[str, Any]], Any]

GLOBAL = Budget("global", capacity=10, window=1.0)
HISTORY = Budget("history", concurrency=5)


def coordinator(backend: Backend, **options: Any) -> Coordinator:
    return Coordinator(backend.open(), namespace=backend.namespace, **options)


def run_threads(count: int, target: Callable[[int], None]) -> None:
    errors: list[BaseException] = []

    def guarded(index: int) -> None:
        try:
            target(index)
        except BaseException as exc:  # handed to the test below
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


# -- the primitive ------------------------------------------------------------------------


def test_update_reads_writes_and_deletes(backend: Backend) -> None:
    store = backend.open()
    a, b = backend.namespace + "|a", backend.namespace + "|b"

    assert store.update([a, b], lambda values: dict(values)) == {}
    store.update([a, b], lambda values: values.update({a: {"x": [1, 2.5, None]}, b: "s"}))
    assert store.update([a], lambda values: values) == {a: {"x": [1, 2.5, None]}}

    def drop_b(values: dict[str, Any]) -> str:
        del values[b]
        return "dropped"

    assert store.update([b], drop_b) == "dropped"
    assert backend.open().update([a, b], lambda values: sorted(values)) == [a]


def test_a_failing_change_writes_nothing(backend: Backend) -> None:
    store = backend.open()
    key = backend.namespace + "|k"
    store.update([key], lambda values: values.__setitem__(key, 1))

    def broken(values: dict[str, Any]) -> None:
        values[key] = 2
        raise KeyError("a bug in a change")

    with pytest.raises(KeyError):
        store.update([key], broken)
    assert store.update([key], lambda values: values[key]) == 1


def test_updates_are_atomic_under_threads(backend: Backend) -> None:
    key = backend.namespace + "|counter"

    def bump(values: dict[str, Any]) -> None:
        values[key] = int(values.get(key, 0)) + 1

    def work(_index: int) -> None:
        store = backend.open()
        for _ in range(100):
            store.update([key], bump)

    run_threads(8, work)
    assert backend.open().update([key], lambda values: values[key]) == 800


def test_updates_are_atomic_across_processes(shared_backend: Backend, spawn: Spawn) -> None:
    args = {"mode": "increment", "url": shared_backend.url, "n": 150}
    workers = [spawn({**args, "namespace": shared_backend.namespace}) for _ in range(4)]
    start_together(workers)
    for worker in workers:
        assert result_of(worker) == {"done": 150}
    key = shared_backend.namespace + "|counter"
    assert shared_backend.open().update([key], lambda values: values[key]) == 600


# -- pacing -------------------------------------------------------------------------------


def test_a_budget_is_shared_and_counted_until_the_answer(backend: Backend) -> None:
    one, two = coordinator(backend), coordinator(backend)
    grants = [one.take_slot([GLOBAL], 100.0) for _ in range(5)]
    grants += [two.take_slot([GLOBAL], 100.0) for _ in range(5)]
    assert all(isinstance(grant, Grant) for grant in grants)
    refused = two.take_slot([GLOBAL], 100.5)
    assert isinstance(refused, Wait)
    assert refused.in_flight  # nothing answered yet: room comes with an answer
    for grant in grants:
        assert isinstance(grant, Grant)
        one.finish_slot(grant, 101.0)
    wait = one.take_slot([GLOBAL], 101.4)
    assert isinstance(wait, Wait)
    assert not wait.in_flight
    assert wait.seconds == pytest.approx(0.6)
    assert isinstance(two.take_slot([GLOBAL], 102.0), Grant)


def test_a_racer_whose_clock_read_a_hair_later_still_counts(backend: Backend) -> None:
    """Managers read the time before their update runs: the one that commits first may
    hold a slightly later ``now``. Its entry counts for the other all the same."""
    tickle = Budget("tickle", capacity=1, window=1.0)
    first, second = coordinator(backend), coordinator(backend)
    assert isinstance(first.take_slot([tickle], 100.004), Grant)
    assert isinstance(second.take_slot([tickle], 100.0), Wait)


def test_entries_from_a_clock_that_moved_back_far_are_ignored(backend: Backend) -> None:
    first, second = coordinator(backend), coordinator(backend)
    assert isinstance(first.take_slot([HISTORY] * 1, 86_400.0), Grant)
    for _ in range(5):  # a day earlier: the entry above means nothing
        assert isinstance(second.take_slot([HISTORY], 0.0), Grant)


def test_history_places_are_leases_a_crash_gives_back(backend: Backend) -> None:
    crashed = coordinator(backend, flight_ttl=30.0)
    for _ in range(5):
        assert isinstance(crashed.take_slot([HISTORY], 0.0), Grant)
    other = coordinator(backend)
    assert isinstance(other.take_slot([HISTORY], 29.0), Wait)
    assert isinstance(other.take_slot([HISTORY], 30.0), Grant)


def test_threads_never_exceed_a_budget(backend: Backend) -> None:
    """8 threads race for 10 places per window at one instant: exactly 10 granted."""
    granted: list[Grant] = []
    lock = threading.Lock()

    def work(_index: int) -> None:
        mine = coordinator(backend)
        for _ in range(5):
            result = mine.take_slot([GLOBAL], 500.0)
            if isinstance(result, Grant):
                with lock:
                    granted.append(result)

    run_threads(8, work)
    assert len(granted) == 10


def test_the_penalty_box_is_shared(backend: Backend) -> None:
    coordinator(backend).penalize(1_000.0)
    coordinator(backend).penalize(900.0)  # an earlier end never shortens the box
    wait = coordinator(backend).take_slot([GLOBAL], 400.0)
    assert isinstance(wait, Wait)
    assert (wait.reason, wait.seconds) == ("penalty box", 600.0)
    assert coordinator(backend).session().penalty_until == 1_000.0
    assert isinstance(coordinator(backend).take_slot([GLOBAL], 1_000.0), Grant)


def test_a_penalty_from_another_process_stops_everyone(
    shared_backend: Backend, spawn: Spawn
) -> None:
    until = time.time() + 600
    args = {"mode": "penalize", "url": shared_backend.url, "until": until}
    result_of(spawn({**args, "namespace": shared_backend.namespace}))
    wait = coordinator(shared_backend).take_slot([GLOBAL], time.time())
    assert isinstance(wait, Wait)
    assert wait.reason == "penalty box"


class _CountingServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _CountingHandler)


class _CountingHandler(socketserver.StreamRequestHandler):
    server: _CountingServer

    def handle(self) -> None:
        while self.rfile.readline():
            with self.server.lock:
                self.server.arrivals.append(time.monotonic())
            self.wfile.write(b"ok\n")


def _most_in_any_window(arrivals: list[float], window: float) -> int:
    arrivals = sorted(arrivals)
    most, start = 0, 0
    for end, moment in enumerate(arrivals):
        while moment - arrivals[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most


def test_processes_never_exceed_a_budget_as_a_server_counts(
    shared_backend: Backend, spawn: Spawn
) -> None:
    """4 processes as fast as they can on 5 per 0.5 s for 2 s: the server never sees 6 in
    any 0.5 s, and most of the permitted rate is used."""
    budget = {"name": "global", "capacity": 5, "window": 0.5}
    with _CountingServer() as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            args: dict[str, Any] = {"mode": "pace", "url": shared_backend.url, "budget": budget}
            args.update(
                namespace=shared_backend.namespace, port=server.server_address[1], duration=2.0
            )
            workers = [spawn(args) for _ in range(4)]
            start_together(workers)
            sent = sum(result_of(worker)["sent"] for worker in workers)
        finally:
            server.shutdown()
    assert sent == len(server.arrivals)
    assert _most_in_any_window(server.arrivals, 0.5) <= 5
    assert sent >= 0.6 * (2.0 / 0.5 * 5), sent  # permitted: 20, at most 25 at the edges


# -- leases -------------------------------------------------------------------------------


def test_a_lease_has_one_holder_until_it_expires(backend: Backend) -> None:
    first, second = coordinator(backend), coordinator(backend)
    assert first.acquire(KEEPALIVE_LEASE, 5.0, 0.0)
    assert not second.acquire(KEEPALIVE_LEASE, 5.0, 4.9)
    assert second.holder_of(KEEPALIVE_LEASE, 4.9) == (first.holder, 5.0)
    assert first.acquire(KEEPALIVE_LEASE, 5.0, 4.0)  # renewal: now until 9.0
    assert not second.acquire(KEEPALIVE_LEASE, 5.0, 8.9)
    assert second.acquire(KEEPALIVE_LEASE, 5.0, 9.0)  # expired: taken over
    assert not first.acquire(KEEPALIVE_LEASE, 5.0, 9.5)
    second.release(KEEPALIVE_LEASE)
    first.release(KEEPALIVE_LEASE)  # not the holder: nothing happens
    assert second.holder_of(KEEPALIVE_LEASE, 9.5) is None


def test_only_one_thread_wins_a_free_lease(backend: Backend) -> None:
    winners: list[str] = []

    def work(_index: int) -> None:
        mine = coordinator(backend)
        if mine.acquire("recovery", 10.0, 0.0):
            winners.append(mine.holder)

    run_threads(8, work)
    assert len(winners) == 1


def test_the_keepalive_is_taken_over_when_its_holder_is_killed(
    shared_backend: Backend, spawn: Spawn
) -> None:
    """kill -9 of the holder (renewing each interval, lease 1.5 intervals): another
    manager takes over within two intervals (real time, real processes)."""
    interval = 0.3
    holder = spawn(
        {
            "mode": "hold",
            "url": shared_backend.url,
            "namespace": shared_backend.namespace,
            "lease": KEEPALIVE_LEASE,
            "ttl": interval * 1.5,
            "interval": interval,
        }
    )
    assert holder.stdout is not None
    name = json.loads(holder.stdout.readline())["holder"]
    me = coordinator(shared_backend)
    deadline = time.monotonic() + 10
    while (held := me.holder_of(KEEPALIVE_LEASE, time.time())) is None:
        assert time.monotonic() < deadline, "the holder never took the lease"
        time.sleep(0.01)
    assert held[0] == name
    time.sleep(interval * 2)  # it renews: still held
    assert not me.acquire(KEEPALIVE_LEASE, interval * 1.5, time.time())
    holder.kill()
    killed = time.monotonic()
    while not me.acquire(KEEPALIVE_LEASE, interval * 1.5, time.time()):
        assert time.monotonic() - killed < 10
        time.sleep(interval / 10)
    assert time.monotonic() - killed <= 2 * interval


# -- recovery and the session's memory ----------------------------------------------------


def test_single_flight_generation_under_threads(backend: Backend) -> None:
    seen: list[int] = []

    def work(_index: int) -> None:
        seen.append(coordinator(backend).new_generation(0))

    run_threads(8, work)
    assert seen == [1] * 8
    assert coordinator(backend).session().generation == 1
    assert coordinator(backend).new_generation(1) == 2


def test_single_flight_generation_across_processes(shared_backend: Backend, spawn: Spawn) -> None:
    args = {"mode": "generation", "url": shared_backend.url, "seen": 0}
    workers = [spawn({**args, "namespace": shared_backend.namespace}) for _ in range(4)]
    start_together(workers)
    assert [result_of(worker)["generation"] for worker in workers] == [1] * 4
    assert coordinator(shared_backend).session().generation == 1


def test_the_session_memory_is_shared(backend: Backend) -> None:
    one, two = coordinator(backend), coordinator(backend)
    one.mark_primed(1)
    one.note_contact(50.0)
    two.note_contact(40.0)  # an older contact never goes back in time
    two.select_account("U1234567")
    one.note_state("COMPETING", 51.0, "another login")
    assert one.remember_suppressed(["o1", "o2"]) == ("o1", "o2")
    assert two.remember_suppressed(["o2", "o3"]) == ("o1", "o2", "o3")
    session = coordinator(backend).session()
    assert session.primed_generation == 1
    assert session.last_contact == 50.0
    assert session.account_id == "U1234567"
    assert (session.state, session.state_at, session.state_reason) == (
        "COMPETING",
        51.0,
        "another login",
    )
    assert session.suppressed == ("o1", "o2", "o3")


def test_workers_are_seen_until_their_heartbeat_ends(backend: Backend) -> None:
    one, two = coordinator(backend), coordinator(backend)
    one.heartbeat(0.0, 10.0, {"script": "a.py"})
    two.heartbeat(5.0, 10.0)
    assert [worker.holder for worker in one.workers(9.0)] == sorted([one.holder, two.holder])
    assert [worker.holder for worker in one.workers(12.0)] == [two.holder]
    two.leave()
    assert one.workers(12.0) == []


# -- incidents only a human can fix -------------------------------------------------------


def test_an_incident_is_announced_once_by_a_fleet_and_its_end_once(backend: Backend) -> None:
    fleet = [coordinator(backend) for _ in range(4)]
    announced: list[int] = []
    run_threads(4, lambda i: announced.append(i) if fleet[i].open_incident("x", "why") else None)
    assert len(announced) == 1
    assert fleet[0].incidents() == {"x": "why"}
    ended: list[int] = []
    run_threads(4, lambda i: ended.append(i) if fleet[i].close_incident("x") else None)
    assert len(ended) == 1
    assert coordinator(backend).incidents() == {}


# -- the order-question hold --------------------------------------------------------------


def test_an_order_question_keeps_everyone_else_out(backend: Backend) -> None:
    asking, other = coordinator(backend), coordinator(backend)
    order = asking.take_slot([GLOBAL], 10.0, opens_question=True)
    assert isinstance(order, Grant)
    asking.finish_slot(order, 10.1)
    held = other.take_slot([GLOBAL], 10.2)
    assert isinstance(held, Wait)
    assert (held.reason, held.in_flight) == ("order question", True)
    reply = asking.take_slot([GLOBAL], 10.3)  # the holder's own reply goes through
    assert isinstance(reply, Grant)
    asking.finish_slot(reply, 10.4)
    asking.release(QUESTION_LEASE)  # the chain's last reply is back
    assert isinstance(other.take_slot([GLOBAL], 10.5), Grant)


def test_an_order_waits_for_requests_in_flight(backend: Backend) -> None:
    asking, other = coordinator(backend), coordinator(backend)
    read = other.take_slot([GLOBAL], 10.0)
    assert isinstance(read, Grant)
    wait = asking.take_slot([GLOBAL], 10.1, opens_question=True)
    assert isinstance(wait, Wait)
    assert wait.in_flight
    other.finish_slot(read, 10.2)
    assert isinstance(asking.take_slot([GLOBAL], 10.3, opens_question=True), Grant)


def test_a_dead_askers_hold_ends_with_its_lease(backend: Backend) -> None:
    asking = coordinator(backend, flight_ttl=30.0)
    assert isinstance(asking.take_slot([GLOBAL], 0.0, opens_question=True), Grant)
    other = coordinator(backend)
    assert isinstance(other.take_slot([GLOBAL], 29.0), Wait)
    assert isinstance(other.take_slot([GLOBAL], 30.0), Grant)
