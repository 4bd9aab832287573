"""Scale-out: two independently started servers on one Postgres and one Redis agree.

Starts two gunicorn processes (one worker each) against the test database, then checks that
they give the same recommendations for the same profile and that a key revoked while both
are running stops working on both within API_KEY_STATE_TTL.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from accounts.models import ApiKey
from accounts.services import api_key_create, api_key_revoke
from recommender.services import model_train
from recommender.tests.conftest import build_catalogue

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


def _require_shared_services() -> None:
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        message = "needs DATABASE_URL=postgres://... and REDIS_URL (one database, one cache)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _call(url: str, body: dict[str, Any], token: str | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[list[str]]:
    _require_shared_services()
    db = settings.DATABASES["default"]
    database_url = (
        f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    servers: list[tuple[subprocess.Popen[bytes], str]] = []
    for index in range(2):
        port = _free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": str(settings.REDIS_URL),
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
            "JWT_SIGNING_KEY": str(settings.SIMPLE_JWT["SIGNING_KEY"]),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_DEBUG": "0",
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_WORKERS": "1",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / f"prom{index}"),
            "ACCESS_LOG": "0",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "movierec.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        servers.append((process, f"http://127.0.0.1:{port}"))
    try:
        for process, base in servers:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                        break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"server at {base} did not start")
                    time.sleep(0.2)
        yield [base for _, base in servers]
    finally:
        for process, _ in servers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def test_two_servers_agree_on_answers_and_on_revocation(two_servers: list[str]) -> None:
    build_catalogue()
    assert model_train(seed=42).activated
    key, raw = api_key_create(name="scale-out")
    first, second = two_servers

    status, body = _call(f"{first}/api/authenticate", {"key": raw})
    assert status == 200
    token = body["token"]
    profile = {"age": 35, "gender": "F", "occupation": "engineer", "limit": 5}
    answers = [_call(f"{base}/api/recommend", profile, token) for base in two_servers]
    assert answers[0][0] == answers[1][0] == 200
    assert answers[0][1] == answers[1][1]
    assert len(answers[0][1]) == 5

    api_key_revoke(api_key=ApiKey.objects.get(pk=key.pk))
    deadline = time.monotonic() + settings.API_KEY_STATE_TTL + 1
    refused: set[str] = set()
    while time.monotonic() < deadline and len(refused) < 2:
        for base in two_servers:
            status, body = _call(f"{base}/api/recommend", profile, token)
            if status == 401:
                refused.add(base)
        time.sleep(0.2)
    assert refused == {first, second}
    assert _call(f"{second}/api/authenticate", {"key": raw})[0] == 401
