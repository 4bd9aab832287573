"""Admin password guessers vs the API: /api/recommend latency while guessers hammer /admin/login/.

Needs a database with ml-100k ingested and an active model (`make migrate ingest train`).
Starts gunicorn (2 workers) twice on 127.0.0.1: once with the admin login protections
switched off (AXES_FAILURE_LIMIT and ADMIN_LOGIN_RATE out of reach, as before they existed),
once with the defaults. In each, one client measures /api/recommend alone, then while
GUESSERS threads post wrong passwords (same username, then a new username per attempt),
and prints p50/p99 and how many attempts reached the password hasher (answered 200).

    python benchmarks/bench_admin_guessing.py [--seconds 10] [--guessers 4]
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADMIN = "bench-admin"
PROFILE = {"age": 30, "gender": "F", "occupation": "writer", "limit": 10}


def _free_port() -> int:
    low, _, high = os.environ.get("TEST_SERVER_PORTS", "0-0").partition("-")
    for port in range(int(low), int(high or low) + 1):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise SystemExit("no free port")


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return result.stdout


@contextmanager
def server(env: dict[str, str]) -> Iterator[str]:
    port = _free_port()
    run_env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "movierec.wsgi"],
        cwd=ROOT,
        env=run_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=2):  # noqa: S310
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit("server did not become ready") from None
                time.sleep(0.3)
        yield base
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _post(url: str, body: dict[str, object], token: str | None = None) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _latencies(base: str, token: str, seconds: float) -> list[float]:
    samples = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        status, _ = _post(f"{base}/api/recommend", PROFILE, token)
        samples.append(time.perf_counter() - started)
        assert status == 200, status
    return samples


def _guess(base: str, stop: threading.Event, rotate: bool, counts: dict[int, int]) -> None:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/admin/login/", timeout=30).read().decode()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert match is not None
    number = 0
    while not stop.is_set():
        number += 1
        username = f"{ADMIN}-{threading.get_ident()}-{number}" if rotate else ADMIN
        form = {
            "username": username,
            "password": f"wrong-{number}",
            "csrfmiddlewaretoken": match.group(1),
            "next": "/admin/",
        }
        request = urllib.request.Request(  # noqa: S310
            f"{base}/admin/login/",
            data=urllib.parse.urlencode(form).encode(),
            headers={"Referer": f"{base}/admin/login/"},
        )
        try:
            with opener.open(request, timeout=30) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        counts[status] = counts.get(status, 0) + 1


def _figures(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    return f"p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  ({len(samples)} requests)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per phase (max 60)")
    parser.add_argument("--guessers", type=int, default=4)
    args = parser.parse_args()
    seconds = max(1.0, min(args.seconds, 60.0))
    env = {
        **os.environ,
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "bench-only-secret"),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_DEBUG": "0",
        "GUNICORN_WORKERS": "2",
        "AUTH_THROTTLE_RATE": "100000/min",
        "ACCESS_LOG": "0",
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="movierec-prom-"),
    }
    key = _manage(env, "create_api_key", "bench-admin-guessing").strip().splitlines()[-1]
    _manage(
        env,
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        f"User.objects.filter(username='{ADMIN}').exists() or "
        f"User.objects.create_superuser('{ADMIN}', 'a@example.org', 'not-guessable-42')",
    )
    setups = {
        "unprotected": {"AXES_FAILURE_LIMIT": "1000000", "ADMIN_LOGIN_RATE": "1000000/min"},
        "defaults": {},
    }
    for name, overrides in setups.items():
        _manage(env, "axes_reset")
        with server({**env, **overrides}) as base:
            status, body = _post(f"{base}/api/authenticate", {"key": key})
            assert status == 200, body
            token = json.loads(body)["token"]
            _latencies(base, token, 1.0)  # warm up both workers
            print(
                f"{name:12} API alone:                 {_figures(_latencies(base, token, seconds))}"
            )
            for rotate in (False, True):
                _manage(env, "axes_reset")
                stop = threading.Event()
                counts: dict[int, int] = {}
                threads = [
                    threading.Thread(target=_guess, args=(base, stop, rotate, counts))
                    for _ in range(args.guessers)
                ]
                for thread in threads:
                    thread.start()
                time.sleep(0.5)
                samples = _latencies(base, token, seconds)
                stop.set()
                for thread in threads:
                    thread.join(timeout=60)
                label = "rotating usernames" if rotate else "one username"
                print(
                    f"{name:12} {args.guessers} guessers, {label:18}: {_figures(samples)}  "
                    f"login answers {dict(sorted(counts.items()))}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
