"""Shared test fixtures: clients, data locations and isolation of caches between tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

REPO_ROOT = Path(__file__).resolve().parent
MOVIELENS_TINY = REPO_ROOT / "fixtures" / "movielens_tiny"


def _real_movielens_dir() -> Path:
    configured = os.environ.get("MOVIELENS_DIR")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "data" / "ml-100k"


@pytest.fixture
def movielens_tiny() -> Path:
    """A hand-written data set in ml-100k format (never an excerpt of the real one)."""
    return MOVIELENS_TINY


@pytest.fixture(scope="session")
def movielens_dir() -> Path:
    """The real ml-100k folder. In CI its absence is a failure, elsewhere a skip."""
    path = _real_movielens_dir()
    if not (path / "u.data").is_file():
        message = f"the real ml-100k is not at {path} (set MOVIELENS_DIR)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Any) -> None:
    # Staff users in admin tests need a password hash; PBKDF2's million rounds are not the
    # thing under test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    # Throttles and model-version markers live in the cache, key states, verified tokens and
    # pending key uses in process memory; tests start clean.
    from accounts import keystate, usage
    from accounts.authentication import verified_tokens
    from accounts.throttling import local_windows

    def reset() -> None:
        cache.clear()
        keystate.states.reset()
        verified_tokens.entries = {}
        usage.buffer.take()
        local_windows.reset()

    reset()
    yield
    reset()


# --- accounts: API keys and authenticated clients -------------------------------------------


@pytest.fixture
def api_key(db: None) -> tuple[Any, str]:
    """A fresh, usable API key: ``(ApiKey, raw_key)``."""
    from accounts.services import api_key_create

    return api_key_create(name="test client")


@pytest.fixture
def auth_token(api_key: tuple[Any, str]) -> str:
    """A bearer token for ``api_key``, obtained through the real ``POST /api/authenticate``."""
    response = APIClient().post("/api/authenticate", {"key": api_key[1]}, format="json")
    assert response.status_code == 200, response.content
    return str(response.json()["token"])


@pytest.fixture
def auth_headers(auth_token: str) -> dict[str, str]:
    """Test-client keyword arguments that authenticate a request: ``client.get(url, **h)``."""
    return {"HTTP_AUTHORIZATION": f"Bearer {auth_token}"}


@pytest.fixture
def auth_client(auth_token: str) -> APIClient:
    """An `APIClient` that sends ``Authorization: Bearer <token>`` on every request."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {auth_token}")
    return client
