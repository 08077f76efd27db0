"""The ``ibkr`` command: run a worker, serve the simulator, inspect a gateway, the demo.

::

    ibkr run WORKER.py --gateway URL [--interval 60] [--ticks N] [--account ID]
                       [--region america|europe|asia] [--pin sha256:...] [--state-file PATH]
    ibkr sim [--host 127.0.0.1] [--port 5000] [--region ...] [--market-time WHEN]
    ibkr status [--gateway URL] [--pin sha256:...] [--region ...]
    ibkr pin URL
    ibkr demo [--hours 24] [--seed 7]

Exit codes: 0 done (including a Ctrl-C stop of ``run`` or ``sim``), 1 the command failed
(gateway, worker, TLS), 2 the command line is wrong. Heavy imports happen inside the
commands, so ``ibkr --help`` answers at once.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import logging
import math
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from ibkr_host.logsetup import ConsoleFormatter, routed_logs
from ibkr_session.clock import SystemClock
from ibkr_session.errors import IbkrError
from ibkr_session.schedule import REGION_ZONES

__all__ = ["build_parser", "main"]

DEFAULT_GATEWAY = "https://localhost:5000"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ibkr`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    command: Callable[[argparse.Namespace], int] | None = getattr(args, "command", None)
    if command is None:
        parser.print_help()
        return 2
    with _logging(args.verbose - args.quiet + args.log_offset):
        try:
            return command(args)
        except IbkrError as exc:
            print(f"ibkr: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        except (OSError, ValueError) as exc:
            print(f"ibkr: {exc}", file=sys.stderr)
            return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ibkr",
        description="Keep trading workers alive on the IBKR Client Portal Gateway.",
        epilog="Try `ibkr demo` for a simulated day and night in under a minute.",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log lines on stderr (-v: debug)"
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="count",
        default=0,
        help="fewer log lines on stderr (-q: warnings only)",
    )
    parser.set_defaults(log_offset=0)  # status and pin: warnings only unless -v
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run a worker file (setup once, tick on an interval)",
        description="Run WORKER.py's setup(ctx) once, then tick(ctx) every --interval "
        "seconds, with ctx.ibkr connected to the gateway. Ctrl-C stops after the "
        "current tick.",
    )
    run.add_argument("worker", type=Path, metavar="WORKER.py", help="the worker file")
    _add_gateway(run, required=True)
    run.add_argument(
        "--interval", type=_positive_float, default=60.0, help="seconds between ticks (default: 60)"
    )
    run.add_argument(
        "--ticks",
        type=_non_negative_int,
        default=None,
        help="stop after N ticks (default: run until Ctrl-C)",
    )
    run.add_argument(
        "--account",
        metavar="ID",
        help="account to select (default: the gateway's selected account)",
    )
    _add_region(run)
    run.add_argument(
        "--state-file",
        type=Path,
        metavar="PATH",
        help="where ctx.state is kept (default: .ibkr-state/WORKER.json)",
    )
    run.set_defaults(command=_run)

    sim = commands.add_parser(
        "sim",
        help="serve the simulated gateway until Ctrl-C",
        description="Serve a simulated Client Portal Gateway over HTTPS (logged in, "
        "real time) and print its URL and certificate fingerprint.",
    )
    sim.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    sim.add_argument(
        "--port", type=_port, default=5000, help="port (default: 5000; 0 picks a free one)"
    )
    _add_region(sim)
    sim.add_argument(
        "--market-time",
        type=_market_time,
        default=None,
        metavar="WHEN",
        help="start the simulated clock at WHEN (ISO date and time; New York time unless "
        "it carries an offset), e.g. '2026-06-15 10:00' to trade in market hours at "
        "night; time then runs at real speed",
    )
    sim.set_defaults(command=_sim)

    status = commands.add_parser(
        "status",
        help="show the session state, accounts and next reset window",
        description="Probe the gateway once and show the session state, the auth "
        "status, the accounts, the selected account and the next reset window.",
    )
    _add_gateway(status, required=False)
    _add_region(status)
    status.set_defaults(command=_status, log_offset=-1)

    pin = commands.add_parser(
        "pin",
        help="print a gateway certificate's sha256 fingerprint",
        description="Fetch the gateway's certificate and print the value to pass as "
        "--pin / SessionManager(pin=...). Compare it with the one the gateway's "
        "machine shows before trusting it.",
    )
    pin.add_argument("url", metavar="URL", help="the gateway URL, e.g. https://host:5000")
    pin.set_defaults(command=_pin, log_offset=-1)

    demo = commands.add_parser(
        "demo",
        help="fast-forward the mean-reversion recipe through a simulated day and night",
        description="Run examples/mean_reversion.py against an in-process simulated "
        "gateway on a virtual clock from 09:00 New York for --hours of market time, "
        "with an idle expiry, the nightly reset, a competing login and a fat-finger "
        "question on the way; print the timeline and a summary.",
    )
    demo.add_argument(
        "--hours", type=_positive_float, default=24.0, help="market hours to simulate (default: 24)"
    )
    demo.add_argument("--seed", type=int, default=7, help="market seed (default: 7)")
    demo.set_defaults(command=_demo)
    return parser


@contextmanager
def _logging(verbosity: int) -> Iterator[None]:
    """Log lines go to stderr (results to stdout), at INFO unless -v / -q say otherwise.

    The worker's own ``ctx.log`` lines stay at INFO under ``-q``: they are the worker's
    output, not the library's chatter. Through stdlib ``logging``; the loggers are put
    back afterwards, for in-process callers.
    """
    level = logging.DEBUG if verbosity > 0 else logging.INFO if verbosity == 0 else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ConsoleFormatter())
    with routed_logs(handler, level, worker_level=min(level, logging.INFO)):
        yield


def _add_gateway(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument(
        "--gateway",
        metavar="URL",
        required=required,
        default=None if required else DEFAULT_GATEWAY,
        help="Client Portal Gateway URL" + ("" if required else f" (default: {DEFAULT_GATEWAY})"),
    )
    parser.add_argument(
        "--pin",
        metavar="sha256:HEX",
        help="certificate fingerprint of a remote gateway (get it with `ibkr pin URL`)",
    )


def _add_region(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--region",
        choices=sorted(REGION_ZONES),
        default="america",
        help="server region, for the nightly reset (default: america)",
    )


def _positive_float(text: str) -> float:
    value = float(text)
    if not (value > 0 and math.isfinite(value)):  # inf: a demo without end, a wait that overflows
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {text}")
    return value


# -- commands ----------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    from ibkr_api.client import IbkrClient
    from ibkr_host.host import WorkerContext
    from ibkr_host.runner import load_worker, run_worker

    worker = load_worker(args.worker)
    state_file = args.state_file or Path(".ibkr-state") / f"{args.worker.stem}.json"
    stop = threading.Event()
    with (
        IbkrClient(
            args.gateway, region=args.region, pin=args.pin, account_id=args.account
        ) as client,
        _stop_on_ctrl_c(stop),
    ):
        ctx = WorkerContext(args.worker.stem, client=client, state=state_file)
        result = run_worker(
            worker,
            ctx,
            interval=args.interval,
            ticks=args.ticks,
            stop=stop,
        )
    print(f"{args.worker.name}: {result.describe()}")
    every_tick_failed = result.ticks > 0 and result.failed == result.ticks
    return 1 if every_tick_failed else 0


def _sim(args: argparse.Namespace) -> int:
    from ibkr_sim.gateway import SimulatedGateway

    stop = threading.Event()
    clock = None if args.market_time is None else _ShiftedClock(args.market_time)
    sim = SimulatedGateway(clock, region=args.region)
    with _stop_on_ctrl_c(stop, message="stopping the simulator"):
        url = sim.start(host=args.host, port=args.port)
        try:
            print(f"Simulated IBKR gateway at {url}")
            print(f"certificate {sim.fingerprint}")
            if clock is not None:
                market = clock.now().astimezone(_NEW_YORK)
                print(f"simulated time {market:%a %Y-%m-%d %H:%M %Z}, running at real speed")
            print(f"try: ibkr run examples/nlv_summary.py --gateway {url} --interval 5")
            print("Ctrl-C to stop.", flush=True)
            while not stop.wait(3600):
                pass
        finally:
            sim.stop()
    print("simulator stopped")
    return 0


_NEW_YORK = ZoneInfo("America/New_York")


def _market_time(text: str) -> _dt.datetime:
    try:
        when = _dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date and time: {text!r}") from exc
    return when if when.tzinfo is not None else when.replace(tzinfo=_NEW_YORK)


class _ShiftedClock(SystemClock):
    """Real time, moved to start at another moment: market hours whenever you test."""

    def __init__(self, start: _dt.datetime) -> None:
        self._offset = start - super().now()

    def now(self) -> _dt.datetime:
        return super().now() + self._offset


def _status(args: argparse.Namespace) -> int:
    from ibkr_host.status import gather_status

    report = gather_status(args.gateway, region=args.region, pin=args.pin)
    for label, value in report.rows:
        print(f"{label:<14}{value}")
    return 0 if report.ready else 1


def _pin(args: argparse.Namespace) -> int:
    from ibkr_session.tls import fetch_fingerprint

    print(fetch_fingerprint(args.url))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from ibkr_host.demo import run_demo

    outcome = run_demo(hours=args.hours, seed=args.seed, out=sys.stdout)
    return 0 if outcome.passed else 1


@contextmanager
def _stop_on_ctrl_c(
    stop: threading.Event,
    *,
    message: str = "stopping after the current tick (Ctrl-C again to abort)",
) -> Iterator[None]:
    """First Ctrl-C sets ``stop`` (finish the current tick); a second one aborts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def first(signum: int, frame: FrameType | None) -> None:
        print(f"\n{message}", file=sys.stderr)
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous: Any = signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
