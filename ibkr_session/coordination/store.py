"""The one primitive every coordination backend provides: an atomic update of a few keys.

Everything several managers must agree on (pacing windows, the penalty box, leases, the
brokerage generation, the selected account, suppressed ids) is written once, in
``ibkr_session.coordination.shared``, as pure changes of a small dict of JSON values. A
backend only has to run such a change atomically:

``update(keys, change)``: read ``keys`` (an absent key is missing from the dict), call
``change(values)``, which may set, replace or delete entries among ``keys``, write back
what changed and return ``change``'s result — all as one transaction. An optimistic backend
may call ``change`` more than once, so a change touches nothing but its dict.

Values are JSON (``None``, bools, numbers, strings, lists, dicts): a file or Redis backend
stores them as text. A backend that cannot be reached raises ``StoreUnavailableError``;
the coordinator then goes on in a safe local mode (``coordination.resilient``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

__all__ = ["Change", "Store", "StoreUnavailableError", "Values"]

T = TypeVar("T")

Values = dict[str, Any]
"""The keys of one update and their JSON values."""

Change = Callable[[Values], T]


class StoreUnavailableError(Exception):
    """The backend could not run an update (unreachable, locked too long, unwritable).

    Internal to coordination: a manager never sees it, it degrades instead.
    """


class Store(Protocol):
    """Atomic read-modify-write of a few JSON values; see the module docstring."""

    kind: str
    """``"memory"``, ``"file"`` or ``"redis"``: for status pages and logs."""

    def update(self, keys: Sequence[str], change: Callable[[Values], T]) -> T:
        """Run ``change`` on the current values of ``keys`` atomically; its result."""
        ...

    def close(self) -> None:
        """Release connections and files (the shared state stays for the others)."""
        ...
