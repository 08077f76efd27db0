"""What the SQLite store promises beyond the contract: private files, forgetting abandoned
state, typed failures."""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from ibkr_session.coordination import FileStore, StoreUnavailableError


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_directory_is_0700_and_the_file_0600(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "new" / "dir" / "state.db")
    assert not (tmp_path / "new").exists()  # nothing before the first update
    store.update(["k"], lambda values: values.__setitem__("k", 1))
    store.close()
    assert mode(tmp_path / "new" / "dir") == 0o700
    assert mode(tmp_path / "new" / "dir" / "state.db") == 0o600


def test_values_are_json_text_in_one_table(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = FileStore(path)
    store.update(["a|b"], lambda values: values.__setitem__("a|b", {"x": [1, None, "y"]}))
    store.close()
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT key, value FROM state").fetchall()
    assert rows == [("a|b", '{"x":[1,null,"y"]}')]


def test_unreadable_text_is_an_absent_value(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    FileStore(path).update(["k"], lambda values: values.__setitem__("k", 1))
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE state SET value = '{not json' WHERE key = 'k'")
    assert FileStore(path).update(["k"], lambda values: dict(values)) == {}


def test_state_untouched_for_a_ttl_is_forgotten(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    FileStore(path).update(["old", "new"], lambda values: values.update(old=1, new=2))
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE state SET updated = ? WHERE key = 'old'", (time.time() - 7200,))
    store = FileStore(path, ttl=3600)
    assert store.update(["old", "new"], lambda values: dict(values)) == {"new": 2}


def test_state_in_use_is_touched_though_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = FileStore(path, ttl=3600)
    store.update(["k"], lambda values: values.__setitem__("k", 1))
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE state SET updated = ?", (time.time() - 3000,))
    store.update(["k"], lambda values: None)  # read only, but past half its ttl
    with sqlite3.connect(path) as connection:
        (updated,) = connection.execute("SELECT updated FROM state").fetchone()
    assert updated > time.time() - 60


def test_a_closed_store_is_unavailable(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "state.db")
    store.update(["k"], lambda values: None)
    store.close()
    with pytest.raises(StoreUnavailableError):
        store.update(["k"], lambda values: None)


def test_a_lock_held_too_long_is_unavailable_not_a_hang(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = FileStore(path, timeout=0.05)
    store.update(["k"], lambda values: None)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError, match="locked"):
            store.update(["k"], lambda values: None)
        assert time.monotonic() - started < 1.0
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.update(["k"], lambda values: "free again") == "free again"


def test_a_forked_child_opens_its_own_connection(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "state.db")
    store.update(["n"], lambda values: values.__setitem__("n", 1))

    def bump(values: dict[str, Any]) -> None:
        values["n"] += 1

    pid = os.fork()
    if pid == 0:  # the child: one update through a connection of its own, then out
        try:
            store.update(["n"], bump)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    store.update(["n"], bump)
    assert store.update(["n"], lambda values: values["n"]) == 3


def test_opening_a_second_store_never_drops_the_first_ones_lock(tmp_path: Path) -> None:
    """Closing any descriptor of a file drops every POSIX lock the process holds on it. A
    WAL connection holds a shared lock on the database file all along; without it, the
    last other process to close believes it is alone, checkpoints and deletes the WAL
    under the live connection: "database disk image is malformed" (seen before the fix).
    A second store (another manager of this process) opening the file keeps that lock."""
    import subprocess
    import sys

    path = tmp_path / "state.db"
    first = FileStore(path)
    first.update(["k"], lambda values: values.__setitem__("k", 0))
    probe = (
        "import fcntl, os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR)\n"
        "try:\n"
        "    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 510, 0x40000002, 0)\n"
        "    print('no lock held')\n"
        "except OSError:\n"
        "    print('locked')\n"
    )

    def shared_lock() -> str:
        answer = subprocess.run(  # noqa: S603 (our own interpreter and script)
            [sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=True
        )
        return answer.stdout.strip()

    assert shared_lock() == "locked"
    second = FileStore(path)
    second.update(["other"], lambda values: None)
    assert shared_lock() == "locked"
    second.close()
    assert shared_lock() == "locked"
