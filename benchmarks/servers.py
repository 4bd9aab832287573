"""Which server and settings serve movierec best here: gunicorn worker classes and granian.

    python benchmarks/servers.py [--rounds 3] [--seconds 6] [--connections 16 64]

Starts movierec (production settings, as `make loadtest`) under each candidate at once and
drives them in interleaved rounds with wrk: req/s, p99 and server CPU per request (process
tree), medians over rounds. granian is not a dependency: `pip install granian` to include it
(it is skipped otherwise).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import loadtest

GUNICORN = {
    "gunicorn sync 2": {"GUNICORN_WORKER_CLASS": "sync", "GUNICORN_WORKERS": "2"},
    "gunicorn gthread 2x4": {
        "GUNICORN_WORKER_CLASS": "gthread",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "4",
    },
    "gunicorn gthread 2x8": {
        "GUNICORN_WORKER_CLASS": "gthread",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "8",
    },
    "gunicorn gthread 3x4": {
        "GUNICORN_WORKER_CLASS": "gthread",
        "GUNICORN_WORKERS": "3",
        "GUNICORN_THREADS": "4",
    },
}


@contextmanager
def _granian(env: dict[str, str], logs: Path) -> Iterator[loadtest.Server]:
    port = loadtest._free_port()
    command = [
        sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1",
        "--port", str(port), "--workers", "2", "--blocking-threads", "4",
        "--no-access-log", "movierec.wsgi:application",
    ]  # fmt: skip
    server_env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(logs / "prometheus-granian")}
    Path(server_env["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
    with open(logs / "granian.log", "wb") as log:
        process = subprocess.Popen(
            command, cwd=loadtest.ROOT, env=server_env, stdout=log, stderr=log,
            start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        loadtest._wait_ready(base, process)
        yield loadtest.Server(name="granian 2x4", base=base, pid=process.pid)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 64])
    args = parser.parse_args()
    problem = loadtest._missing_prerequisite()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_")},
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or "servers-only-" + "x" * 40,
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "ACCESS_LOG": "1",
    }
    key = loadtest._run([sys.executable, "manage.py", "create_api_key", "servers"], env)
    key = key.strip().splitlines()[-1]
    logs = Path(tempfile.mkdtemp(prefix="movierec-servers-"))
    results: dict[tuple[str, int], list[loadtest.Run]] = {}
    try:
        with ExitStack() as stack:
            servers = [
                stack.enter_context(loadtest._gunicorn(name, "movierec.wsgi", {**env, **s}, logs))
                for name, s in GUNICORN.items()
            ]
            try:
                import granian  # noqa: F401

                servers.append(stack.enter_context(_granian(env, logs)))
            except ImportError:
                print("granian is not installed: skipped", file=sys.stderr)
            token = loadtest._post(f"{servers[0].base}/api/authenticate", {"key": key})["token"]
            for server in servers:
                loadtest._wrk(server, token, 2, max(args.connections), 2)
            for _ in range(args.rounds):
                for connections in args.connections:
                    for server in servers:
                        run = loadtest._wrk(server, token, args.seconds, connections, 2)
                        results.setdefault((server.name, connections), []).append(run)
    finally:
        loadtest._run(
            [sys.executable, "manage.py", "revoke_api_key", key.split(".")[0]], env, check=False
        )
        shutil.rmtree(logs, ignore_errors=True)
    print(f"movierec, {args.rounds} interleaved rounds of {args.seconds} s, medians; wrk -t2")
    print(f"{'server':<24}{'conns':>6}{'req/s':>9}{'p99 ms':>9}{'CPU µs/req':>12}{'errors':>8}")
    for connections in args.connections:
        for server in servers:
            runs = results[(server.name, connections)]
            print(
                f"{server.name:<24}{connections:>6}"
                f"{statistics.median(r.rps for r in runs):>9.0f}"
                f"{statistics.median(r.p99_ms for r in runs):>9.1f}"
                f"{statistics.median(r.cpu_us for r in runs):>12.0f}"
                f"{sum(r.errors + r.non2xx for r in runs):>8}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
