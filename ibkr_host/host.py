"""The ``ctx`` a worker receives: ``ctx.ibkr``, ``ctx.log``, ``ctx.state``, ``ctx.monitor``.

The reference's recipes are written against this object, so any host (the ``ibkr run``
command, the demo, a test, another platform) builds one ``WorkerContext`` and hands it to
``run_worker``. The trading client is attached, not created here: a worker with no IBKR
block connected gets the reference's exact ``RuntimeError`` the moment it touches
``ctx.ibkr``, and a host can swap the client (``attach``/``detach``) without rebuilding
the worker's state or metrics.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ibkr_session.clock import Clock, SystemClock
from ibkr_session.logs import get_logger

if TYPE_CHECKING:
    from ibkr_api.client import IbkrClient

__all__ = [
    "NO_CLIENT_MESSAGE",
    "MetricPoint",
    "WorkerContext",
    "WorkerLog",
    "WorkerMonitor",
    "WorkerState",
]

NO_CLIENT_MESSAGE = "No trading block connected. Connect an IBKR block to this worker."


class WorkerLog:
    """``ctx.log``: events of the ``ibkr_host.worker`` logger, bound with the worker's name.

    The reference's fat-finger example calls ``ctx.log.warn`` (the old logging spelling),
    so it is kept beside ``warning``. Extra keyword arguments become structured fields of the event.
    """

    def __init__(self, worker: str) -> None:
        self._log = get_logger("ibkr_host.worker", worker=worker)

    def debug(self, message: str, **fields: Any) -> None:
        self._log.debug(message, **fields)

    def info(self, message: str, **fields: Any) -> None:
        self._log.info(message, **fields)

    def warning(self, message: str, **fields: Any) -> None:
        self._log.warning(message, **fields)

    warn = warning

    def error(self, message: str, **fields: Any) -> None:
        self._log.error(message, **fields)


class WorkerState:
    """``ctx.state``: a small key-value store that survives a restart of the worker.

    Values must be JSON (str, int, float, bool, None, and lists/dicts of those); anything
    else is refused at ``set``, where the mistake is made, not at the next restart. Every
    ``set`` rewrites the file atomically (temporary file, fsync, ``os.replace``), so a crash
    leaves either the old or the new state, never half of one. With ``path=None`` the
    state lives in memory only (tests, throw-away runs).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self._path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._values: dict[str, Any] = self._load()

    @property
    def path(self) -> Path | None:
        return self._path

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return self._values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"ctx.state keys are strings, got {type(key).__name__}")
        stored = _json_copy(key, value)
        with self._lock:
            self._values[key] = stored
            self._save()

    def as_dict(self) -> dict[str, Any]:
        """A copy of everything stored (for hosts that display or migrate state)."""
        with self._lock:
            return json.loads(json.dumps(self._values))  # type: ignore[no-any-return]

    def _load(self) -> dict[str, Any]:
        if self._path is None or not self._path.exists():
            return {}
        try:
            loaded = json.loads(self._path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"state file {self._path} is not valid JSON: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ValueError(f"state file {self._path} must hold a JSON object")
        return loaded

    def _save(self) -> None:
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        encoded = json.dumps(self._values, indent=2, sort_keys=True, allow_nan=False)
        fd, temporary = tempfile.mkstemp(
            dir=self._path.parent, prefix=f".{self._path.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(encoded)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self._path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def _json_copy(key: str, value: Any) -> Any:
    """The value as it will read back after a restart, or a clear refusal."""
    try:
        encoded = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"ctx.state.set({key!r}, ...): {type(value).__name__} cannot be stored "
            f"({exc}); use str, int, float, bool, None, or lists/dicts of those"
        ) from exc
    return json.loads(encoded)


@dataclass(frozen=True)
class MetricPoint:
    """One ``ctx.monitor.metric`` reading."""

    time: _dt.datetime
    value: float


class WorkerMonitor:
    """``ctx.monitor``: named numeric series, logged as they come and kept for the host.

    Timestamps come from the host's clock (the client's clock when one is attached), so a
    virtual-time run records virtual times.
    """

    def __init__(self, now: Callable[[], _dt.datetime], log: WorkerLog) -> None:
        self._now = now
        self._log = log
        self._lock = threading.Lock()
        self._series: dict[str, list[MetricPoint]] = {}

    def metric(self, name: str, value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"metric {name!r} needs a number, got {type(value).__name__}")
        if not math.isfinite(value):
            raise ValueError(f"metric {name!r} needs a finite number, got {value!r}")
        point = MetricPoint(self._now(), float(value))
        with self._lock:
            self._series.setdefault(name, []).append(point)
        self._log.info("metric", metric=name, value=point.value)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._series)

    def series(self, name: str) -> list[MetricPoint]:
        """Every reading of ``name`` in order (empty if never reported)."""
        with self._lock:
            return list(self._series.get(name, ()))


class WorkerContext:
    """What a worker's ``setup(ctx)`` and ``tick(ctx)`` receive (docs/worker.md).

    Attributes:
        ibkr: the ``IbkrClient`` (the 19 methods of the ``ctx.ibkr`` reference, plus
            typed views and ``stream()``); ``RuntimeError("No trading block connected.
            Connect an IBKR block to this worker.")`` when no client is attached.
        log: ``WorkerLog``: ``ctx.log.info/warning/warn/error/debug(message, **fields)``,
            structured events of the logger ``ibkr_host.worker`` bound to the worker's name.
        state: ``WorkerState``: ``get(key, default=None)`` / ``set(key, value)`` of JSON
            values, rewritten atomically to its file (``ibkr run``:
            ``.ibkr-state/WORKER.json`` or ``--state-file``), so it survives a restart.
        monitor: ``WorkerMonitor``: ``metric(name, value)`` records a number with the
            session clock's time (logged, and kept for the host: ``series(name)``).
        name: the worker's name (``ibkr run``: the file's stem).
        clock: the attached client's clock, else the host's.
        connected: whether a client is attached (``ctx.ibkr`` will not raise).

    ``client`` may be given now or attached later with ``attach``; ``state`` is a
    ``WorkerState`` or a path to its JSON file. ``clock`` is used for metric timestamps
    when no client is attached (the client's session clock wins otherwise).
    """

    def __init__(
        self,
        name: str = "worker",
        *,
        client: IbkrClient | None = None,
        state: WorkerState | str | os.PathLike[str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.name = name
        self._client = client
        self._clock = clock if clock is not None else SystemClock()
        self.log = WorkerLog(name)
        self.state = state if isinstance(state, WorkerState) else WorkerState(state)
        self.monitor = WorkerMonitor(lambda: self.clock.now(), self.log)

    @property
    def ibkr(self) -> IbkrClient:
        """The attached ``IbkrClient``; the reference's ``RuntimeError`` when there is none."""
        client = self._client
        if client is None:
            raise RuntimeError(NO_CLIENT_MESSAGE)
        return client

    @property
    def connected(self) -> bool:
        """True when a client is attached (``ctx.ibkr`` will not raise)."""
        return self._client is not None

    @property
    def clock(self) -> Clock:
        """The attached client's clock, or the host's own."""
        if self._client is not None:
            return self._client.session.clock
        return self._clock

    def attach(self, client: IbkrClient) -> None:
        """Connect a trading client: ``ctx.ibkr`` returns it from now on."""
        self._client = client

    def detach(self) -> IbkrClient | None:
        """Disconnect the client (not closed: the host owns it) and return it."""
        client, self._client = self._client, None
        return client
