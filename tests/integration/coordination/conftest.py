"""One contract, three backends: ``backend`` is parametrized over memory, file and redis.

A ``Backend`` opens as many stores onto one shared state as a test wants (one per thread
or per simulated manager) and, for file and Redis, names the URL a worker process opens.
Every test gets a namespace of its own, so tests sharing the session's Redis never meet.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ibkr_session.coordination import MemoryStore, Store
from tests.coordination_fixtures import RedisServer, redis_server
from tests.integration.coordination.coord_worker import open_raw

__all__ = ["redis_server"]

REPO_ROOT = Path(__file__).resolve().parents[3]


class Backend:
    """Stores onto one shared state; ``url`` for another process (None for memory)."""

    def __init__(self, kind: str, url: str | None) -> None:
        self.kind = kind
        self.url = url
        self.namespace = f"https://127.0.0.1:5000/{uuid.uuid4().hex[:8]}"
        self._memory = MemoryStore() if kind == "memory" else None
        self._opened: list[Store] = []

    def open(self) -> Store:
        """A store onto the shared state (memory: the one shared object)."""
        if self._memory is not None:
            return self._memory
        assert self.url is not None
        store = open_raw(self.url)
        self._opened.append(store)
        return store

    def close(self) -> None:
        for store in self._opened:
            store.close()


@pytest.fixture(params=["memory", "file", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    kind: str = request.param
    url: str | None = None
    if kind == "file":
        url = f"file://{tmp_path / 'state' / 'coordination.db'}"
    elif kind == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        url = server.url
    shared = Backend(kind, url)
    try:
        yield shared
    finally:
        shared.close()


@pytest.fixture(params=["file", "redis"])
def shared_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The backends several processes can share."""
    if request.param == "file":
        url = f"file://{tmp_path / 'state' / 'coordination.db'}"
    else:
        url = request.getfixturevalue("redis_server").url
    shared = Backend(request.param, url)
    try:
        yield shared
    finally:
        shared.close()


def _worker_command(args: dict[str, Any]) -> list[str]:
    return [sys.executable, "-m", "tests.integration.coordination.coord_worker", json.dumps(args)]


@pytest.fixture
def spawn() -> Iterator[Callable[[dict[str, Any]], subprocess.Popen[str]]]:
    """Start a worker process (``coord_worker``); every one still running is killed after."""
    started: list[subprocess.Popen[str]] = []
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}

    def start(args: dict[str, Any]) -> subprocess.Popen[str]:
        process = subprocess.Popen(  # noqa: S603 (our own helper)
            _worker_command(args),
            cwd=REPO_ROOT,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=10)


def start_together(workers: list[subprocess.Popen[str]], delay: float = 0.2) -> None:
    """Wait until every worker said ``ready``, then start them all ``delay`` s from now."""
    for worker in workers:
        assert worker.stdout is not None
        line = worker.stdout.readline()
        assert json.loads(line) == {"ready": True}, line
    start_at = f"{time.time() + delay}\n"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write(start_at)
        worker.stdin.flush()


def result_of(process: subprocess.Popen[str], timeout: float = 60.0) -> dict[str, Any]:
    """The JSON line a worker printed; its stderr in the failure message otherwise."""
    stdout, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"worker failed ({process.returncode}):\n{stderr}"
    document: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    return document
