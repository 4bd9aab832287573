"""Brute force: /api/authenticate is throttled per client IP, in the shared cache."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache

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
        "detail": "Request was throttled. Expected available in 45 seconds.",
        "code": "throttled",
    }
    assert response["Retry-After"] == "45"


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
    with time_machine.travel(START + timedelta(seconds=45), tick=False):
        response = attempt(api_client, api_key[1])

    assert response.status_code == 200


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
def test_attempts_are_counted_in_the_configured_cache(api_client):
    with time_machine.travel(START, tick=False):
        attempt(api_client, REMOTE_ADDR="10.0.0.7")
        window = int(START.timestamp()) // 60

        assert cache.get(f"throttle:authenticate:10.0.0.7:{window}") == 1
