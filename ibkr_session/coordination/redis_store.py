"""The Redis store: workers on many machines share one view (``coordination="redis://..."``).

``update(keys, change)`` is Redis's optimistic transaction, on one connection of
redis-py's pool: ``WATCH`` the keys and ``MGET`` them (one round trip), run ``change``
here, then ``MULTI``/``SET``/``DEL``/``EXEC`` (one round trip). If another client wrote a
watched key in between, ``EXEC`` does nothing and the whole update runs again (``change``
is pure over its dict, so running it twice is harmless). redis-py's own ``Pipeline.watch``
costs a round trip per command in its immediate mode (three per update, measured 850 µs
against 190 µs per PING on a loaded machine); pipelining WATCH with MGET saves one.

Why not Lua, or redis-py's ``Lock``: ``change`` is Python code (the coordinator's shared
semantics are written once, for every backend), so a script would mean writing each
operation a second time in Lua. A ``Lock`` around read-modify-write would cost two more
round trips per update (acquire, release) and a holder that stalls keeps everyone waiting
for the lock's timeout, where a stalled ``WATCH`` blocks nobody. The coordinator's updates
touch 2-4 keys and conflict rarely (each request writes its budgets twice), so the
optimistic loop is the cheapest correct choice; ``benchmarks/fleet.py`` measures it.

- keys are ``"ibkr-session:" + key``; values are JSON text;
- every key an update touches gets a TTL (a day by default), so an abandoned gateway's
  state expires by itself;
- short socket timeouts (0.5 s) and no client-side retries: a slow or absent Redis turns
  into ``StoreUnavailableError`` quickly, and the coordinator degrades instead of hanging
  a trading bot. A WATCH conflict is retried for at most ``timeout`` seconds.
- construction parses the URL but does not connect: a Redis that is down at start-up is a
  degraded coordinator, a misspelt URL a ``ValueError`` (``InvalidRequestError`` from
  ``open_store``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from ibkr_session.coordination.store import StoreUnavailableError, Values

__all__ = ["DEFAULT_PREFIX", "RedisStore"]

T = TypeVar("T")

DEFAULT_PREFIX = "ibkr-session:"
DEFAULT_TTL = 86_400
"""Seconds after its last update that a key expires (an abandoned gateway's state)."""


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _text(raw: bytes | str | None) -> str | None:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


class RedisStore:
    """``Store`` over Redis; see the module docstring."""

    kind = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        ttl: int = DEFAULT_TTL,
        socket_timeout: float = 0.5,
        timeout: float = 2.0,
    ) -> None:
        """``ValueError`` for a URL redis-py cannot read; nothing is connected yet."""
        parts = urlsplit(url)
        database = parts.path.strip("/")
        if parts.scheme != "unix" and database and not database.isdigit():
            raise ValueError(f"the database is a number (redis://host:6379/0), got {database!r}")
        # Host, port and database only: a password never reaches a log or a status page.
        self.location = f"{parts.scheme}://{parts.hostname or ''}:{parts.port or 6379}/" + (
            database or "0"
        )
        self.prefix = prefix
        self.ttl = int(ttl)
        self.timeout = float(timeout)
        pool = redis.ConnectionPool.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
        )
        self._client = redis.Redis(connection_pool=pool)

    def __repr__(self) -> str:
        return f"RedisStore({self.location!r})"

    def update(self, keys: Sequence[str], change: Callable[[Values], T]) -> T:
        keys = list(dict.fromkeys(keys))
        if not keys:
            return change({})
        names = [self.prefix + key for key in keys]
        deadline = time.monotonic() + self.timeout
        pool = self._client.connection_pool
        try:
            # redis-py's connection methods are untyped: Any keeps mypy --strict honest here.
            connection: Any = pool.get_connection()
        except RedisError as exc:
            raise StoreUnavailableError(f"{self!r}: {type(exc).__name__}: {exc}") from exc
        try:
            while True:
                done, result = self._attempt(connection, keys, names, change)
                if done:
                    return result
                if time.monotonic() >= deadline:
                    raise StoreUnavailableError(
                        f"{self!r}: still conflicting after {self.timeout} s"
                    )
        except RedisError as exc:
            connection.disconnect()
            raise StoreUnavailableError(f"{self!r}: {type(exc).__name__}: {exc}") from exc
        except BaseException:
            connection.disconnect()  # a change that raised left the connection WATCHing
            raise
        finally:
            pool.release(connection)

    def _attempt(
        self,
        connection: Any,
        keys: list[str],
        names: list[str],
        change: Callable[[Values], T],
    ) -> tuple[bool, T]:
        """One optimistic try, in two round trips: ``WATCH`` + ``MGET``, then ``MULTI`` ...
        ``EXEC``. ``(False, _)`` when another client wrote a watched key meanwhile."""
        connection.send_packed_command(
            connection.pack_commands([("WATCH", *names), ("MGET", *names)])
        )
        connection.read_response()
        texts = [_text(raw) for raw in connection.read_response()]
        values: Values = {}
        for key, text in zip(keys, texts, strict=True):
            if text is not None:
                with suppress(ValueError):
                    values[key] = json.loads(text)
        result = change(values)
        commands: list[tuple[Any, ...]] = [("MULTI",)]
        for key, name, text in zip(keys, names, texts, strict=True):
            if key in values:
                new = _dumps(values[key])
                if new != text:
                    commands.append(("SET", name, new, "EX", self.ttl))
                else:
                    commands.append(("EXPIRE", name, self.ttl))  # in use: keep it alive
            elif text is not None:
                commands.append(("DEL", name))
        commands.append(("EXEC",))
        connection.send_packed_command(connection.pack_commands(commands))
        for _ in commands[:-1]:
            connection.read_response()  # OK, then QUEUED for each
        return connection.read_response() is not None, result

    def clear(self) -> None:
        """Delete every key of this prefix (tests and ``ibkr status --reset`` only)."""
        try:
            for name in self._client.scan_iter(match=self.prefix + "*", count=500):
                self._client.delete(name)
        except RedisError as exc:
            raise StoreUnavailableError(f"{self!r}: {exc}") from exc

    def close(self) -> None:
        """Disconnect the pool (the shared state stays in Redis for the others)."""
        with suppress(RedisError):
            self._client.close()
            self._client.connection_pool.disconnect()
