"""Project wiring: Django's Redis cache backend, made an accelerator rather than a dependency.

* One client per connection pool. Django's RedisCacheClient builds a new ``redis.Redis`` for
  every cache call; with redis-py 8 that costs ~0.15 ms (it copies a table of ~150 response
  callbacks). The client is a thin, thread-safe wrapper around its pool, so one per pool
  serves every call; pools and connections are unchanged.
* Short connect and socket timeouts (``REDIS_TIMEOUT_SECONDS``, 0.1 s) and no retries, so a
  stopped or hung Redis costs a caller at most that long.
* A circuit breaker: after a connection error or a timeout, the backend stops calling Redis
  for ``REDIS_BREAKER_SECONDS`` and answers as an empty cache would (``get`` gives the
  default, ``set`` does nothing). One call then tries again; success closes the breaker. A
  hung Redis therefore adds no wait to requests beyond one timeout per process per period.
* ``clear()`` deletes only the keys under this cache's ``KEY_PREFIX`` (SCAN + UNLINK), never
  the whole database, so deployments and test runs sharing a Redis do not wipe each other.

Code that needs Redis itself (pub/sub, scripts) asks `redis_client` for the raw client and
reports failures with `PooledRedisCache.breaker.failed`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.connection import ConnectionProxy

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_TIMEOUT_SECONDS = 0.1
DEFAULT_BREAKER_SECONDS = 2.0
_UNLINK_BATCH = 500


def redis_errors() -> tuple[type[Exception], ...]:
    """What a dead or hung Redis raises (imported lazily: Redis is optional)."""
    import redis

    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


class CircuitBreaker:
    """Open for ``seconds`` after a failure; then one caller at a time may try again."""

    def __init__(self, *, seconds: float, name: str) -> None:
        self.seconds = seconds
        self.name = name
        self._open_until = 0.0
        self._probe_started: float | None = None
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        return self._open_until > time.monotonic()

    def allow(self) -> bool:
        """May a call go to the service now? (Closed, or half-open and nobody probing.)"""
        if self._open_until == 0.0:
            return True
        now = time.monotonic()
        with self._lock:
            if self._open_until > now:
                return False
            # A probe that never reported (an unexpected error) does not block the next one.
            if self._probe_started is not None and now - self._probe_started < self.seconds:
                return False
            self._probe_started = now
            return True

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            was_closed = self._open_until == 0.0
            self._open_until = time.monotonic() + self.seconds
            self._probe_started = None
        if was_closed:
            logger.warning(
                "circuit opened", extra={"service": self.name, "error": exc.__class__.__name__}
            )

    def succeeded(self) -> None:
        if self._open_until == 0.0:
            return
        with self._lock:
            self._open_until = 0.0
            self._probe_started = None
        logger.warning("circuit closed", extra={"service": self.name})


_breakers: dict[tuple[str, float], CircuitBreaker] = {}


class PooledClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        base: Any = self  # the stubs do not declare RedisCacheClient's private helpers
        pool = base._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = base._client(connection_pool=pool)
        return client


class PooledRedisCache(RedisCache):
    """``OPTIONS`` may set ``socket_timeout``/``socket_connect_timeout`` (seconds) and
    ``BREAKER_SECONDS``; the defaults are 0.1 s and 2 s."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        options = dict(params.get("OPTIONS") or {})
        breaker_seconds = float(options.pop("BREAKER_SECONDS", DEFAULT_BREAKER_SECONDS))
        options.setdefault("socket_timeout", DEFAULT_TIMEOUT_SECONDS)
        options.setdefault("socket_connect_timeout", options["socket_timeout"])
        options.setdefault("retry_on_timeout", False)
        super().__init__(server, {**params, "OPTIONS": options})
        self._class = PooledClientRedisCacheClient
        # Django builds a cache backend per thread: one breaker per server for the process,
        # so a dead Redis costs one timeout per process per period, not one per thread.
        self.breaker = _breakers.setdefault(
            (server, breaker_seconds), CircuitBreaker(seconds=breaker_seconds, name="redis")
        )

    def client(self) -> Any | None:
        """The raw redis client if the breaker lets a call through now, else None."""
        if not self.breaker.allow():
            return None
        return self._cache.get_client(write=True)

    def _guarded(self, call: Callable[[], T], fallback: T) -> T:
        if not self.breaker.allow():
            return fallback
        try:
            result = call()
        except redis_errors() as exc:
            self.breaker.failed(exc)
            return fallback
        except Exception:
            self.breaker.succeeded()  # Redis answered; the error is the caller's
            raise
        self.breaker.succeeded()
        return result

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> bool:
        return self._guarded(lambda: RedisCache.add(self, key, value, timeout, version), False)

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return self._guarded(lambda: RedisCache.get(self, key, default, version), default)

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> None:
        self._guarded(lambda: RedisCache.set(self, key, value, timeout, version), None)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> bool:
        return self._guarded(lambda: RedisCache.touch(self, key, timeout, version), False)

    def delete(self, key: Any, version: Any = None) -> bool:
        return self._guarded(lambda: RedisCache.delete(self, key, version), False)

    def get_many(self, keys: Any, version: Any = None) -> dict[Any, Any]:
        return self._guarded(lambda: RedisCache.get_many(self, keys, version), {})

    def has_key(self, key: Any, version: Any = None) -> bool:
        return self._guarded(lambda: RedisCache.has_key(self, key, version), False)

    def incr(self, key: Any, delta: int = 1, version: Any = None) -> int:
        # No value can stand in for a counter: callers get the error a missing key gives.
        if not self.breaker.allow():
            raise ValueError(f"Key {key!r} not found (Redis unavailable)")
        try:
            result = super().incr(key, delta, version)
        except redis_errors() as exc:
            self.breaker.failed(exc)
            raise ValueError(f"Key {key!r} not found (Redis unavailable)") from exc
        self.breaker.succeeded()
        return result

    def set_many(self, data: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> list[Any]:
        return self._guarded(lambda: RedisCache.set_many(self, data, timeout, version), list(data))

    def delete_many(self, keys: Any, version: Any = None) -> None:
        self._guarded(lambda: RedisCache.delete_many(self, keys, version), None)

    def clear(self) -> None:
        """Delete every key under this cache's prefix (all versions); nothing else."""
        pattern = _glob_escape(self.key_prefix) + ":*"

        def unlink_all() -> None:
            client = self._cache.get_client(write=True)
            batch: list[bytes] = []
            for key in client.scan_iter(match=pattern, count=_UNLINK_BATCH):
                batch.append(key)
                if len(batch) >= _UNLINK_BATCH:
                    client.unlink(*batch)
                    batch.clear()
            if batch:
                client.unlink(*batch)

        self._guarded(unlink_all, None)


def _glob_escape(text: str) -> str:
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)


def redis_cache(cache: Any) -> PooledRedisCache | None:
    """The cache as a `PooledRedisCache`, or None when it is another backend (locmem).

    ``django.core.cache.cache`` is a proxy to the thread's default cache: it is resolved.
    """
    backend = caches[DEFAULT_CACHE_ALIAS] if isinstance(cache, ConnectionProxy) else cache
    return backend if isinstance(backend, PooledRedisCache) else None
