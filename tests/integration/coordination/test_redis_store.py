"""What the Redis store promises beyond the contract, against a real redis-server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from ibkr_session.coordination import StoreUnavailableError
from ibkr_session.coordination.redis_store import RedisStore
from tests.coordination_fixtures import RedisServer, free_port


@pytest.fixture
def raw(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis(port=redis_server.port, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def store(redis_server: RedisServer) -> Iterator[RedisStore]:
    opened = RedisStore(redis_server.url)
    yield opened
    opened.close()


def fresh() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def test_keys_are_prefixed_json_with_a_ttl(store: RedisStore, raw: redis.Redis) -> None:
    key = fresh()
    store.update([key], lambda values: values.__setitem__(key, {"a": [1, None]}))
    assert raw.get("ibkr-session:" + key) == '{"a":[1,null]}'
    assert 86_000 < raw.ttl("ibkr-session:" + key) <= 86_400
    raw.expire("ibkr-session:" + key, 100)
    store.update([key], lambda values: None)  # read, unchanged: still kept alive
    assert raw.ttl("ibkr-session:" + key) > 86_000


def test_a_conflicting_write_makes_the_update_run_again(
    store: RedisStore, raw: redis.Redis
) -> None:
    key = fresh()
    seen: list[Any] = []

    def bump(values: dict[str, Any]) -> int:
        seen.append(values.get(key))
        if len(seen) == 1:
            raw.set("ibkr-session:" + key, "41")  # another client, between read and write
        values[key] = int(values.get(key, 0)) + 1
        return int(values[key])

    assert store.update([key], bump) == 42
    assert seen == [None, 41]
    assert raw.get("ibkr-session:" + key) == "42"


def test_endless_conflicts_end_as_unavailable(redis_server: RedisServer, raw: redis.Redis) -> None:
    store = RedisStore(redis_server.url, timeout=0.2)
    key = fresh()

    def always_overtaken(values: dict[str, Any]) -> None:
        raw.incr("ibkr-session:" + key)
        values[key] = 0

    with pytest.raises(StoreUnavailableError, match="conflicting"):
        store.update([key], always_overtaken)
    store.close()


def test_a_bug_in_a_change_leaves_the_store_usable(store: RedisStore) -> None:
    key = fresh()

    def broken(values: dict[str, Any]) -> None:
        raise LookupError

    with pytest.raises(LookupError):
        store.update([key], broken)
    store.update([key], lambda values: values.__setitem__(key, 1))
    assert store.update([key], lambda values: values[key]) == 1


def test_nobody_listening_is_unavailable_quickly() -> None:
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(StoreUnavailableError, match="ConnectionError"):
        store.update(["k"], lambda values: None)
    store.close()
