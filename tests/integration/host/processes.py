"""Real ``ibkr`` processes for the host's integration tests: start one, read its log until
it gets somewhere, stop it with a signal."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest


def ibkr(*args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "ibkr_host", *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(  # noqa: S603 (our interpreter, fixed argv)
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


SAYS_WITHIN = 60.0
"""Real seconds a process gets to say what a test waits for: then it is killed and the test
fails with what it did say (a process that never gets there must not hang the suite)."""


def wait_for(process: subprocess.Popen[str], text: str) -> str:
    """Read stderr until a line holds ``text`` (the process is then where we want it)."""
    assert process.stderr is not None
    deadline = threading.Timer(SAYS_WITHIN, process.kill)
    deadline.start()
    said: list[str] = []
    try:
        for line in process.stderr:
            if text in line:
                return line
            said.append(line)
    finally:
        deadline.cancel()
    tail = "".join(said[-20:])
    gone = f"ibkr ended (or was killed after {SAYS_WITHIN:.0f} s) before saying {text!r}"
    pytest.fail(f"{gone}; its last lines:\n{tail}")


def stop_with(process: subprocess.Popen[str], signum: int) -> tuple[float, str, str]:
    """Send ``signum``; how long the process took to exit, and the rest of its output."""
    sent = time.monotonic()
    process.send_signal(signum)
    out, err = process.communicate(timeout=20)
    return time.monotonic() - sent, out, err
