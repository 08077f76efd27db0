"""Run a worker: ``setup(ctx)`` once, then ``tick(ctx)`` every ``interval`` seconds.

A worker is a module (or any object) with an optional ``setup(ctx)`` and a ``tick(ctx)``;
``load_worker(path)`` imports one from a file. The runner is what keeps a bot alive
through everything the gateway does to it:

- ``setup`` is retried, on the clock, while the session is not ready (reset window, not
  logged in, competing login, gateway down) instead of killing the bot at 01:00;
- a tick that raises is logged with its traceback and the next tick runs anyway;
- a typed session error in a tick is ONE clear line ("reset window until 01:10 EST"),
  logged once per episode, and a ``worker.resumed`` line when ticks work again; an
  order whose outcome is unknown (``OrderOutcomeUnknownError``) is a warning every time,
  because it names an order the user may have to look up;
- between ticks the session is kept alive: in real time by the manager's keep-alive
  thread (``session.start()``), under a virtual clock by calling ``session.keepalive()``
  as virtual time advances;
- Ctrl-C (``KeyboardInterrupt``) or a ``stop`` event ends the run cleanly: a stop waits
  for the current tick, an interrupt abandons it (counted as ``abandoned``); either way the
  keep-alive thread is stopped before ``run`` returns;
- a bounded run (``ticks=N``) always ends: ``setup`` is retried for at most
  ``setup_deadline`` seconds (default 30 minutes for a bounded run, longer than the nightly
  window; no limit for a run without ``ticks``), and a tick that meets a session error
  counts as a tick.

The runner uses only the client's public session API: ``start()``/``stop()``/
``keeping_alive`` (the keep-alive thread), ``keepalive()`` (one step, under a virtual
clock), ``clock`` and ``schedule`` (where the reset window is).

Time: with a ``SystemClock`` waits are ``Event.wait`` (a stop is prompt); with any other
clock (``ManualClock``) waits are the clock's ``sleep``, and while ``setup``/``tick`` run,
``time.sleep`` on the worker's thread is the clock's sleep too, so a recipe's
``time.sleep(0.4)`` costs virtual time, not wall time. The trade-off: the recipes do
``import time`` inside the function, so only replacing ``time.sleep`` in the ``time``
module reaches them. It is replaced while at least one worker call runs and put back when
the last one ends, however it ends; meanwhile every other thread (an in-process
simulator's server, a second runner on its own clock) still gets its own sleep, and code
that captured ``time.sleep`` before the call is not redirected. Never done in real time.
"""

from __future__ import annotations

import datetime as _dt
import importlib.util
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, SupportsIndex

from ibkr_api.orders import OrderOutcomeUnknownError
from ibkr_host.host import WorkerContext
from ibkr_session.clock import Clock, SystemClock
from ibkr_session.errors import (
    CompetingSessionError,
    GatewayUnavailableError,
    GatewayUnreachableError,
    IbkrError,
    NotAuthenticatedError,
    RateLimitedError,
    ResetWindowError,
)
from ibkr_session.logs import get_logger
from ibkr_session.pacing import PACING_REFUSAL

__all__ = [
    "DEFAULT_SETUP_DEADLINE",
    "SESSION_ERRORS",
    "RunResult",
    "WorkerLoadError",
    "WorkerRunner",
    "describe_session_error",
    "load_worker",
    "run_worker",
]


#: Errors that mean "the session is not ready yet", not "the worker has a bug".
SESSION_ERRORS: tuple[type[IbkrError], ...] = (
    ResetWindowError,
    NotAuthenticatedError,
    CompetingSessionError,
    GatewayUnreachableError,
    GatewayUnavailableError,
    RateLimitedError,
)

#: Longest virtual-time step between two keep-alive calls.
KEEPALIVE_STEP = 30.0

#: How long a bounded run (``ticks=N``) retries ``setup`` before giving up: longer than the
#: nightly reset window (15 min) and its recovery, shorter than a forgotten login.
DEFAULT_SETUP_DEADLINE = 1800.0


class WorkerLoadError(ValueError):
    """The worker file cannot be loaded, or it has no ``tick(ctx)``."""


class Worker(Protocol):
    """What ``run_worker`` needs: ``tick(ctx)``; ``setup(ctx)`` is looked up optionally."""

    def tick(self, ctx: WorkerContext) -> Any: ...


@dataclass
class RunResult:
    """What a run did, for the CLI's and the demo's closing lines."""

    ticks: int = 0
    failed: int = 0
    paused: int = 0
    abandoned: int = 0
    setup_attempts: int = 0
    interrupted: bool = False
    setup_gave_up: str | None = None
    """Why ``setup`` never succeeded before ``setup_deadline`` (``None``: it did, or no
    deadline was met)."""

    def describe(self) -> str:
        ok = self.ticks - self.failed - self.paused - self.abandoned
        abandoned = f", {self.abandoned} abandoned" if self.abandoned else ""
        end = ", interrupted" if self.interrupted else ""
        if self.setup_gave_up is not None:
            end += f", setup gave up: {self.setup_gave_up}"
        return (
            f"{self.ticks} ticks: {ok} ok, {self.failed} failed, "
            f"{self.paused} waited for the session{abandoned}{end}"
        )


def load_worker(path: str | Path) -> ModuleType:
    """Import a worker file (``examples/mean_reversion.py``) as a fresh module."""
    source = Path(path)
    if not source.is_file():
        raise WorkerLoadError(f"worker file not found: {source}")
    name = f"ibkr_worker_{source.stem}"
    spec = importlib.util.spec_from_file_location(name, source)
    if spec is None or spec.loader is None:
        raise WorkerLoadError(f"cannot import {source}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        line = f":{exc.lineno}" if exc.lineno else ""
        raise WorkerLoadError(f"{source}{line}: SyntaxError: {exc.msg}") from exc
    except Exception as exc:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(source)]
        line = f":{frames[-1].lineno}" if frames else ""
        raise WorkerLoadError(
            f"{source}{line}: importing it raised {type(exc).__name__}: {exc}"
        ) from exc
    if not callable(getattr(module, "tick", None)):
        raise WorkerLoadError(f"{source} defines no tick(ctx) function")
    return module


def describe_session_error(exc: IbkrError, zone: _dt.tzinfo = _dt.UTC) -> str:
    """One human line saying why the session is not ready and what happens next."""
    if isinstance(exc, OrderOutcomeUnknownError):
        return f"order not confirmed: {exc}"
    if isinstance(exc, ResetWindowError):
        until = exc.resumes_at.astimezone(zone)
        return f"reset window until {until:%H:%M %Z}, resuming then"
    if isinstance(exc, CompetingSessionError):
        return "competing login on another IBKR platform holds the session; waiting"
    if isinstance(exc, RateLimitedError) and exc.code == PACING_REFUSAL:
        return f"IBKR's limits leave no room (nothing was sent); again in {exc.retry_after:.1f} s"
    if isinstance(exc, RateLimitedError):
        return f"rate limited by the gateway; quiet for {exc.retry_after:g} s"
    if isinstance(exc, NotAuthenticatedError):
        return f"not authenticated: {exc.msg}"
    if isinstance(exc, GatewayUnavailableError):
        return f"gateway unavailable ({exc.code}); retrying"
    return f"gateway unreachable: {exc}; retrying"


class WorkerRunner:
    """The pieces of ``run_worker``, for hosts that interleave their own steps (the demo)."""

    def __init__(
        self,
        worker: Worker | ModuleType,
        ctx: WorkerContext,
        *,
        clock: Clock | None = None,
        zone: _dt.tzinfo | None = None,
        setup_retry: float = 30.0,
        setup_deadline: float | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        if setup_deadline is not None and not setup_deadline >= 0:
            raise ValueError(f"setup_deadline must be >= 0 seconds, got {setup_deadline}")
        if not callable(getattr(worker, "tick", None)):
            raise WorkerLoadError(f"{worker!r} has no tick(ctx)")
        self.worker = worker
        self.ctx = ctx
        self.clock = clock if clock is not None else ctx.clock
        self.realtime = isinstance(self.clock, SystemClock)
        self.zone = zone if zone is not None else _session_zone(ctx)
        self.setup_retry = setup_retry
        self.setup_deadline = setup_deadline
        self.stop = stop if stop is not None else threading.Event()
        self.result = RunResult()
        self._log = get_logger(__name__, worker=ctx.name)
        self._pause_reason: type[IbkrError] | None = None
        self._in_call = False
        self.listeners: list[Callable[[str, IbkrError | None], None]] = []
        """Told ``(event, error)`` for ``tick_ok``, ``tick_failed``, ``tick_paused``,
        ``tick_abandoned``, ``paused`` (a new episode, with its error) and ``resumed``:
        what a host's metrics and alerts watch. A listener that raises is logged."""

    @property
    def in_worker_call(self) -> bool:
        """Whether the worker's ``setup`` or ``tick`` is running now (a host may abandon it)."""
        return self._in_call

    def setup(self) -> bool:
        """Run ``setup(ctx)`` until it succeeds; False if stopped first.

        Session errors are waited out (``retry_after`` when the error gives one, else
        ``setup_retry`` seconds) until ``setup_deadline`` seconds have passed (then False,
        with ``result.setup_gave_up`` saying why); any other exception is a bug in the
        worker and propagates.
        """
        setup: Callable[[WorkerContext], Any] | None = getattr(self.worker, "setup", None)
        if setup is None:
            return True
        started = self.clock.monotonic()
        while not self.stop.is_set():
            self.result.setup_attempts += 1
            try:
                with self._worker_call():
                    setup(self.ctx)
            except SESSION_ERRORS as exc:
                self._paused(exc, during="setup")
                delay = _retry_delay(exc, self.setup_retry)
                if self.setup_deadline is not None:
                    left = started + self.setup_deadline - self.clock.monotonic()
                    if left <= 0:
                        self._give_up(exc)
                        return False
                    delay = min(delay, left)
                self.wait(delay)
                continue
            self._resumed()
            self._log.info("worker.ready", setup_attempts=self.result.setup_attempts)
            return True
        return False

    def tick(self) -> None:
        """Run one ``tick(ctx)``: failures are logged, never raised (except Ctrl-C)."""
        self.result.ticks += 1
        try:
            with self._worker_call():
                self.worker.tick(self.ctx)
        except KeyboardInterrupt:
            self.result.abandoned += 1
            self._log.warning("worker.tick_abandoned", tick=self.result.ticks)
            self._emit("tick_abandoned")
            raise
        except SESSION_ERRORS as exc:
            self.result.paused += 1
            self._paused(exc, during="tick")
            self._emit("tick_paused", exc)
        except Exception:
            self.result.failed += 1
            self._log.exception("worker.tick_failed", tick=self.result.ticks)
            self._emit("tick_failed")
        else:
            self._resumed()
            self._emit("tick_ok")

    def wait(self, seconds: float) -> None:
        """Let ``seconds`` pass, keeping the session alive; returns early on ``stop``."""
        if self.realtime:
            self.stop.wait(max(seconds, 0.0))
            return
        remaining = seconds
        while remaining > 0 and not self.stop.is_set():
            step = min(remaining, KEEPALIVE_STEP)
            self.clock.sleep(step)
            remaining -= step
            self._keepalive()

    def run(self, *, interval: float = 60.0, ticks: int | None = None) -> RunResult:
        """Setup, then tick every ``interval`` seconds until ``ticks`` ran or a stop."""
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval}")
        if ticks is not None and ticks < 0:
            raise ValueError(f"ticks must be >= 0, got {ticks}")
        try:
            with self._keepalive_thread():
                if self.setup():
                    self._loop(interval, ticks)
        except KeyboardInterrupt:
            self.result.interrupted = True
        self._log.info("worker.stopped", summary=self.result.describe())
        return self.result

    def _loop(self, interval: float, ticks: int | None) -> None:
        due = self.clock.monotonic()
        while not self.stop.is_set() and (ticks is None or self.result.ticks < ticks):
            self.tick()
            if ticks is not None and self.result.ticks >= ticks:
                break
            due += interval
            now = self.clock.monotonic()
            if due < now:  # the tick overran: skip the missed slots instead of bursting
                due = now
            self.wait(due - now)

    def _give_up(self, exc: IbkrError) -> None:
        reason = describe_session_error(exc, self.zone)
        self.result.setup_gave_up = reason
        self._log.error(
            "worker.setup_gave_up",
            reason=reason,
            setup_deadline=self.setup_deadline,
            setup_attempts=self.result.setup_attempts,
        )

    def _paused(self, exc: IbkrError, *, during: str) -> None:
        reason = describe_session_error(exc, self.zone)
        if isinstance(exc, OrderOutcomeUnknownError):  # names one order: never folded
            self._log.warning("worker.order_unconfirmed", reason=reason, during=during)
            return
        if type(exc) is self._pause_reason:
            self._log.debug("worker.paused", reason=reason, during=during)
            return
        self._pause_reason = type(exc)
        self._log.warning("worker.paused", reason=reason, during=during)
        self._emit("paused", exc)

    def _resumed(self) -> None:
        if self._pause_reason is not None:
            self._pause_reason = None
            self._log.info("worker.resumed")
            self._emit("resumed")

    def _emit(self, event: str, error: IbkrError | None = None) -> None:
        for listener in list(self.listeners):
            try:
                listener(event, error)
            except Exception:
                self._log.exception("worker.listener_failed", event_name=event)

    def _keepalive(self) -> None:
        if self.ctx.connected:
            self.ctx.ibkr.session.keepalive()

    @contextmanager
    def _keepalive_thread(self) -> Iterator[None]:
        """Real time: the manager's daemon keeps the session alive while we run (a thread the
        host started itself is the host's to stop)."""
        if not (self.realtime and self.ctx.connected) or self.ctx.ibkr.session.keeping_alive:
            yield
            return
        session = self.ctx.ibkr.session
        session.start()
        try:
            yield
        finally:
            session.stop()

    @contextmanager
    def _worker_call(self) -> Iterator[None]:
        """Under a virtual clock, the worker's ``time.sleep`` is the clock's sleep."""
        self._in_call = True
        try:
            if self.realtime:
                yield
            else:
                with _VIRTUAL_SLEEP.on(self.clock):
                    yield
        finally:
            self._in_call = False


class _VirtualSleep:
    """``time.sleep`` that is a clock's sleep on the threads inside a worker call.

    Installed in the ``time`` module when the first call starts and removed when the last
    one ends, in whatever order overlapping calls (runners on other threads) finish; a
    thread outside any call sleeps for real.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls = 0
        self._real_sleep: Callable[[float | SupportsIndex], None] = time.sleep
        self._thread = threading.local()

    @contextmanager
    def on(self, clock: Clock) -> Iterator[None]:
        with self._lock:
            if self._calls == 0:
                self._real_sleep = time.sleep
                time.sleep = self._sleep
            self._calls += 1
        outer: Clock | None = getattr(self._thread, "clock", None)
        self._thread.clock = clock
        try:
            yield
        finally:
            self._thread.clock = outer
            with self._lock:
                self._calls -= 1
                if self._calls == 0:
                    time.sleep = self._real_sleep

    def _sleep(self, seconds: float | SupportsIndex) -> None:
        clock: Clock | None = getattr(self._thread, "clock", None)
        if clock is None:
            self._real_sleep(seconds)
        else:
            clock.sleep(float(seconds))


_VIRTUAL_SLEEP = _VirtualSleep()


def _session_zone(ctx: WorkerContext) -> _dt.tzinfo:
    """Where the reset window is: the attached session's region, else UTC."""
    return ctx.ibkr.session.schedule.zone if ctx.connected else _dt.UTC


def _retry_delay(exc: IbkrError, default: float) -> float:
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, int | float) and retry_after > 0:
        return float(retry_after)
    return default


def run_worker(
    worker: Worker | ModuleType,
    ctx: WorkerContext,
    *,
    interval: float = 60.0,
    ticks: int | None = None,
    clock: Clock | None = None,
    zone: _dt.tzinfo | None = None,
    setup_retry: float = 30.0,
    setup_deadline: float | None = None,
    stop: threading.Event | None = None,
) -> RunResult:
    """Call ``worker.setup(ctx)`` once and ``worker.tick(ctx)`` every ``interval`` s.

    ``ticks`` bounds the run (``None``: until ``stop`` is set or Ctrl-C). ``clock``
    defaults to the attached client's clock. ``zone`` is where ``resumes_at`` times are
    shown (default: the session's reset region). ``setup_retry``: seconds between two
    attempts of a ``setup`` that met a session error; ``setup_deadline``: give up on
    ``setup`` after that many seconds (default ``DEFAULT_SETUP_DEADLINE`` when ``ticks`` is
    given, no limit otherwise), so a bounded run always ends. The caller owns the client
    and closes it.
    """
    if setup_deadline is None and ticks is not None:
        setup_deadline = DEFAULT_SETUP_DEADLINE
    runner = WorkerRunner(
        worker,
        ctx,
        clock=clock,
        zone=zone,
        setup_retry=setup_retry,
        setup_deadline=setup_deadline,
        stop=stop,
    )
    return runner.run(interval=interval, ticks=ticks)
