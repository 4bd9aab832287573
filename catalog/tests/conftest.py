"""catalog test fixtures: copies of the tiny data set to break, zips of it, a local HTTP server,
and a snapshot of every catalogue row to compare before and after a run."""

from __future__ import annotations

import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from catalog.tests.helpers import make_zip


@pytest.fixture(autouse=True)
def _download_cache(settings: Any, tmp_path: Path) -> Path:
    # No test may read or fill the developer's real download cache.
    settings.MOVIELENS_CACHE_DIR = tmp_path / "download-cache"
    return settings.MOVIELENS_CACHE_DIR


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Any) -> None:
    # admin_client creates a superuser per test; the default hasher costs ~0.2 s each time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def tiny_copy(movielens_tiny: Path, tmp_path: Path) -> Path:
    """A writable copy of fixtures/movielens_tiny, for tests that break a file."""
    return Path(shutil.copytree(movielens_tiny, tmp_path / "ml-100k"))


@pytest.fixture
def tiny_zip(movielens_tiny: Path, tmp_path: Path) -> Path:
    return make_zip(movielens_tiny, tmp_path / "ml-100k.zip")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, folder) of an HTTP server on 127.0.0.1 serving that folder."""
    root = tmp_path / "www"
    root.mkdir()

    def handler(*args: Any, **kwargs: Any) -> _QuietHandler:
        return _QuietHandler(*args, directory=str(root), **kwargs)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
