"""movierec.cache: the Redis backend reuses one client per connection pool."""

from __future__ import annotations

import os
import time

import pytest
from django.conf import settings

from movierec.cache import CircuitBreaker, PooledRedisCache


def test_if_same_pool_then_same_client_object() -> None:
    cache = PooledRedisCache("redis://127.0.0.1:6379/9", {})
    client = cache._cache.get_client(write=True)
    assert cache._cache.get_client() is client
    assert cache._cache.get_client("any-key", write=True) is client


def test_if_redis_configured_then_values_round_trip() -> None:
    if not settings.REDIS_URL:
        if os.environ.get("CI"):
            pytest.fail("CI runs with REDIS_URL set")
        pytest.skip("REDIS_URL is not set")
    cache = PooledRedisCache(settings.REDIS_URL, {"KEY_PREFIX": "movierec-test-cache"})
    cache.set("answer", {"titles": ["A", "B"]}, 5)
    assert cache.get("answer") == {"titles": ["A", "B"]}
    cache.set("hits", 1, 5)
    assert cache.incr("hits") == 2
    cache.delete_many(["answer", "hits"])
    assert cache.get("answer") is None


def _redis_url() -> str:
    if not settings.REDIS_URL:
        if os.environ.get("CI"):
            pytest.fail("CI runs with REDIS_URL set")
        pytest.skip("REDIS_URL is not set")
    return str(settings.REDIS_URL)


def test_if_clear_then_only_keys_under_its_own_prefix_go() -> None:
    url = _redis_url()
    mine = PooledRedisCache(url, {"KEY_PREFIX": "movierec-test-clear-a"})
    theirs = PooledRedisCache(url, {"KEY_PREFIX": "movierec-test-clear-b"})
    for n in range(600):  # more than one SCAN/UNLINK batch
        mine.set(f"k{n}", n, 30)
    theirs.set("k0", "kept", 30)

    mine.clear()

    assert mine.get_many([f"k{n}" for n in range(600)]) == {}
    assert theirs.get("k0") == "kept"
    theirs.clear()


def test_if_redis_unreachable_then_misses_fast_and_the_breaker_opens() -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = PooledRedisCache(f"redis://127.0.0.1:{port}/0", {"OPTIONS": {"BREAKER_SECONDS": 60}})

    assert dead.get("x", "default") == "default"
    assert dead.breaker.is_open
    assert dead.add("x", 1) is False
    dead.set("x", 1)
    dead.clear()
    assert dead.client() is None
    with pytest.raises(ValueError, match="not found"):
        dead.incr("x")


def test_if_breaker_period_passes_then_one_call_tries_again() -> None:
    breaker = CircuitBreaker(seconds=0.05, name="test")
    breaker.failed(ConnectionError("down"))
    assert breaker.allow() is False

    time.sleep(0.06)

    assert breaker.allow() is True  # the probe
    assert breaker.allow() is False  # only one at a time
    breaker.succeeded()
    assert breaker.allow() is True
    assert not breaker.is_open


def test_if_two_backends_share_a_server_then_they_share_its_breaker() -> None:
    # Django builds one backend per thread; a dead Redis must be skipped by all of them.
    first = PooledRedisCache("redis://127.0.0.1:1/0", {})
    second = PooledRedisCache("redis://127.0.0.1:1/0", {})

    assert first.breaker is second.breaker
