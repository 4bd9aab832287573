"""Shared test fixtures: clients, data locations and isolation of caches between tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

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
def _clear_cache() -> Iterator[None]:
    # Throttles, key state and model-version markers live in the cache; tests start clean.
    cache.clear()
    yield
    cache.clear()
