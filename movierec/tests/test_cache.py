"""movierec.cache: the Redis backend reuses one client per connection pool."""

from __future__ import annotations

import os

import pytest
from django.conf import settings

from movierec.cache import PooledRedisCache


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
