"""The probes: /healthz (alive) and /readyz (database reachable and a model loaded)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError, connection
from rest_framework.test import APIClient

from recommender.models import ModelVersion

pytestmark = pytest.mark.django_db

# Redis is reported, not required: "ok" where the suite runs with REDIS_URL (CI).
REDIS = "ok" if settings.REDIS_URL else "not configured"
NO_MODEL = "No model version is active: train one with `python manage.py train_model`."


def test_healthz_answers_ok_without_a_token(api_client: APIClient) -> None:
    response = api_client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}


def test_healthz_needs_neither_database_nor_model(api_client: APIClient) -> None:
    with mock.patch.object(connection, "cursor", side_effect=OperationalError("down")):
        response = api_client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_with_an_active_model_is_ready_without_a_token(
    api_client: APIClient, trained: ModelVersion
) -> None:
    response = api_client.get("/readyz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "model": f"version {trained.version}", "redis": REDIS},
    }
    assert trained.version == 1


def test_if_no_model_is_active_then_readyz_is_503(api_client: APIClient, catalogue: None) -> None:
    response = api_client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "model": NO_MODEL, "redis": REDIS},
    }


def test_if_the_active_model_is_deactivated_then_readyz_turns_503(
    api_client: APIClient, trained: ModelVersion
) -> None:
    assert api_client.get("/readyz").status_code == 200
    ModelVersion.objects.filter(pk=trained.pk).update(is_active=False)
    cache.clear()  # the active-version marker, as an activation elsewhere would refresh it

    response = api_client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "model": NO_MODEL, "redis": REDIS}


def test_if_the_database_is_unreachable_then_readyz_is_503(
    api_client: APIClient, trained: ModelVersion
) -> None:
    with mock.patch.object(connection, "cursor", side_effect=OperationalError("down")):
        response = api_client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {
            "database": "unreachable",
            "model": "unknown (database unreachable)",
            "redis": REDIS,
        },
    }


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_probes_refuse_writes_with_405(api_client: APIClient, path: str, method: str) -> None:
    response = getattr(api_client, method)(path)

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response.json() == {
        "detail": f'Method "{method.upper()}" not allowed.',
        "code": "method_not_allowed",
    }


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_head(api_client: APIClient, path: str, trained: ModelVersion) -> None:
    assert api_client.head(path).status_code == 200


def test_if_redis_is_unreachable_then_readyz_is_200_degraded(
    api_client: APIClient, trained: ModelVersion
) -> None:
    from movierec.cache import redis_cache

    redis = redis_cache(cache)
    if redis is None:
        pytest.skip("REDIS_URL is not set")
    redis.breaker.failed(ConnectionError("test"))  # as after a timeout
    try:
        response = api_client.get("/readyz")
    finally:
        redis.breaker.succeeded()

    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "checks": {"database": "ok", "model": f"version {trained.version}", "redis": "unavailable"},
    }


def test_if_the_database_is_unreachable_then_the_api_answers_503_with_retry_after(
    api_client: APIClient, api_key: tuple[object, str]
) -> None:
    with mock.patch.object(connection, "cursor", side_effect=OperationalError("down")):
        response = api_client.post("/api/authenticate", {"key": api_key[1]}, format="json")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {
        "detail": "The database is unavailable; try again shortly.",
        "code": "database_unavailable",
    }
