"""The ``ibkr`` command: run a worker, serve the simulator, inspect a gateway, the demo.

::

    ibkr [-v|-q] run WORKER.py --gateway URL [--interval 60] [--ticks N] [--account ID]
                       [--region america|europe|asia] [--pin sha256:...] [--ca-file PATH]
                       [--insecure] [--state-file PATH] [--market-time WHEN]
                       [--setup-deadline SECONDS] [--metrics-port PORT]
                       [--alert-command CMD] [--alert-webhook URL]
                       [--competing-alert-after SECONDS]
    ibkr sim [--host 127.0.0.1] [--port 5000] [--region ...] [--market-time WHEN]
             [--no-pacing] [--penalty-seconds S] [--idle-timeout S]
    ibkr status [--gateway URL] [--pin sha256:...] [--ca-file PATH] [--insecure]
                [--region ...] [--market-time WHEN]
    ibkr pin URL
    ibkr demo [--hours 24] [--seed 7]

``-v``/``-q`` may come before or after the command.

Exit codes: 0 done (including a stop of ``run`` or ``sim`` by Ctrl-C or SIGTERM), and for
``status`` a usable session or an expected window (the nightly reset); 1 the command
failed or needs attention (gateway, login, worker, TLS, the penalty box); 2 the command
line is wrong. ``run`` and ``sim`` stop gracefully on SIGTERM (``docker stop``, systemd)
as on Ctrl-C: the current tick may finish, but is abandoned after a fraction of a second,
and the session's keep-alive and connections are released before the exit. Heavy imports
happen inside the commands, so ``ibkr --help`` answers at once.
"""

from __future__ import annotations

import argparse
import logging
import math
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from ibkr_host.logsetup import ConsoleFormatter, routed_logs
from ibkr_host.market_time import NEW_YORK, ShiftedClock, parse_market_time
from ibkr_session.endpoints import DEFAULT_GATEWAY_URL
from ibkr_session.errors import IbkrError, InsecureGatewayError
from ibkr_session.schedule import REGION_ZONES

__all__ = ["STOP_SIGNALS", "build_parser", "main"]

DEFAULT_GATEWAY = DEFAULT_GATEWAY_URL
DEFAULT_PACING_MAX_WAIT = 30.0
"""The session's own default; ``ibkr run`` allows a tick to wait one interval if longer."""

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
"""Ctrl-C, and what ``docker stop`` and systemd send: both stop ``run`` and ``sim``."""

ABANDON_AFTER = 0.1
"""Seconds a running tick gets to finish after a stop signal before it is abandoned."""

TLS_FLAGS_HINT = (
    "on the command line: --pin sha256:HEX (see `ibkr pin URL`), --ca-file PATH, "
    "or --insecure (not recommended)"
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ibkr`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    command: Callable[[argparse.Namespace], int] | None = getattr(args, "command", None)
    if command is None:
        parser.print_help()
        return 2
    verbosity = args.verbose + args.sub_verbose - args.quiet - args.sub_quiet + args.log_offset
    with _logging(verbosity):
        try:
            return command(args)
        except InsecureGatewayError as exc:
            print(f"ibkr: {exc}\nibkr: {TLS_FLAGS_HINT}", file=sys.stderr)
            return 1
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
        epilog="Exit codes: 0 done (status: usable, or the nightly reset window), 1 failed "
        "or needs attention, 2 wrong command line. "
        "Try `ibkr demo` for a simulated day and night in under a minute.",
    )
    _add_verbosity(parser, dest_prefix="")
    parser.set_defaults(log_offset=0, sub_verbose=0, sub_quiet=0)  # status, pin: warnings
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run a worker file (setup once, tick on an interval)",
        description="Run WORKER.py's setup(ctx) once, then tick(ctx) every --interval "
        "seconds, with ctx.ibkr connected to the gateway. Ctrl-C or SIGTERM stops after "
        "the current tick (abandoned if it does not end at once); exit 0.",
    )
    run.add_argument(
        "workers",
        type=Path,
        nargs="+",
        metavar="WORKER.py",
        help="the worker file; several share one client and one session (each its own "
        "state file and log name)",
    )
    _add_gateway(run, required=True)
    _add_coordination(run)
    run.add_argument(
        "--interval",
        type=_positive_float,
        default=60.0,
        metavar="SECONDS",
        help="seconds between ticks (default: 60)",
    )
    run.add_argument(
        "--ticks",
        type=_non_negative_int,
        default=None,
        metavar="N",
        help="stop after N ticks (default: run until Ctrl-C or SIGTERM)",
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
    run.add_argument(
        "--setup-deadline",
        type=_positive_float,
        default=None,
        metavar="SECONDS",
        help="give up when setup(ctx) has not succeeded after SECONDS (default: 1800 with "
        "--ticks, no limit without)",
    )
    _add_market_time(run, "run the worker and its session on a clock that starts at WHEN")
    run.add_argument(
        "--metrics-port",
        type=_port,
        default=None,
        metavar="PORT",
        help="serve Prometheus /metrics, /livez and /readyz on 127.0.0.1:PORT "
        "(needs ibkr-session[metrics])",
    )
    run.add_argument(
        "--alert-command",
        metavar="CMD",
        help="run CMD when only a human can help (no login, a long competing login, the "
        "penalty box) and when it is resolved; IBKR_ALERT_* in its environment",
    )
    run.add_argument(
        "--alert-webhook",
        metavar="URL",
        help="POST the same alerts as JSON to URL",
    )
    run.add_argument(
        "--competing-alert-after",
        type=_positive_float,
        default=300.0,
        metavar="SECONDS",
        help="alert when a competing login lasts longer than this (default: 300)",
    )
    _add_verbosity(run, dest_prefix="sub_")
    run.set_defaults(command=_run)

    sim = commands.add_parser(
        "sim",
        help="serve the simulated gateway until Ctrl-C",
        description="Serve a simulated Client Portal Gateway over HTTPS (logged in, "
        "real time) and print its URL and certificate fingerprint. Ctrl-C or SIGTERM "
        "stops it (exit 0).",
    )
    sim.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    sim.add_argument(
        "--port", type=_port, default=5000, help="port (default: 5000; 0 picks a free one)"
    )
    _add_region(sim)
    _add_market_time(sim, "start the simulated clock at WHEN")
    sim.add_argument(
        "--no-pacing",
        dest="pacing",
        action="store_false",
        help="never answer 429: no pacing limits, no penalty box",
    )
    sim.add_argument(
        "--penalty-seconds",
        type=_non_negative_float,
        default=600.0,
        metavar="S",
        help="how long the penalty box lasts after a pacing violation (default: 600)",
    )
    sim.add_argument(
        "--idle-timeout",
        type=_positive_float,
        default=360.0,
        metavar="S",
        help="seconds without a request before the brokerage session idles out (default: 360)",
    )
    _add_verbosity(sim, dest_prefix="sub_")
    sim.set_defaults(command=_sim)

    status = commands.add_parser(
        "status",
        help="show the session state, accounts and next reset window",
        description="Probe the gateway once and show a verdict, the session state, the "
        "auth status, the accounts, the selected account and the next reset window. "
        "Exit 0: usable, or inside the nightly reset window (normal); 1: needs attention "
        "(not logged in, competing login, unreachable, the penalty box); 2: usage. "
        "Also the fleet: live workers, the keep-alive holder, the brokerage generation.",
    )
    _add_gateway(status, required=False)
    _add_coordination(status)
    _add_region(status)
    _add_market_time(status, "judge the session at WHEN (as `ibkr sim --market-time`)")
    _add_verbosity(status, dest_prefix="sub_")
    status.set_defaults(command=_status, log_offset=-1)

    pin = commands.add_parser(
        "pin",
        help="print a gateway certificate's sha256 fingerprint",
        description="Fetch the gateway's certificate and print the value to pass as "
        "--pin / SessionManager(pin=...). Compare it with the one the gateway's "
        "machine shows before trusting it.",
    )
    pin.add_argument("url", metavar="URL", help="the gateway URL, e.g. https://host:5000")
    _add_verbosity(pin, dest_prefix="sub_")
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
        "--hours",
        type=_positive_float,
        default=24.0,
        metavar="HOURS",
        help="market hours to simulate (default: 24)",
    )
    demo.add_argument("--seed", type=_int, default=7, help="market seed (default: 7)")
    _add_verbosity(demo, dest_prefix="sub_")
    demo.set_defaults(command=_demo)
    return parser


def _add_verbosity(parser: argparse.ArgumentParser, *, dest_prefix: str) -> None:
    """``-v``/``-q`` on the main parser and on every command (counted apart, then added:
    a subparser's default would otherwise overwrite what was given before the command)."""
    parser.add_argument(
        "-v",
        "--verbose",
        dest=f"{dest_prefix}verbose",
        action="count",
        default=0 if not dest_prefix else argparse.SUPPRESS,
        help="more log lines on stderr (-v: debug)",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        dest=f"{dest_prefix}quiet",
        action="count",
        default=0 if not dest_prefix else argparse.SUPPRESS,
        help="fewer log lines on stderr (-q: warnings only; the worker's ctx.log lines stay)",
    )


def _add_market_time(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--market-time",
        type=parse_market_time,
        default=None,
        metavar="WHEN",
        help=f"{what} (ISO date and time; New York time unless it carries an offset), e.g. "
        "'2026-06-15 10:30' to trade in market hours at night; time then runs at real speed",
    )


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
    parser.add_argument(
        "--ca-file",
        metavar="PATH",
        help="CA certificate file that signed a remote gateway's certificate",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="accept a remote gateway's certificate unchecked (logged; not recommended)",
    )


def _add_coordination(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--coordination",
        metavar="URL",
        default=None,
        help="where the processes of one gateway share pacing, keep-alive and recovery: "
        "file (default), file:///path/state.db, redis://host:6379/0, memory "
        "(default: $IBKR_COORDINATION, else file)",
    )


def _tls_options(args: argparse.Namespace) -> dict[str, Any]:
    return {"pin": args.pin, "verify": args.ca_file, "insecure": args.insecure}


def _add_region(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--region",
        choices=sorted(REGION_ZONES),
        default="america",
        help="server region, for the nightly reset (default: america)",
    )


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def _positive_float(text: str) -> float:
    value = _number(text)
    if not (value > 0 and math.isfinite(value)):  # inf: a demo without end, a wait that overflows
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = _number(text)
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be 0 or a positive number, got {text}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def _non_negative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _port(text: str) -> int:
    value = _int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {text}")
    return value


def _clock(args: argparse.Namespace) -> ShiftedClock | None:
    return None if args.market_time is None else ShiftedClock(args.market_time)


# -- commands ----------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    from ibkr_api.client import IbkrClient
    from ibkr_host.host import WorkerContext
    from ibkr_host.runner import (
        DEFAULT_SETUP_DEADLINE,
        WorkerLoadError,
        WorkerRunner,
        load_worker,
    )

    paths: list[Path] = args.workers
    names = [path.stem for path in paths]
    if len(set(names)) != len(names):
        print("ibkr: two workers with one name would share a state file and a log name",
              file=sys.stderr)  # fmt: skip
        return 2
    if args.state_file is not None and len(paths) > 1:
        print("ibkr: --state-file names one worker's file; several workers each keep "
              ".ibkr-state/NAME.json", file=sys.stderr)  # fmt: skip
        return 2
    try:
        workers = [load_worker(path) for path in paths]
    except WorkerLoadError as exc:
        print(f"ibkr: {exc}", file=sys.stderr)
        return 1
    deadline = args.setup_deadline
    if deadline is None and args.ticks is not None:
        deadline = DEFAULT_SETUP_DEADLINE
    stop = threading.Event()
    with IbkrClient(
        args.gateway,
        region=args.region,
        account_id=args.account,
        clock=_clock(args),
        coordination=args.coordination,
        # A tick may wait for pacing up to one interval (a fleet sharing a 1-per-5-s row
        # queues), never longer: then RateLimitedError says when to come back.
        pacing_max_wait=max(DEFAULT_PACING_MAX_WAIT, args.interval),
        competing_alert_after=args.competing_alert_after,
        **_tls_options(args),
    ) as client:
        runners = [
            WorkerRunner(
                worker,
                WorkerContext(
                    path.stem,
                    client=client,
                    state=args.state_file or Path(".ibkr-state") / f"{path.stem}.json",
                ),
                setup_deadline=deadline,
                stop=stop,
            )
            for worker, path in zip(workers, paths, strict=True)
        ]
        with (
            _operating(args, client, runners),
            _graceful_stop(stop, abandon=lambda: any(r.in_worker_call for r in runners[:1])),
        ):
            try:
                results = _run_all(runners, interval=args.interval, ticks=args.ticks)
            except (
                WorkerCrashedError
            ) as crash:  # setup raised: a bug in the worker, said in one line
                print(f"ibkr: {_worker_error(crash.error, paths[crash.index])}", file=sys.stderr)
                return 1
    for path, result in zip(paths, results, strict=True):
        print(f"{path.name}: {result.describe()}")
    gave_up = any(
        (result.ticks > 0 and result.failed == result.ticks) or result.setup_gave_up is not None
        for result in results
    )
    return 1 if gave_up else 0


def _run_all(runners: list[Any], *, interval: float, ticks: int | None) -> list[Any]:
    """Run the first worker on this thread (Ctrl-C can abandon its tick), the others beside
    it on threads of their own; a worker's crash stops the others (they share the stop
    event) and is raised here, naming that worker (``WorkerCrashedError``)."""
    crashed: list[WorkerCrashedError] = []

    def run(index: int) -> None:
        try:
            runners[index].run(interval=interval, ticks=ticks)
        except Exception as exc:
            crashed.append(WorkerCrashedError(index, exc))
            runners[index].stop.set()

    threads = [
        threading.Thread(target=run, args=(index,), name=f"ibkr-worker-{index}")
        for index in range(1, len(runners))
    ]
    for thread in threads:
        thread.start()
    try:
        run(0)
    finally:
        for thread in threads:
            thread.join()
    if crashed:
        raise crashed[0]
    return [runner.result for runner in runners]


class WorkerCrashedError(Exception):
    """A worker's ``setup`` or ``tick`` raised what no session error explains: a bug."""

    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(str(error))
        self.index = index
        self.error = error


@contextmanager
def _operating(args: argparse.Namespace, client: Any, runners: list[Any]) -> Iterator[None]:
    """Metrics and alerts of ``ibkr run``, fed by the session's and the runner's hooks."""
    session = client.session
    server = None
    if args.metrics_port is not None:
        from ibkr_host.health import HostMetrics, MetricsServer

        metrics = HostMetrics(session.clock, session.schedule, session.state)
        metrics.watch(client)
        for runner in runners:
            runner.listeners.append(metrics.on_worker)
        server = MetricsServer(metrics, port=args.metrics_port).start()
    if args.alert_command or args.alert_webhook:
        from ibkr_host.alerts import command_sink, deliver_to, webhook_sink

        sinks = []
        if args.alert_command:
            sinks.append(command_sink(args.alert_command))
        if args.alert_webhook:
            sinks.append(webhook_sink(args.alert_webhook))
        session.on_alert(deliver_to(sinks))
    try:
        yield
    finally:
        if server is not None:
            server.stop()


def _worker_error(exc: BaseException, worker: Path) -> str:
    """``worker.py:12: setup raised KeyError: 'account'``: where in the worker, and what."""
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if Path(frame.filename).resolve() == worker.resolve()
    ]
    where = f"{worker}:{frames[-1].lineno}" if frames else str(worker)
    function = frames[-1].name if frames else "the worker"
    return f"{where}: {function} raised {type(exc).__name__}: {exc}"


def _sim(args: argparse.Namespace) -> int:
    from ibkr_sim.gateway import SimulatedGateway

    stop = threading.Event()
    clock = _clock(args)
    sim = SimulatedGateway(
        clock,
        region=args.region,
        pacing=args.pacing,
        penalty_seconds=args.penalty_seconds,
        idle_timeout=args.idle_timeout,
    )
    with _graceful_stop(stop, message="stopping the simulator"):
        url = sim.start(host=args.host, port=args.port)
        try:
            print(f"Simulated IBKR gateway at {url}")
            print(f"certificate {sim.fingerprint}")
            if clock is not None:
                market = clock.now().astimezone(NEW_YORK)
                print(f"simulated time {market:%a %Y-%m-%d %H:%M %Z}, running at real speed")
            print(f"try: ibkr run examples/nlv_summary.py --gateway {url} --interval 5")
            print("Ctrl-C to stop.", flush=True)
            while not stop.wait(3600):
                pass
        finally:
            sim.stop()
    print("simulator stopped")
    return 0


def _status(args: argparse.Namespace) -> int:
    from ibkr_host.status import gather_status

    report = gather_status(
        args.gateway,
        region=args.region,
        clock=_clock(args),
        coordination=args.coordination,
        **_tls_options(args),
    )
    for label, value in report.rows:
        print(f"{label:<14}{value}")
    return report.exit_code


def _pin(args: argparse.Namespace) -> int:
    from ibkr_session.tls import fetch_fingerprint

    print(fetch_fingerprint(args.url))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from ibkr_host.demo import run_demo

    outcome = run_demo(hours=args.hours, seed=args.seed, out=sys.stdout)
    return 0 if outcome.passed else 1


@contextmanager
def _graceful_stop(
    stop: threading.Event,
    *,
    message: str = "stopping after the current tick (Ctrl-C again to abort)",
    abandon: Callable[[], bool] = lambda: False,
) -> Iterator[None]:
    """The first Ctrl-C or SIGTERM sets ``stop``; a second one aborts.

    While ``abandon()`` is true (the worker's tick is running), the tick gets
    ``ABANDON_AFTER`` seconds to end, then a ``KeyboardInterrupt`` abandons it: a tick
    stuck in a retry or a long wait must not keep ``docker stop`` waiting. The runner
    turns that interrupt into a clean end (keep-alive stopped, client closed).

    Python runs signal handlers on the main thread only, and a signal the kernel hands to
    another thread (the keep-alive's) does not interrupt a ``time.sleep`` of the main
    one; so a watcher thread reads the signal wake-up fd and pokes the main thread with
    a signal of its own, which does interrupt it. The watcher also does the stopping
    (the message, ``stop.set()``): a handler runs between any two bytecodes of the main
    thread, which may hold ``stop``'s own lock (inside ``stop.wait``) or be writing to
    stderr; setting ``stop`` or printing there could deadlock or fail. The handler only
    arms the second signal.
    """
    if threading.current_thread() is not threading.main_thread() or _POKE is None:
        yield
        return
    main_thread = threading.main_thread().ident
    assert main_thread is not None
    stop_numbers = {int(each) for each in STOP_SIGNALS}

    def again(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    def abandon_now(signum: int, frame: FrameType | None) -> None:
        if abandon():
            raise KeyboardInterrupt

    def later() -> None:
        if abandon():
            signal.pthread_kill(main_thread, _ABANDON)

    def first(signum: int, frame: FrameType | None) -> None:
        for each in STOP_SIGNALS:
            signal.signal(each, again)

    def begin_stopping() -> None:
        print(f"\n{message}", file=sys.stderr, flush=True)
        stop.set()
        if abandon():
            timer = threading.Timer(ABANDON_AFTER, later)
            timer.daemon = True
            timer.start()

    def watch(reader: socket.socket) -> None:
        stopping = False
        while data := reader.recv(64):
            if stop_numbers.intersection(data):
                if not stopping:
                    stopping = True
                    begin_stopping()
                signal.pthread_kill(main_thread, _POKE)

    previous: dict[int, Any] = {each: signal.signal(each, first) for each in STOP_SIGNALS}
    previous[_ABANDON] = signal.signal(_ABANDON, abandon_now)
    previous[_POKE] = signal.signal(_POKE, lambda signum, frame: None)
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    previous_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    watcher = threading.Thread(target=watch, args=(reader,), name="ibkr-signals", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous_fd)
        writer.close()
        watcher.join(timeout=1.0)
        reader.close()
        for each, handler in previous.items():
            signal.signal(each, handler)


_HAS_PTHREAD_KILL = hasattr(signal, "pthread_kill")
_ABANDON: Any = getattr(signal, "SIGUSR1", None) if _HAS_PTHREAD_KILL else None
"""Sent by the stop timer to the main thread: abandon the running tick."""
_POKE: Any = getattr(signal, "SIGUSR2", None) if _HAS_PTHREAD_KILL else None
"""Sent by the watcher to the main thread: run the stop handler now. Without these
(Windows), Ctrl-C still stops the run after the current tick."""
