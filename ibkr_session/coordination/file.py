"""The file store: SQLite in the user's state directory (``coordination="file"``).

Every process of one machine that opens the same file shares one view, with nothing to set
up. Built on the standard library's ``sqlite3`` alone:

- one table, ``state(key, value, updated)``: a key, its JSON text, and when it was last
  written (rows untouched for ``ttl`` seconds, an abandoned gateway's state, are dropped
  when a connection opens);
- ``update`` is one ``BEGIN IMMEDIATE`` transaction: the write lock is taken before the
  read, so two processes never read the same values and both write (no retry loop, no lost
  update); WAL journaling lets readers go on meanwhile and makes a commit a single append
  (``synchronous=NORMAL``: a power cut may lose the last commits, never corrupt the file,
  and coordination state is worth seconds anyway);
- the threads of one process take turns on a lock of their own first, so SQLite's lock
  is contended by processes only: its busy handler sleeps in growing steps and is not
  fair, and 8 processes x 6 threads polling it starved a waiter past a second (measured,
  ``benchmarks/fleet.py``); a lock held by someone else is waited for up to ``timeout``
  seconds (3), then the update fails with ``StoreUnavailableError`` — as does an
  unwritable directory or a corrupt file — and the coordinator degrades instead of
  hanging a bot;
- connections come from a small pool (``sqlite3`` connections are not for two threads at
  once), opened lazily: constructing the store touches no file, so a bad directory shows up
  as a degraded coordinator, not as a crash at start. A forked child opens its own.

The file is created ``0600`` in a directory created ``0700`` (it names the user's gateway
and account). WAL needs a local file system: do not put the file on NFS.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

from ibkr_session.coordination.store import StoreUnavailableError, Values
from ibkr_session.logs import get_logger

__all__ = ["DEFAULT_FILE_NAME", "FileStore", "default_state_dir"]

log = get_logger(__name__)

T = TypeVar("T")

DEFAULT_FILE_NAME = "coordination.db"
DEFAULT_TTL = 86_400.0
"""Seconds after its last write that a key is forgotten (an abandoned gateway's state)."""

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS state ("
    " key TEXT PRIMARY KEY NOT NULL,"
    " value TEXT NOT NULL,"
    " updated REAL NOT NULL)"
)


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/ibkr-session``, else ``~/.local/state/ibkr-session``."""
    base = os.environ.get("XDG_STATE_HOME")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "state"
    return root / "ibkr-session"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


class FileStore:
    """``Store`` over one SQLite file; see the module docstring."""

    kind = "file"

    def __init__(
        self, path: str | os.PathLike[str], *, timeout: float = 3.0, ttl: float = DEFAULT_TTL
    ) -> None:
        self.path = Path(path)
        self.timeout = float(timeout)
        self.ttl = float(ttl)
        self._pool: list[sqlite3.Connection] = []
        self._all: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._writer = threading.Lock()
        self._writer_pid = os.getpid()
        self._closed = False

    def __repr__(self) -> str:
        return f"FileStore({str(self.path)!r})"

    # -- the primitive --------------------------------------------------------------------

    def update(self, keys: Sequence[str], change: Callable[[Values], T]) -> T:
        if self._writer_pid != os.getpid():  # a forked child: the parent's lock is not ours
            self._writer, self._writer_pid = threading.Lock(), os.getpid()
        writer = self._writer
        if not writer.acquire(timeout=self.timeout):
            raise StoreUnavailableError(f"{self.path}: busy for {self.timeout} s in this process")
        try:
            return self._update(keys, change)
        finally:
            writer.release()

    def _update(self, keys: Sequence[str], change: Callable[[Values], T]) -> T:
        keys = list(dict.fromkeys(keys))
        with self._connection() as connection:
            try:
                connection.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreUnavailableError(f"{self.path}: {exc}") from exc
            try:
                rows = self._read(connection, keys)
                originals = {key: text for key, (text, _updated) in rows.items()}
                values: Values = {}
                for key, text in originals.items():
                    with suppress(ValueError):
                        values[key] = json.loads(text)
                result = change(values)
                now = time.time()
                for key in keys:
                    if key in values:
                        text = _dumps(values[key])
                        # Unchanged keys in use are touched now and then, never expired.
                        if originals.get(key) != text or rows[key][1] < now - self.ttl / 2:
                            connection.execute(
                                "INSERT INTO state (key, value, updated) VALUES (?, ?, ?)"
                                " ON CONFLICT(key) DO UPDATE SET"
                                " value = excluded.value, updated = excluded.updated",
                                (key, text, now),
                            )
                    elif key in originals:
                        connection.execute("DELETE FROM state WHERE key = ?", (key,))
                connection.execute("COMMIT")
            except sqlite3.Error as exc:
                _rollback(connection)
                raise StoreUnavailableError(f"{self.path}: {exc}") from exc
            except BaseException:
                _rollback(connection)
                raise
            return result

    def close(self) -> None:
        """Close every connection this store opened (the file stays for the others)."""
        with self._lock:
            self._closed = True
            connections, self._all, self._pool = self._all, [], []
            mine = self._pid == os.getpid()
        if mine:
            for connection in connections:
                with suppress(sqlite3.Error):
                    connection.close()

    # -- connections ----------------------------------------------------------------------

    @staticmethod
    def _read(connection: sqlite3.Connection, keys: list[str]) -> dict[str, tuple[str, float]]:
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))
        rows = connection.execute(
            f"SELECT key, value, updated FROM state WHERE key IN ({marks})",  # noqa: S608
            keys,
        ).fetchall()
        return {str(key): (str(value), float(updated)) for key, value, updated in rows}

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._closed:
                raise StoreUnavailableError(f"{self.path}: the store is closed")
            if self._pid != os.getpid():
                # A forked child: the parent's connections are not ours to use or close.
                self._pid, self._pool, self._all = os.getpid(), [], []
            connection = self._pool.pop() if self._pool else None
        if connection is None:
            connection = self._open()
            with self._lock:
                self._all.append(connection)
        try:
            yield connection
        finally:
            with self._lock:
                if not self._closed and self._pid == os.getpid():
                    self._pool.append(connection)
                    connection = None
            if connection is not None:
                with suppress(sqlite3.Error):
                    connection.close()

    def _open(self) -> sqlite3.Connection:
        try:
            self._create_file()
            connection = sqlite3.connect(
                self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailableError(f"{self.path}: {exc}") from exc
        # Several processes opening a new file at once race for the switch to WAL and the
        # schema; SQLite answers some of those races with "busy" at once, without its busy
        # timeout, so they are retried here for as long as the timeout.
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
                connection.execute("BEGIN IMMEDIATE")
                connection.execute(_SCHEMA)
                connection.execute("DELETE FROM state WHERE updated < ?", (time.time() - self.ttl,))
                connection.execute("COMMIT")
                break
            except sqlite3.Error as exc:
                _rollback(connection)
                if _busy(exc) and time.monotonic() < deadline:
                    time.sleep(0.005)
                    continue
                with suppress(sqlite3.Error):
                    connection.close()
                raise StoreUnavailableError(f"{self.path}: {exc}") from exc
        log.debug("coordination.file_opened", path=str(self.path))
        return connection

    def _create_file(self) -> None:
        """The directory ``0700`` and the file ``0600`` when this store creates them.

        An existing file is never opened here: closing any descriptor of a file drops
        every POSIX lock this process holds on it, so another connection's transaction
        would lose its lock and other processes could write at the same time, which
        corrupts the database (sqlite.org/howtocorrupt.html, 2.2). Only a file that does
        not exist yet (nobody holds a lock on it) is created, with ``O_EXCL``.
        """
        directory = self.path.parent
        if not directory.is_dir():
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.path.exists():
            return
        try:
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return  # another thread or process created it meanwhile
        os.close(descriptor)


def _busy(exc: sqlite3.Error) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED, extended codes included."""
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF in (5, 6)


def _rollback(connection: sqlite3.Connection) -> None:
    with suppress(sqlite3.Error):
        if connection.in_transaction:
            connection.execute("ROLLBACK")
