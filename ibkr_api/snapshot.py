"""Pre-flight handling: the gateway's habit of answering a first request with a placeholder.

The first market-data snapshot of a conid in a brokerage session only opens the stream and
answers ``[{"conid": 265598, "conidEx": "265598"}]``; the first live-orders request after a
login may come back empty. Both are "ask again shortly" situations, and both are over for
the rest of that brokerage session. So the memory of what has been asked is kept per
``session.brokerage_generation`` (a re-authentication starts a new one) and the re-asking
is bounded: a field an instrument never has cannot keep a worker waiting.

``SnapshotReader`` does this for ``get_market_snapshot``: ≤ 100 conids per request (more
are split and the answers concatenated in order), and a bounded re-ask only while a
(conid, field) pair asked for the first time in this brokerage session is missing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from ibkr_session.clock import Clock
from ibkr_session.errors import IbkrAPIError
from ibkr_session.logs import get_logger

__all__ = ["MAX_CONIDS_PER_SNAPSHOT", "GenerationMemory", "SnapshotReader", "ask_until"]

log = get_logger(__name__)

MAX_CONIDS_PER_SNAPSHOT = 100
"""IBKR-FACTS §3: at most 100 conids in one snapshot request."""

K = TypeVar("K", bound=Hashable)


class GenerationMemory(Generic[K]):
    """Keys that stay true for one brokerage session only (subscriptions, primed lists).

    ``generation`` reads the session's current ``brokerage_generation``; when it moves on,
    everything remembered is forgotten, because the gateway forgot it too.
    """

    def __init__(self, generation: Callable[[], int]) -> None:
        self._generation = generation
        self._seen_in: int | None = None
        self._keys: set[K] = set()
        self._lock = threading.Lock()

    def unknown(self, keys: Iterable[K]) -> set[K]:
        """Those of ``keys`` not yet remembered in the current brokerage session."""
        with self._lock:
            self._forget_if_stale()
            return set(keys) - self._keys

    def remember(self, keys: Iterable[K]) -> None:
        """Mark ``keys`` as done for the current brokerage session."""
        with self._lock:
            self._forget_if_stale()
            self._keys.update(keys)

    def forget(self, keep: Callable[[K], bool] | None = None) -> None:
        """Forget every key (``keep=None``) or those for which ``keep`` is false."""
        with self._lock:
            self._keys = {key for key in self._keys if keep is not None and keep(key)}

    def _forget_if_stale(self) -> None:
        current = self._generation()
        if current != self._seen_in:
            self._seen_in = current
            self._keys.clear()


def ask_until(
    fetch: Callable[[], Any],
    complete: Callable[[Any], bool],
    *,
    attempts: int,
    wait: float,
    clock: Clock,
    what: str,
) -> Any:
    """Call ``fetch`` until ``complete(answer)`` or ``attempts`` calls; return the last answer.

    The waits between calls go through ``clock.sleep`` (virtual in tests).
    """
    answer = fetch()
    for attempt in range(2, attempts + 1):
        if complete(answer):
            break
        log.debug("ibkr.preflight.reask", what=what, attempt=attempt, wait=wait)
        clock.sleep(wait)
        answer = fetch()
    return answer


class SnapshotReader:
    """Reads snapshots so the first call of a session already returns prices."""

    def __init__(
        self,
        fetch: Callable[[Mapping[str, str]], Any],
        *,
        clock: Clock,
        generation: Callable[[], int],
        attempts: int = 5,
        wait: float = 0.5,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._subscribed: GenerationMemory[tuple[int, str]] = GenerationMemory(generation)
        self._attempts = attempts
        self._wait = wait

    def read(self, conids: Sequence[int], fields: Sequence[str]) -> list[Any]:
        """The gateway's rows for ``conids`` (in request order of the chunks), unchanged."""
        rows: list[Any] = []
        for start in range(0, len(conids), MAX_CONIDS_PER_SNAPSHOT):
            rows.extend(self._read_chunk(conids[start : start + MAX_CONIDS_PER_SNAPSHOT], fields))
        return rows

    def forget(self, conids: Iterable[int] | None = None) -> None:
        """After an unsubscribe: the gateway's next snapshot of these conids (all with
        ``None``) is a pre-flight again, so it is asked again too."""
        if conids is None:
            self._subscribed.forget()
            return
        gone = set(conids)
        self._subscribed.forget(lambda key: key[0] not in gone)

    def _read_chunk(self, conids: Sequence[int], fields: Sequence[str]) -> list[Any]:
        params = {"conids": ",".join(map(str, conids)), "fields": ",".join(fields)}
        requested = {(conid, field) for conid in conids for field in fields}
        # What is new is decided after each answer: the request itself may have opened a
        # new brokerage session (recovery happens inside it).
        answer = ask_until(
            lambda: self._fetch(params),
            lambda rows: not _missing(rows, self._subscribed.unknown(requested)),
            attempts=self._attempts,
            wait=self._wait,
            clock=self._clock,
            what="snapshot",
        )
        # Remembered even when a field is still missing: the stream is open now, and a
        # field an instrument never has must not cost a re-ask on every later call.
        self._subscribed.remember(requested)
        if not isinstance(answer, list):
            raise IbkrAPIError(
                "malformed",
                "snapshot answer is not a list",
                method="GET",
                path="/iserver/marketdata/snapshot",
                body=answer,
            )
        return answer


def _missing(answer: Any, wanted: set[tuple[int, str]]) -> set[tuple[int, str]]:
    """The (conid, field) pairs of ``wanted`` that ``answer`` does not carry."""
    if not isinstance(answer, list):
        return wanted
    present: set[tuple[int, str]] = set()
    for row in answer:
        if not isinstance(row, dict):
            continue
        conid = _row_conid(row)
        if conid is not None:
            present.update((conid, key) for key in row)
    return wanted - present


def _row_conid(row: Mapping[str, Any]) -> int | None:
    """The row's conid: an int in ``conid``, or the string ``conidEx`` as a fallback."""
    for key in ("conid", "conidEx"):
        value = row.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.isdigit():
            return int(value)
    return None
