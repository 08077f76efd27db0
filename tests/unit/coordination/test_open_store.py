"""``coordination=`` / ``IBKR_COORDINATION``: which store a URL names, and misspellings."""

from __future__ import annotations

from pathlib import Path

import pytest

from ibkr_session.coordination import (
    ENVIRONMENT_VARIABLE,
    Coordinator,
    FileStore,
    MemoryStore,
    ResilientStore,
    open_coordination,
    open_store,
)
from ibkr_session.coordination.file import default_state_dir
from ibkr_session.coordination.redis_store import RedisStore
from ibkr_session.errors import InvalidRequestError


def test_memory_is_a_store_of_its_own() -> None:
    first, second = open_store("memory"), open_store("memory")
    assert isinstance(first, MemoryStore)
    assert first is not second


def test_file_is_the_state_directory_and_nothing_is_created_yet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    store = open_store("file")
    assert isinstance(store, ResilientStore)
    assert store.kind == "file"
    assert isinstance(store.backend, FileStore)
    assert store.backend.path == tmp_path / "state" / "ibkr-session" / "coordination.db"
    assert not (tmp_path / "state").exists()


def test_the_state_directory_without_xdg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    assert default_state_dir() == Path.home() / ".local" / "state" / "ibkr-session"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/paths/are/ignored")
    assert default_state_dir() == Path.home() / ".local" / "state" / "ibkr-session"


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("file:///var/tmp/ibkr/state.db", "/var/tmp/ibkr/state.db"),
        ("file://localhost/var/tmp/state.db", "/var/tmp/state.db"),
        ("file:///tmp/with%20space.db", "/tmp/with space.db"),
    ],
)
def test_a_file_url_names_its_path(url: str, path: str) -> None:
    store = open_store(url)
    assert isinstance(store, ResilientStore)
    assert isinstance(store.backend, FileStore)
    assert store.backend.path == Path(path)


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://cache.internal/3", "redis://cache.internal:6379/3"),
        ("redis://:secret@cache.internal:6380", "redis://cache.internal:6380/0"),
        ("rediss://user:secret@cache.internal:6380/1", "rediss://cache.internal:6380/1"),
    ],
)
def test_a_redis_url_connects_to_nothing_yet_and_hides_its_password(
    url: str, location: str
) -> None:
    store = open_store(url)
    assert isinstance(store, ResilientStore)
    assert store.kind == "redis"
    assert isinstance(store.backend, RedisStore)
    assert store.backend.location == location
    assert "secret" not in repr(store)
    store.close()


@pytest.mark.parametrize(
    "url",
    [
        "",
        "memroy",
        "Memory ",
        "files",
        "file:relative.db",
        "file:/one-slash.db",
        "file://host/elsewhere.db",
        "file:///a/directory/",
        "file:///state.db?mode=ro",
        "redis:/127.0.0.1",
        "redis://127.0.0.1:port/0",
        "redis://127.0.0.1:99999/0",
        "redis://127.0.0.1:6379/zero",
        "reddis://127.0.0.1:6379/0",
        "http://127.0.0.1:6379",
    ],
)
def test_a_misspelt_url_is_refused_at_construction(url: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        open_store(url)
    assert caught.value.field == "coordination"
    assert repr(url) in str(caught.value)


def test_open_coordination_keys_by_gateway_and_reads_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, f"file://{tmp_path}/shared.db")
    coordinator = open_coordination(None, gateway_url="https://localhost:5000")
    assert coordinator.kind == "file"
    assert coordinator.namespace == "https://localhost:5000"
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "memroy")
    with pytest.raises(InvalidRequestError):
        open_coordination(None, gateway_url="https://localhost:5000")
    given = Coordinator(MemoryStore(), namespace="x")
    assert open_coordination(given, gateway_url="https://localhost:5000") is given
    shared = MemoryStore()
    assert open_coordination(shared, gateway_url="https://gw").store is shared
