"""The in-process store: one lock and one dict (``coordination="memory"``).

Managers of one process that share a ``MemoryStore`` share pacing and holds; a manager
with a store of its own is alone, as before coordination existed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ibkr_session.coordination.store import Values

__all__ = ["MemoryStore"]

T = TypeVar("T")


class MemoryStore:
    """``Store`` over a dict; changes run under one lock, so they are atomic."""

    kind = "memory"

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self._lock = threading.Lock()

    def update(self, keys: Sequence[str], change: Callable[[Values], T]) -> T:
        with self._lock:
            # The live objects, not copies: under the lock a change may mutate them in place.
            values = {key: self._values[key] for key in keys if key in self._values}
            result = change(values)
            for key in keys:
                if key in values:
                    self._values[key] = values[key]
                else:
                    self._values.pop(key, None)
            return result

    def close(self) -> None:
        """Nothing to release: the dict lives as long as the managers that share it."""
