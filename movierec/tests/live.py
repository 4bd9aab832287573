"""Test helpers for tests that start real gunicorn servers against the test database.

Such servers need a database and a cache that other processes can reach: Postgres and Redis.
Without them the tests skip locally and fail in CI.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def require_shared_services() -> None:
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        message = "needs DATABASE_URL=postgres://... and REDIS_URL (shared by the servers)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def post_json(url: str, body: dict[str, Any], token: str | None = None) -> tuple[int, Any]:
    """(status, decoded JSON body) of a POST; HTTP errors are answers, not exceptions."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _free_port() -> int:
    # TEST_SERVER_PORTS=LOW-HIGH keeps the servers in a range (a shared machine), else any.
    low, _, high = os.environ.get("TEST_SERVER_PORTS", "0-0").partition("-")
    ports = list(range(int(low), int(high or low) + 1))
    random.shuffle(ports)  # two runs at once rarely try the same port first
    for port in ports:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise OSError(f"no free port in TEST_SERVER_PORTS={low}-{high}")


def shared_env() -> dict[str, str]:
    """The environment of a process that shares this test run's database, Redis and secrets
    (a server, or a command run beside it), in production mode."""
    require_shared_services()
    db = settings.DATABASES["default"]
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{host}:{port}/{db['NAME']}",
        "REDIS_URL": str(settings.REDIS_URL),
        # The test process's own keys and channels (one prefix per xdist worker).
        "CACHE_KEY_PREFIX": str(settings.CACHES["default"].get("KEY_PREFIX", "")),
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "JWT_SIGNING_KEY": str(settings.SIMPLE_JWT["SIGNING_KEY"]),
        "MODEL_SIGNING_KEY": str(settings.MODEL_SIGNING_KEY),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_DEBUG": "0",
    }


@contextmanager
def gunicorn_server(
    *,
    workers: int,
    metrics_dir: Path,
    env: dict[str, str] | None = None,
    log: Path | None = None,
) -> Iterator[tuple[str, int]]:
    """A gunicorn on a free loopback port, on the test database and Redis: (base URL, pid).

    ``env`` adds or overrides variables of the server's environment; ``log``: a file for the
    server's output (JSON logs, access lines included).
    """
    bind = f"127.0.0.1:{_free_port()}"
    server_env = {
        **shared_env(),
        "GUNICORN_BIND": bind,
        "GUNICORN_WORKERS": str(workers),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "ACCESS_LOG": "1" if log is not None else "0",
        **(env or {}),
    }
    output = open(log, "wb") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "movierec.wsgi"],
        cwd=ROOT,
        env=server_env,
        stdout=output,
        stderr=output,
        start_new_session=True,
    )
    if log is not None:
        output.close()  # type: ignore[union-attr]
    base = f"http://{bind}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"gunicorn did not start at {base}")
                time.sleep(0.2)
        yield base, process.pid
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


NGINX_CONF = ROOT / "deploy" / "nginx.conf"


@contextmanager
def nginx_proxy(*, upstream: str, workdir: Path) -> Iterator[str]:
    """Debian's nginx with deploy/nginx.conf in front of ``upstream`` (host:port): base URL.

    The file is used as the compose stack uses it, with the upstream and the listening
    address pointed at loopback and ``${API_MAX_BODY_BYTES}`` filled in from the settings.
    """
    binary = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    if binary is None:
        message = "needs nginx (apt-get install nginx-light)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    listen = f"127.0.0.1:{_free_port()}"
    site = NGINX_CONF.read_text()
    site = site.replace("${API_MAX_BODY_BYTES}", str(settings.API_MAX_BODY_BYTES))
    site = site.replace("server web:8000;", f"server {upstream};")
    site = site.replace("listen 80;", f"listen {listen};")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "site.conf").write_text(site)
    (workdir / "nginx.conf").write_text(
        f"""
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    include {workdir}/site.conf;
}}
"""
    )
    with open(workdir / "stderr.log", "wb") as stderr:
        process = subprocess.Popen(
            [binary, "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    base = f"http://{listen}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    error = (workdir / "stderr.log").read_text(errors="replace")
                    pytest.fail(f"nginx did not start at {base}: {error}")
                time.sleep(0.1)
        yield base
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
