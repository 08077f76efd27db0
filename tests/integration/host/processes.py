"""Real ``ibkr`` processes for the host's integration tests: start one, read its log until
it gets somewhere, stop it with a signal."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest


def ibkr(*args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "ibkr_host", *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(  # noqa: S603 (our interpreter, fixed argv)
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def wait_for(process: subprocess.Popen[str], text: str) -> str:
    """Read stderr until a line holds ``text`` (the process is then where we want it)."""
    assert process.stderr is not None
    for line in process.stderr:
        if text in line:
            return line
    pytest.fail(f"ibkr ended before saying {text!r}")


def stop_with(process: subprocess.Popen[str], signum: int) -> tuple[float, str, str]:
    """Send ``signum``; how long the process took to exit, and the rest of its output."""
    sent = time.monotonic()
    process.send_signal(signum)
    out, err = process.communicate(timeout=20)
    return time.monotonic() - sent, out, err
