"""A library is quiet until asked: a program that uses the client prints only its own output.

Run as real programs (subprocesses), so nothing of pytest's logging set-up hides a stray
print or a structlog default writing to stdout.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

PROGRAM = textwrap.dedent(
    """
    import datetime as dt
    {configure}
    from ibkr_api import IbkrClient
    from ibkr_session import ManualClock
    from ibkr_sim import SimulatedGateway

    clock = ManualClock(dt.datetime(2026, 1, 5, 15, 0, tzinfo=dt.UTC))
    with SimulatedGateway(clock) as sim, IbkrClient(sim.url, clock=clock) as client:
        accounts = client.get_accounts()
    print("accounts:", [account["accountId"] for account in accounts])
    """
)


def run_program(configure: str = "") -> subprocess.CompletedProcess[str]:
    source = PROGRAM.format(configure=configure)
    return subprocess.run(  # noqa: S603 (our interpreter, a fixed program)
        [sys.executable, "-c", source],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )


def test_a_program_using_the_client_prints_only_its_own_output() -> None:
    done = run_program()
    assert done.returncode == 0, done.stderr
    assert done.stdout == "accounts: ['U1234567']\n"
    assert done.stderr == ""


def test_once_the_program_configures_logging_the_events_come_out() -> None:
    done = run_program(
        "import logging, sys; logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "accounts: ['U1234567']\n"
    assert (
        "DEBUG:ibkr_session.transport:session.http method='GET' path='/portfolio/accounts' "
        "status=200" in done.stderr
    )
