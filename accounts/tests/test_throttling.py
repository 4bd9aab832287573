"""Brute force: /api/authenticate is throttled per client IP, in a sliding window."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache

from accounts.throttling import local_windows
from movierec.cache import redis_cache

pytestmark = pytest.mark.django_db

URL = "/api/authenticate"
START = datetime(2030, 1, 1, 12, 0, 15, tzinfo=UTC)  # 15 s into a one-minute window


@pytest.fixture
def three_per_minute(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"authenticate": "3/min"},
    }


def attempt(client, key: str = "wrong", **extra):
    return client.post(URL, {"key": key}, format="json", **extra)


@pytest.mark.usefixtures("three_per_minute")
def test_if_too_many_attempts_then_429_with_retry_after(api_client):
    with time_machine.travel(START, tick=False):
        statuses = [attempt(api_client).status_code for _ in range(3)]
        response = attempt(api_client)

    assert statuses == [401, 401, 401]
    assert response.status_code == 429
    assert response.json() == {
        "detail": "Request was throttled. Expected available in 60 seconds.",
        "code": "throttled",
    }
    assert response["Retry-After"] == "60"


@pytest.mark.usefixtures("three_per_minute")
def test_if_throttled_then_even_the_right_key_is_refused(api_client, api_key):
    with time_machine.travel(START, tick=False):
        for _ in range(3):
            attempt(api_client)
        response = attempt(api_client, api_key[1])

    assert response.status_code == 429


@pytest.mark.usefixtures("three_per_minute")
def test_successful_and_malformed_attempts_count_too(api_client, api_key):
    with time_machine.travel(START, tick=False):
        assert attempt(api_client, api_key[1]).status_code == 200
        assert api_client.post(URL, {"key": 5}, format="json").status_code == 400
        assert attempt(api_client).status_code == 401
        assert attempt(api_client, api_key[1]).status_code == 429


@pytest.mark.usefixtures("three_per_minute")
def test_if_window_passes_then_attempts_allowed_again(api_client, api_key):
    with time_machine.travel(START, tick=False):
        for _ in range(4):
            attempt(api_client)
    with time_machine.travel(START + timedelta(seconds=59), tick=False):
        early = attempt(api_client, api_key[1])
    with time_machine.travel(START + timedelta(seconds=60), tick=False):
        response = attempt(api_client, api_key[1])

    assert early.status_code == 429
    assert response.status_code == 200


@pytest.mark.usefixtures("three_per_minute")
def test_if_attempts_straddle_a_minute_boundary_then_the_limit_still_holds(api_client):
    before = datetime(2030, 1, 1, 12, 0, 59, tzinfo=UTC)
    with time_machine.travel(before, tick=False):
        statuses = [attempt(api_client).status_code for _ in range(3)]
    with time_machine.travel(before + timedelta(seconds=2), tick=False):
        response = attempt(api_client)

    assert statuses == [401, 401, 401]
    assert response.status_code == 429
    assert response["Retry-After"] == "58"


@pytest.mark.usefixtures("three_per_minute")
def test_retry_after_counts_from_the_oldest_attempt_in_the_window(api_client):
    for offset in (0, 10, 20):
        with time_machine.travel(START + timedelta(seconds=offset), tick=False):
            attempt(api_client)
    with time_machine.travel(START + timedelta(seconds=30), tick=False):
        first = attempt(api_client)
    with time_machine.travel(START + timedelta(seconds=60), tick=False):
        freed = attempt(api_client)
        second = attempt(api_client)

    assert (first.status_code, first["Retry-After"]) == (429, "30")
    assert freed.status_code == 401  # the attempt at +0 left the window
    assert (second.status_code, second["Retry-After"]) == (429, "10")


@pytest.mark.usefixtures("three_per_minute")
def test_each_client_ip_has_its_own_budget(api_client, api_key):
    with time_machine.travel(START, tick=False):
        for _ in range(4):
            attempt(api_client, REMOTE_ADDR="10.0.0.1")
        blocked = attempt(api_client, api_key[1], REMOTE_ADDR="10.0.0.1")
        other = attempt(api_client, api_key[1], REMOTE_ADDR="10.0.0.2")

    assert blocked.status_code == 429
    assert other.status_code == 200


@pytest.mark.usefixtures("three_per_minute")
def test_if_no_proxy_configured_then_x_forwarded_for_cannot_dodge_the_throttle(api_client):
    with time_machine.travel(START, tick=False):
        statuses = [
            attempt(
                api_client, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}"
            ).status_code
            for n in range(4)
        ]

    assert statuses == [401, 401, 401, 429]


def test_if_one_proxy_configured_then_the_client_ip_comes_from_x_forwarded_for(
    api_client, settings
):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"authenticate": "1/min"},
        "NUM_PROXIES": 1,
    }
    with time_machine.travel(START, tick=False):
        first = attempt(api_client, REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="192.0.2.1")
        same = attempt(api_client, REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="192.0.2.1")
        other = attempt(api_client, REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="192.0.2.2")

    assert [first.status_code, same.status_code, other.status_code] == [401, 429, 401]


@pytest.mark.skipif("AUTH_THROTTLE_RATE" in os.environ, reason="AUTH_THROTTLE_RATE overrides it")
def test_default_rate_is_thirty_a_minute(api_client):
    with time_machine.travel(START, tick=False):
        statuses = [attempt(api_client).status_code for _ in range(31)]

    assert statuses == [401] * 30 + [429]


@pytest.mark.usefixtures("three_per_minute")
def test_if_redis_configured_then_attempts_are_counted_there(api_client):
    redis = redis_cache(cache)
    if redis is None:
        pytest.skip("REDIS_URL is not set")
    with time_machine.travel(START, tick=False):
        attempt(api_client, REMOTE_ADDR="10.0.0.7")

    client = redis.client()
    assert client is not None
    assert client.zcard(redis.make_key("throttle:authenticate:10.0.0.7")) == 1
    assert local_windows.windows == {}


@pytest.mark.usefixtures("three_per_minute")
def test_if_redis_unavailable_then_the_process_keeps_the_window(api_client):
    redis = redis_cache(cache)
    if redis is not None:
        redis.breaker.failed(ConnectionError("test"))  # as after a timeout: Redis is skipped
    try:
        with time_machine.travel(START, tick=False):
            statuses = [attempt(api_client, REMOTE_ADDR="10.0.0.8").status_code for _ in range(4)]
    finally:
        if redis is not None:
            redis.breaker.succeeded()
        local_windows.reset()

    assert statuses == [401, 401, 401, 429]
