"""Load test: /api/recommend vs a trivial authenticated endpoint, under gunicorn, on 127.0.0.1.

Needs a database with ml-100k ingested and an active model (`make migrate ingest train`),
and wrk (Debian package `wrk`). Authenticates once, then drives both endpoints with varied
profiles for a bounded time each and prints req/s, p50, p99 and errors side by side.

    python benchmarks/loadtest.py [--seconds 15] [--connections 16] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULT = re.compile(r"RESULT (.*)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15, help="duration per endpoint (max 120)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("GUNICORN_WORKERS", "2")))
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    seconds = max(1, min(args.seconds, 120))
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "loadtest-only-secret"),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": str(args.workers),
        "AUTH_THROTTLE_RATE": "1000/min",
        "ACCESS_LOG": os.environ.get("ACCESS_LOG", "1"),
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="movierec-prom-"),
    }
    python = sys.executable
    key = _run([python, "manage.py", "create_api_key", "loadtest"], env).strip().splitlines()[-1]
    server = subprocess.Popen(
        [python, "-m", "gunicorn", "--config", "gunicorn.conf.py", "movierec.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(f"{base}/healthz")
        token = _post(f"{base}/api/authenticate", {"key": key})["token"]
        for _ in range(4 * args.workers):  # every worker loads the model before timing
            _post(
                f"{base}/api/recommend", {"age": 30, "gender": "F", "occupation": "writer"}, token
            )
        results = {
            name: _wrk(f"{base}{path}", token, seconds, args.connections, env)
            for name, path in (("recommend", "/api/recommend"), ("ping (auth only)", "/bench/ping"))
        }
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        _run([python, "manage.py", "revoke_api_key", key.split(".")[0]], env, check=False)
    print(f"gunicorn workers={args.workers} connections={args.connections} seconds={seconds}")
    print(f"{'endpoint':<18}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>9}{'errors':>8}")
    for name, r in results.items():
        print(
            f"{name:<18}{r['rps']:>10.0f}{r['p50_ms']:>10.2f}{r['p99_ms']:>10.2f}{r['non2xx']:>9}{r['errors']:>8}"
        )
    ratio = results["recommend"]["rps"] / results["ping (auth only)"]["rps"]
    print(f"recommend / ping throughput: {ratio:.0%}")
    return 0


def _wrk(
    url: str, token: str, seconds: int, connections: int, env: dict[str, str]
) -> dict[str, float]:
    script = str(ROOT / "benchmarks" / "recommend.lua")
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, url]
    output = _run(command, {**env, "TOKEN": token})
    match = RESULT.search(output)
    if match is None:
        raise RuntimeError(f"wrk printed no result:\n{output}")
    fields = dict(item.split("=") for item in match.group(1).split())
    return {
        "rps": int(fields["requests"]) / (int(fields["duration_us"]) / 1e6),
        "p50_ms": float(fields["p50_ms"]),
        "p99_ms": float(fields["p99_ms"]),
        "non2xx": int(fields["non2xx"]),
        "errors": int(fields["errors"]),
    }


def _run(command: list[str], env: dict[str, str], *, check: bool = True) -> str:
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=300
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr}")
    return done.stdout


def _post(url: str, body: dict[str, object], token: str | None = None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback only)
        return json.loads(response.read())


def _wait_ready(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 (loopback only)
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server did not come up at {url}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    sys.exit(main())
