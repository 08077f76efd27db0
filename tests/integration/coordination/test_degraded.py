"""Faults of the coordinator itself, with real backends: the manager never sees them.

A Redis killed and restarted, a Redis that stops answering (SIGSTOP), a SQLite file
locked by someone else, unwritable or corrupt: every operation still answers (locally),
``coordination.degraded`` is logged once, and ``coordination.rejoined`` once when the
backend is back. Real time, bounded: the retry interval is 0.2 s here.
"""

from __future__ import annotations

import logging
import signal
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ibkr_session.coordination import Budget, Coordinator, Grant, ResilientStore
from ibkr_session.coordination.file import FileStore
from ibkr_session.coordination.redis_store import RedisStore
from ibkr_session.logs import EVENT_ATTRIBUTE
from tests.coordination_fixtures import RedisServer

GLOBAL = Budget("global", capacity=10, window=1.0)
FAST = Budget("fast", capacity=5, window=0.1)
RETRY = 0.2


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own: it gets killed."""
    server = RedisServer(tmp_path)
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.process.send_signal(signal.SIGCONT)
        server.stop()


@pytest.fixture(autouse=True)
def _coordination_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ibkr_session.coordination")


def coordination_events(caplog: pytest.LogCaptureFixture) -> list[str]:
    names = [
        str(getattr(record, EVENT_ATTRIBUTE, {}).get("event", "")) for record in caplog.records
    ]
    return [name for name in names if name in ("coordination.degraded", "coordination.rejoined")]


def resilient(store: RedisStore | FileStore) -> Coordinator:
    return Coordinator(
        ResilientStore(store, retry_interval=RETRY), namespace=f"gw-{uuid.uuid4().hex[:8]}"
    )


def wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_redis_killed_and_restarted_mid_run(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    me = resilient(RedisStore(own_redis.url))
    peer = Coordinator(RedisStore(own_redis.url), namespace=me.namespace)
    peer.heartbeat(time.time(), 60.0)
    me.heartbeat(time.time(), 60.0)
    assert (me.degraded, me.share) == (False, 1.0)

    errors: list[BaseException] = []
    granted = [0]
    stop = threading.Event()

    def work() -> None:
        try:
            while not stop.is_set():
                result = me.take_slot([FAST], time.time())
                if isinstance(result, Grant):
                    me.finish_slot(result, time.time())
                    granted[0] += 1
                else:
                    time.sleep(min(result.seconds, 0.02))
        except BaseException as exc:  # the test fails below with it
            errors.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    try:
        time.sleep(0.3)
        own_redis.kill()
        wait_for(lambda: me.degraded)
        assert me.share == 0.5  # two workers were alive when the store was lost
        before = granted[0]
        time.sleep(0.5)
        assert granted[0] > before  # still working, alone
        own_redis.start()
        wait_for(lambda: not me.degraded)
        time.sleep(0.3)
    finally:
        stop.set()
        worker.join(timeout=10)
    assert not errors, errors
    wait_for(lambda: me.share == 1.0, timeout=2 * RETRY + 1)  # after the rejoin's grace
    assert coordination_events(caplog) == ["coordination.degraded", "coordination.rejoined"]
    degraded = next(r for r in caplog.records if r.getMessage().startswith("coordination.deg"))
    assert degraded.levelno == logging.WARNING


def test_a_redis_that_stops_answering_costs_one_short_timeout(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    me = resilient(RedisStore(own_redis.url))
    assert isinstance(me.take_slot([GLOBAL], time.time()), Grant)
    assert own_redis.process is not None
    own_redis.process.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        me.note_contact(time.time())
        first = time.monotonic() - started
        started = time.monotonic()
        for _ in range(20):
            me.session()
        rest = time.monotonic() - started
    finally:
        own_redis.process.send_signal(signal.SIGCONT)
    assert me.degraded
    assert first < 1.5  # the 0.5 s socket timeout, not a hang
    assert rest < 0.5  # inside the retry interval nobody waits for Redis again
    wait_for(lambda: (me.session(), not me.degraded)[1])
    assert coordination_events(caplog) == ["coordination.degraded", "coordination.rejoined"]


def test_a_file_locked_too_long(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "state.db"
    me = resilient(FileStore(path, timeout=0.1))
    me.note_contact(1.0)  # creates the file
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        assert isinstance(me.take_slot([GLOBAL], 2.0), Grant)
        assert time.monotonic() - started < 1.0
        assert me.degraded
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    time.sleep(RETRY)
    assert me.session().last_contact == 1.0  # the shared file again
    assert not me.degraded
    assert coordination_events(caplog) == ["coordination.degraded", "coordination.rejoined"]


def test_an_unwritable_place_degrades_and_never_raises(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_directory = tmp_path / "plain-file"
    not_a_directory.write_text("")
    me = resilient(FileStore(not_a_directory / "state.db"))
    assert me.new_generation(0) == 1
    assert me.acquire("keepalive", 10.0, 0.0)
    assert isinstance(me.take_slot([GLOBAL], 0.0), Grant)
    assert me.degraded
    assert coordination_events(caplog) == ["coordination.degraded"]


def test_a_corrupt_file_degrades(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not a database, just bytes" * 200)
    me = resilient(FileStore(path))
    assert isinstance(me.take_slot([GLOBAL], 0.0), Grant)
    assert me.degraded
    assert coordination_events(caplog) == ["coordination.degraded"]
