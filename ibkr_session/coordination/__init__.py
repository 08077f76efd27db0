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

from ibkr_session.coordination.memory import MemoryStore
from ibkr_session.coordination.shared import Budget, Coordinator, Grant, SharedSession, Wait
from ibkr_session.coordination.store import Store, StoreUnavailableError
from ibkr_session.errors import InvalidRequestError

__all__ = [
    "ENVIRONMENT_VARIABLE",
    "Budget",
    "CoordinationChoice",
    "Coordinator",
    "Grant",
    "MemoryStore",
    "SharedSession",
    "Store",
    "StoreUnavailableError",
    "Wait",
    "open_coordination",
    "open_store",
]

ENVIRONMENT_VARIABLE = "IBKR_COORDINATION"
DEFAULT_CHOICE = "memory"

CoordinationChoice = str | Store | Coordinator | None


def open_store(choice: str) -> Store:
    """The store a coordination URL names; a misspelt one is ``InvalidRequestError``."""
    if choice == "memory":
        return MemoryStore()
    raise InvalidRequestError(
        f"coordination must be 'memory', 'file', 'file:///path/state.db' or "
        f"'redis://host:port/db', got {choice!r}",
        field="coordination",
    )


def open_coordination(choice: CoordinationChoice, *, gateway_url: str) -> Coordinator:
    """A ``Coordinator`` for ``gateway_url`` from the ``coordination=`` option."""
    if isinstance(choice, Coordinator):
        return choice
    if choice is None:
        choice = os.environ.get(ENVIRONMENT_VARIABLE) or DEFAULT_CHOICE
    store = open_store(choice.strip()) if isinstance(choice, str) else choice
    return Coordinator(store, namespace=gateway_url)
