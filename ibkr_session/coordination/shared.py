"""What the managers of one gateway share, written once as atomic changes over a ``Store``.

IBKR counts its limits per gateway and per IP, and a user has one brokerage session, so
every manager talking to one gateway (threads, processes, machines) must agree on:

- **pacing**: every row of IBKR-FACTS §3 is a ``Budget``. A request holds an entry in each
  budget it counts against from the moment its slot is granted until ``window`` seconds
  after its answer came back. Counting until the answer (not from the grant) is what keeps
  the limit *as the gateway counts it*, at arrival: a request that left first but arrived
  late (a new TLS connection) can no longer share a gateway-second with ten warm ones.
  Concurrency budgets (history: 5) count entries in flight. An entry whose holder died is
  dropped at its ``flight_ttl`` deadline, so a crash gives its slots back.
- **the penalty box**: after one 429 nobody sends until it ends.
- **leases** (keep-alive tickler, recovery, priming, the order-question hold): a holder and a
  deadline; a dead holder never blocks the rest longer than its lease.
- **the session's memory**: brokerage generation, primed generation, last confirmed contact,
  selected account, suppressed question ids, and the last state someone learned.
- **workers**: who is alive (heartbeats), for ``ibkr status`` and for the local share of the
  limits when the backend is gone.
- **incidents** only a human can fix (``ibkr_session.alerts``): open for the whole gateway,
  so a fleet announces each one once, and whoever sees it end first says so.

Time is wall time in epoch seconds, ``Coordinator.now()``: for a store shared between
processes (file, Redis) the machine's real clock (``time.time``; a process's monotonic
reading, or a clock shifted by ``--market-time``, means nothing to another process), for an
in-process store the managers' own clock (virtual time in tests, ``use_clock``). Managers on
several machines need their clocks in sync within ``skew`` seconds, which every shared
window is widened by.
"""

from __future__ import annotations

import itertools
import math
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ibkr_session.coordination.store import Store, Values

__all__ = [
    "KEEPALIVE_LEASE",
    "PRIMING_LEASE",
    "QUESTION_LEASE",
    "RECOVERY_LEASE",
    "Budget",
    "Coordinator",
    "Grant",
    "SharedSession",
    "Wait",
    "WorkerInfo",
    "new_holder",
]

FLIGHT_POLL = 0.05
"""Seconds to wait for a request in flight elsewhere before asking again."""

LONGEST_PENALTY = 900.0
"""A penalty further away than this (IBKR's box is 10-15 minutes) means the clock moved
back since it was set: it is ignored rather than believed for hours."""

SENDERS_MEMORY = 60.0
"""Seconds a manager seen sending in the shared windows still counts towards the share."""

CLOCK_MOVED_BACK = 60.0
"""Seconds an entry may start after a reader's ``now`` and still count. Managers read their
clocks before their update runs, so a racer's entry is often a little "in the future"
(by the time a store operation takes: milliseconds, at most its timeout); only an entry
further ahead means a clock that moved back (a virtual clock set earlier), and is ignored."""

QUESTION_LEASE = "question"
KEEPALIVE_LEASE = "keepalive"
RECOVERY_LEASE = "recovery"
PRIMING_LEASE = "priming"


@dataclass(frozen=True)
class Budget:
    """One pacing row as it is counted: ``capacity`` per ``window`` s and/or in flight."""

    name: str
    capacity: int | None = None
    window: float = 0.0
    concurrency: int | None = None


@dataclass(frozen=True)
class Grant:
    """The entries a granted request holds; give it back with ``finish_slot``.

    It also carries the news of the shared session read in the same transaction: the
    brokerage generation and the last state some manager learned (with its epoch time),
    so a manager hears of another's recovery or competing login without asking.
    """

    token: str
    budgets: tuple[Budget, ...]
    opens_question: bool = False
    generation: int = 0
    learned: tuple[str, float] | None = None
    contact: float | None = None
    """The last time any manager of the gateway confirmed the brokerage session."""


@dataclass(frozen=True)
class Wait:
    """Not yet: how long, why, and whether it is a request in flight that must end first.

    ``in_flight`` waits end when an answer comes back, not when the clock moves, so they are
    waited in real time (a virtual clock would otherwise run away while a request is out).
    """

    seconds: float
    reason: str
    in_flight: bool = False


@dataclass(frozen=True)
class WorkerInfo:
    """A live manager as the others see it."""

    holder: str
    expires: float
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SharedSession:
    """The gateway's brokerage session as every manager of it remembers it."""

    generation: int = 0
    primed_generation: int | None = None
    last_contact: float | None = None
    account_id: str | None = None
    suppressed: tuple[str, ...] = ()
    state: str | None = None
    state_at: float | None = None
    state_reason: str = ""
    penalty_until: float = 0.0

    @classmethod
    def from_value(cls, value: Any, penalty: Any) -> SharedSession:
        data = value if isinstance(value, dict) else {}
        return cls(
            generation=int(data.get("generation", 0)),
            primed_generation=data.get("primed"),
            last_contact=data.get("contact"),
            account_id=data.get("account"),
            suppressed=tuple(data.get("suppressed", ())),
            state=data.get("state"),
            state_at=data.get("state_at"),
            state_reason=str(data.get("reason", "")),
            penalty_until=float(penalty) if isinstance(penalty, int | float) else 0.0,
        )


def new_holder() -> str:
    """A name for this manager, unique across processes and machines, readable in status."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Coordinator:
    """The shared operations of one gateway's managers over ``store``; see the module doc.

    ``namespace`` keys everything by gateway (two gateways never share a budget);
    ``holder`` names this manager in leases; ``flight_ttl`` bounds how long a request that
    never reported back (its process died) keeps its slots.
    """

    def __init__(
        self,
        store: Store,
        *,
        namespace: str,
        holder: str | None = None,
        flight_ttl: float = 60.0,
        skew: float = 0.0,
    ) -> None:
        self.store = store
        self.namespace = namespace
        self.holder = holder if holder is not None else new_holder()
        self.flight_ttl = float(flight_ttl)
        self.skew = float(skew)
        self._tokens = itertools.count(1)  # next() is atomic: threads never share a token
        self._peers = 1
        self._senders: dict[str, float] = {}
        self._outage = (0, -math.inf)
        """(which of the store's outages, when this manager first worked alone in it)."""
        self._pace_keys: dict[tuple[Budget, ...], list[str]] = {}
        self._clock_now: Callable[[], float] | None = None

    @property
    def kind(self) -> str:
        return self.store.kind

    @property
    def crosses_processes(self) -> bool:
        """Whether other processes share this store (then only real time is shared)."""
        return self.store.kind != "memory"

    def use_clock(self, now: Callable[[], float]) -> None:
        """The managers' clock (epoch seconds), for an in-process store; a store shared
        with other processes keeps the real clock, the only one they all read."""
        if not self.crosses_processes:
            self._clock_now = now

    def now(self) -> float:
        """The shared time base: see the module docstring."""
        clock_now = self._clock_now
        return clock_now() if clock_now is not None else time.time()

    @property
    def degraded(self) -> bool:
        """True while the shared store is unreachable and this manager works alone
        (``coordination.resilient``)."""
        return bool(getattr(self.store, "degraded", False))

    @property
    def share(self) -> float:
        """The part of every limit this manager may use now: 1 while the store is shared;
        while degraded, 1 / the managers it last knew of (itself included): the live
        workers of its last shared heartbeat, or the managers whose requests it saw in
        the shared windows in the last ``SENDERS_MEMORY`` seconds, whichever is more.
        ``take_slot`` applies it to every budget by itself (a caller does nothing)."""
        if not self.cautious:
            return 1.0
        return 1.0 / max(self._peers, len(self._recent_senders()), 1)

    @property
    def cautious(self) -> bool:
        """Degraded, or just rejoined while the others may still be alone: keep to the
        share (``ResilientStore.cautious``)."""
        return bool(getattr(self.store, "cautious", self.degraded))

    def _key(self, *parts: str) -> str:
        return "|".join((self.namespace, *parts))

    def _turn(self, budgets: Sequence[Budget], share: float, now: float) -> Wait | None:
        """While degraded, a row too small to split (``capacity x share < 1``: 1 per 5 s
        for 2 managers) is taken in turns on the wall clock: of every ``2 x managers``
        windows, the manager ranked ``r`` among the senders it knew of (by name) may send
        in window ``2r`` only, so two managers' requests are a whole window apart; the
        first turn comes a window after this manager went alone at the earliest. None
        when every such row is in this manager's turn now."""
        waits = []
        alone_since = self._alone_since(now)
        for budget in budgets:
            if budget.capacity is None or budget.capacity * share >= 1 - 1e-9:
                continue
            if now < alone_since + budget.window:
                # Another manager may have used the row just before the store went, in an
                # update this manager never read: a window after going alone, it is over.
                reason = f"{budget.name} (turns while degraded)"
                waits.append(Wait(alone_since + budget.window - now, reason))
                continue
            names = sorted(self._recent_senders() | {self.holder})
            count = max(len(names), round(1 / share))
            cycle = 2 * budget.window * count
            start = names.index(self.holder) * 2 * budget.window
            phase = (now - start) % cycle
            if phase >= budget.window:  # not in this manager's window of the cycle
                waits.append(Wait(cycle - phase, f"{budget.name} (turns while degraded)"))
        return max(waits, key=lambda wait: wait.seconds) if waits else None

    def _alone_since(self, now: float) -> float:
        """When this manager first worked alone in the store's current outage."""
        outage = int(getattr(self.store, "degradations", 0))
        if outage != self._outage[0]:
            self._outage = (outage, now)
        return self._outage[1]

    def _recent_senders(self) -> set[str]:
        seen = list(self._senders.items())  # one C call: safe while others add to it
        latest = max((moment for _name, moment in seen), default=0.0)
        return {name for name, moment in seen if moment > latest - SENDERS_MEMORY}

    def _keys_of(self, budgets: tuple[Budget, ...]) -> list[str]:
        keys = self._pace_keys.get(budgets)
        if keys is None:
            keys = self._pace_keys[budgets] = [self._key("pace", b.name) for b in budgets]
        return keys

    @staticmethod
    def remembered(key: str) -> bool:
        """Whether a local store taking over in an outage should start from ``key``'s last
        shared value (``outage_value``): the penalty box, the session's memory and the
        pacing windows, yes (never send into a known box or a full window, never count a
        generation again); leases, no (a lease another manager held would hold this one
        for its whole ttl, and nobody will release it here)."""
        return key.rpartition("|")[2] in ("penalty", "session") or "|pace|" in key

    @staticmethod
    def rejoin_value(key: str, shared: Any, local: Any) -> Any:
        """``key``'s value when a manager that was alone rejoins: the requests it sent
        alone join the shared windows, the later penalty wins, the session's generation
        never goes back and the suppressed ids are united; else the shared value."""
        if shared is None:
            return local
        if "|pace|" in key and isinstance(shared, list) and isinstance(local, list):
            tokens = {entry[0] for entry in shared}
            return shared + [entry for entry in local if entry[0] not in tokens]
        if key.endswith("|penalty") and isinstance(shared, int | float):
            return max(shared, local) if isinstance(local, int | float) else shared
        if key.endswith("|session") and isinstance(shared, dict) and isinstance(local, dict):
            merged = dict(shared)
            merged["generation"] = max(
                int(shared.get("generation", 0)), int(local.get("generation", 0))
            )
            merged["suppressed"] = list(
                dict.fromkeys([*shared.get("suppressed", ()), *local.get("suppressed", ())])
            )
            return merged
        return shared

    @staticmethod
    def outage_value(key: str, value: Any) -> Any:
        """``key``'s last shared value as a local store starts from it: requests that were
        in flight elsewhere count as answered when they left (their answers will never be
        heard here, and a window from their start is all a rate row needs), so they free
        concurrency places at once and rate places a window after they left."""
        if "|pace|" not in key or not isinstance(value, list):
            return value
        return [
            [token, started, started if ended is None else ended, deadline]
            for token, started, ended, deadline in value
        ]

    # -- pacing ---------------------------------------------------------------------------

    def take_slot(
        self, budgets: Sequence[Budget], now: float, *, opens_question: bool = False
    ) -> Grant | Wait:
        """A place in every budget at once, or how long to wait for one.

        Nothing is granted while another manager's order question is open, nor (for a
        request that ``opens_question``) while another manager's request is in flight: from
        an order POST to its chain's last reply nothing else may reach the gateway.
        """
        token = f"{self.holder}#{next(self._tokens)}"
        penalty_key = self._key("penalty")
        question_key = self._key("lease", QUESTION_LEASE)
        session_key = self._key("session")
        budget_keys = self._keys_of(tuple(budgets))
        senders: set[str] = set()

        def change(values: Values) -> Grant | Wait:
            senders.clear()
            rows = budgets
            # Alone: only this manager's part of every limit. Asked here, where the update
            # runs, not before it: the update that finds the store gone runs alone too.
            if self.cautious:
                share = self.share
                turn = self._turn(budgets, share, now)
                if turn is not None:
                    return turn
                rows = _scaled(budgets, share)
            waits: list[Wait] = []
            penalty = values.get(penalty_key)
            if (
                isinstance(penalty, int | float)
                and 0 < penalty - now <= LONGEST_PENALTY + self.skew
            ):
                waits.append(Wait(penalty - now, "penalty box"))
            question = values.get(question_key)
            if _held_by_other(question, self.holder, now):
                waits.append(Wait(FLIGHT_POLL, "order question", in_flight=True))
            for budget, key in zip(rows, budget_keys, strict=True):
                entries = _live_entries(values.get(key), budget, now, self.skew)
                values[key] = entries
                senders.update(str(entry[0]).rpartition("#")[0] for entry in entries)
                wait = _budget_wait(budget, entries, now, self.skew)
                if wait is not None:
                    waits.append(wait)
                if opens_question and _others_in_flight(entries, self.holder):
                    waits.append(Wait(FLIGHT_POLL, "requests in flight", True))
            if waits:
                return max(waits, key=lambda wait: wait.seconds)
            for key in budget_keys:
                values[key].append([token, now, None, now + self.flight_ttl])
            if opens_question:
                values[question_key] = [self.holder, now + self.flight_ttl]
            shared = SharedSession.from_value(values.get(session_key), None)
            learned = None
            if shared.state is not None and shared.state_at is not None:
                learned = (shared.state, float(shared.state_at))
            return Grant(
                token,
                tuple(rows),
                opens_question,
                shared.generation,
                learned,
                shared.last_contact,
            )

        keys = [penalty_key, question_key, session_key, *budget_keys]
        result = self.store.update(keys, change)
        if not self.degraded:
            for sender in senders | {self.holder}:
                self._senders[sender] = now
            if len(self._senders) > 64:  # managers come and go: forget the long gone
                self._senders = {
                    name: moment
                    for name, moment in list(self._senders.items())
                    if moment > now - SENDERS_MEMORY
                }
        return result

    def finish_slot(self, grant: Grant, now: float) -> None:
        """The answer is back: rate entries count from ``now``; concurrency places free."""
        keys = self._keys_of(grant.budgets)

        def change(values: Values) -> None:
            for budget, key in zip(grant.budgets, keys, strict=True):
                entries = values.get(key)
                if not isinstance(entries, list):
                    continue
                if budget.capacity is None:
                    values[key] = [entry for entry in entries if entry[0] != grant.token]
                    continue
                for entry in entries:
                    if entry[0] == grant.token:
                        entry[2] = now

        self.store.update(keys, change)

    def penalize(self, until: float) -> None:
        """After a 429: nobody of this gateway sends before ``until`` (epoch seconds)."""
        key = self._key("penalty")

        def change(values: Values) -> None:
            current = values.get(key)
            if not isinstance(current, int | float) or current < until:
                values[key] = until

        self.store.update([key], change)

    # -- leases ---------------------------------------------------------------------------

    def acquire(self, lease: str, ttl: float, now: float) -> bool:
        """Take or renew ``lease`` for ``ttl`` s; False while another live holder has it."""
        key = self._key("lease", lease)

        def change(values: Values) -> bool:
            if _held_by_other(values.get(key), self.holder, now):
                return False
            values[key] = [self.holder, now + ttl]
            return True

        return self.store.update([key], change)

    def release(self, lease: str) -> None:
        """Give ``lease`` back, if this manager holds it."""
        key = self._key("lease", lease)

        def change(values: Values) -> None:
            current = values.get(key)
            if isinstance(current, list) and current and current[0] == self.holder:
                del values[key]

        self.store.update([key], change)

    def holder_of(self, lease: str, now: float) -> tuple[str, float] | None:
        """``(holder, expires)`` of a live lease, or None."""
        key = self._key("lease", lease)

        def change(values: Values) -> tuple[str, float] | None:
            current = values.get(key)
            if isinstance(current, list) and len(current) == 2 and current[1] > now:
                return str(current[0]), float(current[1])
            return None

        return self.store.update([key], change)

    # -- incidents ------------------------------------------------------------------------

    def open_incident(self, kind: str, reason: str) -> bool:
        """Open ``kind`` for the gateway; True if it was not open (the caller announces it)."""
        key = self._key("incidents")

        def change(values: Values) -> bool:
            current = _incidents(values.get(key))
            if kind in current:
                return False
            values[key] = {**current, kind: reason}
            return True

        return self.store.update([key], change)

    def close_incident(self, kind: str) -> bool:
        """Close ``kind``; True if it was open (the caller announces the end)."""
        key = self._key("incidents")

        def change(values: Values) -> bool:
            current = _incidents(values.get(key))
            if kind not in current:
                return False
            values[key] = {name: why for name, why in current.items() if name != kind}
            return True

        return self.store.update([key], change)

    def incidents(self) -> dict[str, str]:
        """The gateway's open incidents: kind → reason."""
        key = self._key("incidents")
        return self.store.update([key], lambda values: _incidents(values.get(key)))

    # -- the session's memory -------------------------------------------------------------

    def session(self) -> SharedSession:
        """What every manager of this gateway remembers about its brokerage session."""
        key, penalty_key = self._key("session"), self._key("penalty")
        return self.store.update(
            [key, penalty_key],
            lambda values: SharedSession.from_value(values.get(key), values.get(penalty_key)),
        )

    def new_generation(self, seen: int) -> int:
        """A new brokerage session began: the generation after ``seen``, counted once.

        Several managers may see the same new session; only the first one that still saw
        ``seen`` moves the counter, the others get the already-moved value. A store that
        forgot the counter (a Redis restarted empty, the local store of degraded mode) is
        behind ``seen``: the counter then moves past ``seen`` too, never backwards.
        """

        def change(data: dict[str, Any]) -> int:
            generation = int(data.get("generation", 0))
            if generation <= seen:
                generation = seen + 1
                data["generation"] = generation
            return generation

        return int(self._change_session(change))

    def mark_primed(self, generation: int | None) -> None:
        """``/iserver/accounts`` (and the re-selection) was done in ``generation`` (None:
        the gateway said it is not primed after all)."""
        self._change_session(lambda data: data.__setitem__("primed", generation))

    def note_contact(self, now: float) -> None:
        """The gateway confirmed the brokerage session at ``now`` (epoch seconds)."""

        def change(data: dict[str, Any]) -> None:
            if not isinstance(data.get("contact"), int | float) or data["contact"] < now:
                data["contact"] = now

        self._change_session(change)

    def note_state(self, state: str, now: float, reason: str) -> None:
        """What this manager learned (competing, unauthenticated...), for the others."""

        def change(data: dict[str, Any]) -> None:
            data.update(state=state, state_at=now, reason=reason)

        self._change_session(change)

    def select_account(self, account_id: str | None) -> None:
        """The account the gateway has selected for every manager of it."""
        self._change_session(lambda data: data.__setitem__("account", account_id))

    def forget_suppressed(self) -> None:
        """The gateway's suppressions were reset: nobody re-sends the old ids."""
        self._change_session(lambda data: data.__setitem__("suppressed", []))

    def use_account(self, account_id: str, now: float) -> tuple[bool, str] | Wait:
        """Start a request that depends on the selected account being ``account_id``.

        ``(must_select, token)``: whether the gateway must select it first, and the token
        to give back with ``done_with_account``. While another account's requests are in
        flight, a ``Wait``: selecting ours then would answer theirs for the wrong account.
        """
        token = f"{self.holder}#{next(self._tokens)}"
        session_key, users_key = self._key("session"), self._key("account-users")

        def change(values: Values) -> tuple[bool, str] | Wait:
            session = values.get(session_key)
            selected = session.get("account") if isinstance(session, dict) else None
            users = values.get(users_key)
            live = {
                name: row
                for name, row in (users.items() if isinstance(users, dict) else ())
                if row[1] > now
            }
            if selected != account_id and any(row[0] != account_id for row in live.values()):
                return Wait(FLIGHT_POLL, "another account's requests", in_flight=True)
            live[token] = [account_id, now + self.flight_ttl]
            values[users_key] = live
            return selected != account_id, token

        return self.store.update([session_key, users_key], change)

    def done_with_account(self, token: str) -> None:
        """The request of ``use_account``'s ``token`` has its answer."""
        key = self._key("account-users")

        def change(values: Values) -> None:
            users = values.get(key)
            if isinstance(users, dict) and token in users:
                values[key] = {name: row for name, row in users.items() if name != token}

        self.store.update([key], change)

    def remember_suppressed(self, message_ids: Iterable[str]) -> tuple[str, ...]:
        """Add to the union of every manager's suppressed question ids; the union."""
        new = list(message_ids)

        def change(data: dict[str, Any]) -> tuple[str, ...]:
            ids = list(dict.fromkeys([*data.get("suppressed", ()), *new]))
            data["suppressed"] = ids
            return tuple(ids)

        return tuple(self._change_session(change))

    def _change_session(self, change: Any) -> Any:
        key = self._key("session")

        def wrapped(values: Values) -> Any:
            data = values.get(key)
            data = dict(data) if isinstance(data, dict) else {}
            result = change(data)
            values[key] = data
            return result

        return self.store.update([key], wrapped)

    # -- workers --------------------------------------------------------------------------

    def heartbeat(self, now: float, ttl: float, detail: dict[str, Any] | None = None) -> None:
        """This manager is alive for ``ttl`` more seconds (dead ones are dropped)."""
        key = self._key("workers")

        def change(values: Values) -> int:
            workers = values.get(key)
            workers = dict(workers) if isinstance(workers, dict) else {}
            workers = {name: row for name, row in workers.items() if row[0] > now}
            workers[self.holder] = [now + ttl, detail or {}]
            values[key] = workers
            return len(workers)

        live = self.store.update([key], change)
        if not self.degraded:
            self._peers = max(1, live)

    def leave(self) -> None:
        """Forget this manager's heartbeat and give back every lease it holds."""
        workers_key = self._key("workers")

        def change(values: Values) -> None:
            workers = values.get(workers_key)
            if isinstance(workers, dict) and self.holder in workers:
                workers = dict(workers)
                del workers[self.holder]
                values[workers_key] = workers

        self.store.update([workers_key], change)
        for lease in (QUESTION_LEASE, KEEPALIVE_LEASE, RECOVERY_LEASE, PRIMING_LEASE):
            self.release(lease)

    def workers(self, now: float) -> list[WorkerInfo]:
        """The managers alive now, by their last heartbeat."""
        key = self._key("workers")

        def change(values: Values) -> list[WorkerInfo]:
            workers = values.get(key)
            if not isinstance(workers, dict):
                return []
            return [
                WorkerInfo(name, float(row[0]), dict(row[1]))
                for name, row in sorted(workers.items())
                if row[0] > now
            ]

        return self.store.update([key], change)


def _incidents(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _scaled(budgets: Sequence[Budget], share: float) -> list[Budget]:
    """``budgets`` at ``share`` of their rates and concurrency.

    A rate row keeps its window and gets ``share`` of its capacity while that is one
    request or more: then the managers' counts in any window add up to the row's at most
    (10/s for 2 managers: 5 per window each, bursts included). A row too small to split
    (1 per 5 s for 2) keeps its budget: it is taken in turns (``Coordinator._turn``).
    Concurrency rows get ``share`` of their places, one at least (history, 5 places, for
    8 managers: one each, so up to 8 at once: the gateway refuses the extra ones)."""
    if share >= 1.0:
        return list(budgets)
    scaled = []
    for budget in budgets:
        capacity, window = budget.capacity, budget.window
        if capacity is not None and capacity * share >= 1 - 1e-9:
            capacity = math.floor(capacity * share + 1e-9)
        concurrency = budget.concurrency
        if concurrency is not None:
            concurrency = max(1, math.floor(concurrency * share + 1e-9))
        scaled.append(Budget(budget.name, capacity, window, concurrency))
    return scaled


def _held_by_other(lease: Any, holder: str, now: float) -> bool:
    return isinstance(lease, list) and len(lease) == 2 and lease[0] != holder and lease[1] > now


def _others_in_flight(entries: list[list[Any]], holder: str) -> bool:
    return any(entry[2] is None and not entry[0].startswith(holder + "#") for entry in entries)


def _live_entries(value: Any, budget: Budget, now: float, skew: float) -> list[list[Any]]:
    """The entries that still count: in flight (until their deadline) or answered less than
    a window ago. A dead holder's entry ends at its deadline."""
    if not isinstance(value, list):
        return []
    live: list[list[Any]] = []
    for entry in value:
        token, started, ended, deadline = entry
        if started > now + skew + CLOCK_MOVED_BACK:
            continue  # the clock moved back since: this entry's times mean nothing now
        if ended is None and now >= deadline:
            ended = deadline
            entry = [token, started, ended, deadline]
        if ended is None or (budget.capacity is not None and now - ended < budget.window + skew):
            live.append(entry)
    return live


def _budget_wait(budget: Budget, entries: list[list[Any]], now: float, skew: float) -> Wait | None:
    """How long until ``budget`` has room for one more, or None when it has room now."""
    in_flight = [entry for entry in entries if entry[2] is None]
    if budget.concurrency is not None and len(in_flight) >= budget.concurrency:
        return Wait(FLIGHT_POLL, budget.name, in_flight=True)
    if budget.capacity is None or len(entries) < budget.capacity:
        return None
    answered = [entry[2] for entry in entries if entry[2] is not None]
    if not answered:
        return Wait(FLIGHT_POLL, budget.name, in_flight=True)
    # Room comes when the oldest answered entry leaves the window; one in flight leaves
    # no earlier than a window after its answer, which is later still.
    return Wait(max(min(answered) + budget.window + skew - now, math.ulp(now)), budget.name)
