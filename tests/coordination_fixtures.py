"""A real ``redis-server`` for the coordination tests (and ``benchmarks/fleet.py``).

``RedisServer`` runs Debian's ``redis-server`` on a free loopback port with a temporary
directory and no persistence, and can be killed and started again on the same port (the
"Redis restarted mid-run" tests). The ``redis_server`` fixture starts one per test session
and stops it; a missing ``redis-server`` fails the tests that need it with a clear message
(``.ci/run`` installs it), never a silent skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

__all__ = ["RedisServer", "free_port", "redis_server"]

REDIS_SERVER = "redis-server"


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _without_clock_fakes(environment: Mapping[str, str]) -> dict[str, str]:
    """Redis is the machine's, not the code under test: a suite run at another hour
    (``.ci/at-time``, libfaketime) moves only our processes' clocks. A redis-server under
    libfaketime 0.9.10 stops answering; its TTLs are relative, so its own clock is fine."""
    return {name: value for name, value in environment.items() if name != "LD_PRELOAD"}


class RedisServer:
    """One ``redis-server`` process on ``127.0.0.1:port``, data in ``directory``."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        executable = shutil.which(REDIS_SERVER) or (
            "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
        )
        if executable is None:
            raise RuntimeError(
                "redis-server is not installed: the Redis coordination tests run a real one "
                "(apt-get install redis-server; .ci/run does it)"
            )
        self.executable = executable
        self.directory = directory
        self.port = port if port is not None else free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        """Start and wait until it answers PING."""
        self.process = subprocess.Popen(  # noqa: S603 (our own arguments)
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=_without_clock_fakes(os.environ),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                stderr = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"redis-server exited at start: {stderr.strip()}")
            if self.ping():
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} in {timeout} s")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """``kill -9``: gone at once, its data with it (no persistence)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server for the whole test session; fails clearly when not installed."""
    with tempfile.TemporaryDirectory(prefix="ibkr-redis-") as directory:
        try:
            server = RedisServer(Path(directory))
            server.start()
        except RuntimeError as exc:
            pytest.fail(str(exc))
        try:
            yield server
        finally:
            server.stop()
