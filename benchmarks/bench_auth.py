"""Benchmark: POST /api/authenticate latency and the per-request cost of bearer authentication.

    python benchmarks/bench_auth.py [--requests N]

Runs in-process against a throwaway test database (in-memory SQLite, or a `test_` database
next to DATABASE_URL's) and prints, in milliseconds per call:

* POST /api/authenticate through Django's test client (parse, throttle, key lookup, SHA-512
  check, JWT signing, usage count), end to end minus the network;
* `ApiKeyJWTAuthentication.authenticate` alone (JWT check, key state, usage count: what every
  authenticated request pays), with the key state held in process and with it dropped before
  every call (one SELECT), on local memory and, when reachable, on Redis (REDIS_URL, default
  redis://127.0.0.1:6379/13);

each as wall time and as this process's CPU time per call (µs).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movierec.settings")
os.environ.setdefault("DJANGO_TESTING", "1")  # the development secret; nothing is served
os.environ.setdefault("ACCESS_LOG", "0")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import (  # noqa: E402
    override_settings,
    setup_databases,
    setup_test_environment,
    teardown_databases,
)
from rest_framework.request import Request  # noqa: E402
from rest_framework.test import APIRequestFactory  # noqa: E402

from accounts.authentication import ApiKeyJWTAuthentication  # noqa: E402
from accounts.selectors import key_state_forget_all  # noqa: E402
from accounts.services import api_key_create, token_obtain_for_key  # noqa: E402

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
NO_THROTTLE = {
    **settings.REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"authenticate": "100000000/min"},
}


def per_call(fn: Callable[[], object], n: int, repeats: int = 5) -> tuple[float, float, float]:
    """Median and best wall time (ms per call) and median CPU time of this process (µs per
    call) over ``repeats`` runs of ``n`` calls. CPU leaves out the Redis server's own work
    and the time spent waiting for it."""
    fn()  # warm up
    walls, cpus = [], []
    for _ in range(repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        for _ in range(n):
            fn()
        cpus.append((time.process_time() - cpu_started) * 1e6 / n)
        walls.append((time.perf_counter() - started) * 1000 / n)
    return statistics.median(walls), min(walls), statistics.median(cpus)


def redis_caches() -> dict[str, dict[str, str]] | None:
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/13"
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception:  # an unreachable Redis only skips its rows
        return None
    return {"default": {"BACKEND": "movierec.cache.PooledRedisCache", "LOCATION": url}}


def bench_backend(label: str, caches: dict[str, dict[str, str]], raw_key: str, n: int) -> None:
    client = Client()
    authenticator = ApiKeyJWTAuthentication()
    with override_settings(CACHES=caches, REST_FRAMEWORK=NO_THROTTLE):
        cache.clear()
        token = token_obtain_for_key(raw_key=raw_key).token
        request = Request(APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {token}"))
        principal, _ = authenticator.authenticate(request) or (None, None)
        assert principal is not None

        def authenticate() -> None:
            response = client.post(
                "/api/authenticate", {"key": raw_key}, content_type="application/json"
            )
            assert response.status_code == 200, response.content

        def auth_cached() -> None:
            authenticator.authenticate(request)

        def auth_uncached() -> None:
            key_state_forget_all()
            authenticator.authenticate(request)

        rows = [
            ("POST /api/authenticate (test client)", authenticate),
            ("authenticate(): key state held (the per-request path)", auth_cached),
            ("authenticate(): key state not held (1 SELECT)", auth_uncached),
        ]
        for what, fn in rows:
            median, best, cpu = per_call(fn, n)
            print(f"{what + ' [' + label + ']':58} {median:9.3f} {best:9.3f} {cpu:9.0f}")
        cache.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=500, help="calls per timed run")
    n = parser.parse_args().requests

    setup_test_environment()
    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        _, raw_key = api_key_create(name="bench")
        print(f"database: {str(settings.DATABASES['default']['ENGINE']).rsplit('.', 1)[-1]}")
        print(f"{'what':58} {'median':>9} {'best':>9} {'CPU µs':>9}  (ms per call, {n} calls x 5)")
        bench_backend("locmem", LOCMEM, raw_key, n)
        redis = redis_caches()
        if redis is None:
            print("redis: not reachable, skipped")
        else:
            bench_backend("redis", redis, raw_key, n)
    finally:
        teardown_databases(old_config, verbosity=0)


if __name__ == "__main__":
    main()
