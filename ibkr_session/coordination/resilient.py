"""Degraded mode: a shared store that cannot be reached is replaced by a local one, for a while.

``ResilientStore(backend)`` runs every update on ``backend``. When the backend raises
``StoreUnavailableError`` (Redis down or slow, the SQLite file locked too long, unwritable
or corrupt), the update runs on a local ``MemoryStore`` instead, one warning
``coordination.degraded`` is logged, and every update for the next ``retry_interval``
seconds stays local without touching the backend (a dead Redis costs one short timeout per
interval, not one per request). The first update that reaches the backend again logs
``coordination.rejoined`` and the store is shared again.

While degraded the manager is alone: its pacing must keep to its share of the limits
(``Coordinator.share``: one over the number of live workers it last saw), and its leases
are its own. The keys ``remember(key)`` names (``Coordinator.remembered``: the penalty box,
the session's memory, the pacing windows) start from their last shared values, as
``outage_value(key, value)`` turns them (``Coordinator.outage_value``: what was in flight
elsewhere counts as answered when it left), so a manager cut off never sends into a
penalty box or a full window it knew of, nor counts a brokerage generation again.
Updates run one at a time (one lock, held across the backend's round trip): the value
remembered for a key is then the backend's last commit, never an earlier one a slow thread
recorded after it, and an outage starts from every update committed before it. A backend
that hangs costs the other threads its timeout once, after which they run locally.
Orders stay exactly-once regardless: that is the cOID rules' business, not coordination's.
``update`` raises nothing the backend's failure could cause; an exception
from ``change`` itself (a bug) still propagates.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ibkr_session.coordination.memory import MemoryStore
from ibkr_session.coordination.store import Store, StoreUnavailableError, Values
from ibkr_session.logs import get_logger

__all__ = ["DEFAULT_RETRY_INTERVAL", "ResilientStore"]

log = get_logger(__name__)

T = TypeVar("T")

DEFAULT_RETRY_INTERVAL = 3.0
"""Seconds between two attempts to reach a backend that failed."""


class ResilientStore:
    """``Store`` that falls back to a local ``MemoryStore`` while ``backend`` is unavailable.

    ``monotonic`` is the clock for the retry interval (``time.monotonic`` by default; tests
    pass a virtual one). ``degraded`` says whether the last update ran locally.
    """

    def __init__(
        self,
        backend: Store,
        *,
        retry_interval: float = DEFAULT_RETRY_INTERVAL,
        monotonic: Callable[[], float] = time.monotonic,
        remember: Callable[[str], bool] | None = None,
        outage_value: Callable[[str, Any], Any] | None = None,
        rejoin_value: Callable[[str, Any, Any], Any] | None = None,
        rejoin_grace: float | None = None,
    ) -> None:
        self.backend = backend
        self.remember = remember
        self.outage_value = outage_value
        self.rejoin_value = rejoin_value
        self.rejoin_grace = 2 * float(retry_interval) if rejoin_grace is None else rejoin_grace
        self._cautious_until = -math.inf
        self._remembered: dict[str, str | None] = {}
        self.kind = backend.kind
        self.local = MemoryStore()
        self.retry_interval = float(retry_interval)
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._written_alone: set[str] = set()
        self._degraded = False
        self._retry_at = 0.0
        self.degradations = 0
        """How many times the backend was lost (for status pages and tests)."""

    @property
    def degraded(self) -> bool:
        """True while updates run on the local store."""
        return self._degraded

    @property
    def cautious(self) -> bool:
        """Degraded, or rejoined less than ``rejoin_grace`` seconds ago: the others may
        still be alone (each finds the backend back on its own schedule), so a manager
        keeps to its share a little longer."""
        return self._degraded or self._monotonic() < self._cautious_until

    def __repr__(self) -> str:
        return f"ResilientStore({self.backend!r})"

    def update(self, keys: Sequence[str], change: Callable[[Values], T]) -> T:
        with self._lock:  # one at a time: see the module docstring
            if self._degraded and self._monotonic() < self._retry_at:
                return self._alone(keys, change)
            kept = [key for key in keys if self.remember(key)] if self.remember else []
            seen: dict[str, str | None] = {}

            def noted(values: Values) -> T:
                result = change(values)
                # The last run is the one a backend committed (an optimistic one may rerun).
                for key in kept:
                    seen[key] = json.dumps(values[key]) if key in values else None
                return result

            try:
                if self._degraded:  # this update probes the backend
                    self._retry_at = self._monotonic() + self.retry_interval
                    self._rejoin(keys)
                result = self.backend.update(keys, noted if kept else change)
            except StoreUnavailableError as exc:
                self._lost(exc)
                return self._alone(keys, change)
            self._remembered.update(seen)
            return result

    def close(self) -> None:
        try:
            self.backend.close()
        except Exception as exc:  # closing must never fail a shutdown
            log.debug("coordination.close_failed", error=repr(exc))
        self.local.close()

    def _alone(self, keys: Sequence[str], change: Callable[[Values], T]) -> T:
        """``change`` on the local store. The remembered keys it writes are noted: a rejoin
        merges them, those first written in the outage (an endpoint's first call) too."""
        if self.remember is not None:
            self._written_alone.update(key for key in keys if self.remember(key))
        return self.local.update(keys, change)

    def _lost(self, exc: StoreUnavailableError) -> None:
        first = not self._degraded
        self._degraded = True
        self._retry_at = self._monotonic() + self.retry_interval
        if first:
            self.degradations += 1
            remembered = {
                key: json.loads(text) for key, text in self._remembered.items() if text is not None
            }
            if self.outage_value is not None:
                remembered = {
                    key: self.outage_value(key, value) for key, value in remembered.items()
                }
            self.local.update(list(remembered), lambda values: values.update(remembered))
            log.warning(
                "coordination.degraded",
                backend=self.backend.kind,
                error=str(exc),
                retry_in=self.retry_interval,
            )

    def _rejoin(self, keys: Sequence[str]) -> None:
        """The probe: what this manager did alone joins the shared state *before* the
        update that found the backend back runs on it (a Redis restarted empty would
        otherwise forget the outage's requests, whose windows are not over, and that very
        update, often a request's slot, would be granted beside them). Raises
        ``StoreUnavailableError`` while the backend is still gone."""
        merge = self.rejoin_value
        alone = sorted({*self._remembered, *self._written_alone})
        mine = self.local.update(alone, dict) if merge is not None else {}

        def merged(values: Values) -> None:
            if merge is not None:
                for key, value in mine.items():
                    values[key] = merge(key, values.get(key), value)

        self.backend.update(sorted({*mine, *keys}), merged)
        self._degraded = False
        self._cautious_until = self._monotonic() + self.rejoin_grace
        # What was held locally belongs to no one else: start the next outage afresh.
        self.local = MemoryStore()
        self._written_alone = set()
        log.info("coordination.rejoined", backend=self.backend.kind)
