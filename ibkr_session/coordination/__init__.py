"""Coordination: what every manager of one gateway must share (DESIGN.md §7).

``open_coordination(choice, gateway_url)`` turns the ``coordination=`` option (or
``IBKR_COORDINATION``) into a ``Coordinator`` over one of the stores:

- ``"memory"``: a store of this manager's own (one process, no sharing with others);
- a ``Store`` object: shared by every manager given the same object (one process);
- ``"file"`` / ``"file:///path/state.db"``: SQLite in the user's state directory;
- ``"redis://host:6379/0"`` / ``"rediss://..."``: Redis, for workers on many machines.

To add a backend: a class with ``kind``, ``update(keys, change)`` and ``close()``
(``store.Store``), and one branch in ``open_store``. Everything else is shared.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ibkr_session.clock import Clock, SystemClock
from ibkr_session.coordination.file import DEFAULT_FILE_NAME, FileStore, default_state_dir
from ibkr_session.coordination.memory import MemoryStore
from ibkr_session.coordination.resilient import ResilientStore
from ibkr_session.coordination.shared import Budget, Coordinator, Grant, SharedSession, Wait
from ibkr_session.coordination.store import Store, StoreUnavailableError
from ibkr_session.errors import InvalidRequestError

__all__ = [
    "ENVIRONMENT_VARIABLE",
    "Budget",
    "CoordinationChoice",
    "Coordinator",
    "FileStore",
    "Grant",
    "MemoryStore",
    "ResilientStore",
    "SharedSession",
    "Store",
    "StoreUnavailableError",
    "Wait",
    "open_coordination",
    "open_store",
]

ENVIRONMENT_VARIABLE = "IBKR_COORDINATION"
DEFAULT_CHOICE = "file"
"""For a manager on the real clock; one on a virtual clock (tests) defaults to memory."""

CoordinationChoice = str | Store | Coordinator | None


def open_store(choice: str) -> Store:
    """The store a coordination URL names; a misspelt one is ``InvalidRequestError``.

    ``"file"`` and ``"redis://..."`` come wrapped in a ``ResilientStore`` (degraded mode
    while the backend is unreachable); nothing is opened or connected here.
    """
    if choice == "memory":
        return MemoryStore()
    if choice == "file":
        return _resilient(FileStore(default_state_dir() / DEFAULT_FILE_NAME))
    scheme = choice.partition(":")[0].lower()
    if scheme == "file":
        return _resilient(FileStore(_file_path(choice)))
    if scheme in ("redis", "rediss", "unix") and "://" in choice:
        # Imported here: redis-py is needed only by those who choose Redis.
        from ibkr_session.coordination.redis_store import RedisStore

        try:
            return _resilient(RedisStore(choice))
        except ValueError as exc:
            raise _invalid(choice, str(exc)) from exc
    raise _invalid(choice)


def _resilient(backend: Store) -> ResilientStore:
    return ResilientStore(
        backend,
        remember=Coordinator.remembered,
        outage_value=Coordinator.outage_value,
        rejoin_value=Coordinator.rejoin_value,
    )


def _file_path(url: str) -> Path:
    """``file:///abs/path.db`` → the path; anything else ``file:...`` is misspelt."""
    parts = urlsplit(url)
    path = unquote(parts.path)
    if parts.netloc not in ("", "localhost") or not url.lower().startswith("file://"):
        raise _invalid(url, "a file URL is file:///absolute/path/state.db")
    if parts.query or parts.fragment or not path.startswith("/") or path.endswith("/"):
        raise _invalid(url, "a file URL is file:///absolute/path/state.db")
    return Path(path)


def _invalid(choice: str, why: str = "") -> InvalidRequestError:
    return InvalidRequestError(
        f"coordination must be 'memory', 'file', 'file:///path/state.db' or "
        f"'redis://host:port/db', got {choice!r}" + (f" ({why})" if why else ""),
        field="coordination",
    )


def open_coordination(
    choice: CoordinationChoice, *, gateway_url: str, clock: Clock | None = None
) -> Coordinator:
    """A ``Coordinator`` for ``gateway_url`` from the ``coordination=`` option.

    ``None`` reads ``IBKR_COORDINATION``, else the default: ``"file"`` for a manager on
    the real clock, ``"memory"`` for one on a virtual clock (a ``ManualClock`` is this
    process's own: no other process can share its time, so a file or Redis store with one
    is refused).
    """
    virtual = clock is not None and not isinstance(clock, SystemClock)
    if isinstance(choice, Coordinator):
        coordinator = choice
    else:
        if choice is None:
            choice = os.environ.get(ENVIRONMENT_VARIABLE) or (
                "memory" if virtual else DEFAULT_CHOICE
            )
        store = open_store(choice.strip()) if isinstance(choice, str) else choice
        coordinator = Coordinator(store, namespace=gateway_url)
    if virtual and coordinator.crosses_processes:
        raise InvalidRequestError(
            f"coordination {coordinator.kind!r} is shared with other processes, which "
            "cannot share a virtual clock: use coordination='memory' with a ManualClock",
            field="coordination",
        )
    if clock is not None:
        coordinator.use_clock(lambda: clock.now().timestamp())
    return coordinator
