"""Load test: movierec's /api/recommend against the bare reference, under gunicorn, on 127.0.0.1.

Three servers run side by side, each under `gunicorn.conf.py`:

- ``reference``: `benchmarks.reference` (DRF + stateless simplejwt, Security and Common
  middleware, no database, cache, logging or metrics, 10 constant titles), the yardstick;
- ``movierec``: the service as deployed (Postgres, Redis, Prometheus multiprocess, JSON access
  log written to a file), with the same gunicorn settings as the reference;
- ``movierec (defaults)``: the service under gunicorn.conf.py's own defaults (no GUNICORN_*
  override), i.e. what the image runs.

Rounds are interleaved (every server at every connection count in each round), so a host
that slows down mid-run slows all rows alike. For each run: requests per second, p50 and
p99 latency (wrk), and server CPU per request (the whole process tree's CPU time from
/proc/<pid>/task/<tid>/schedstat, master and workers, divided by the requests served).
The ratios are medians over rounds of movierec / reference in the same round.

Needs wrk (Debian package `wrk`), DATABASE_URL (Postgres) and REDIS_URL, and a database with
ml-100k ingested and an active model (`make migrate ingest train`).

    python benchmarks/loadtest.py [--rounds 3] [--seconds 8] [--connections 16 64]
        [--worker-class gthread] [--workers 2] [--threads 4]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULT = re.compile(r"RESULT (.*)")
# The targets of the performance budget: movierec / reference.
TARGET_THROUGHPUT = 0.9
TARGET_P99 = 1.5
TARGET_CPU = 1.15
REFERENCE_APP = "benchmarks.reference.wsgi"


@dataclass(frozen=True)
class Server:
    name: str
    base: str
    pid: int


@dataclass(frozen=True)
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us: float
    non2xx: int
    errors: int


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (at least 3)")
    parser.add_argument("--seconds", type=int, default=8, help="duration of one run (max 60)")
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--worker-class", default="gthread", help="gunicorn worker class")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument(
        "--no-defaults", action="store_true", help="skip the third row (gunicorn.conf.py defaults)"
    )
    args = parser.parse_args()
    problem = _missing_prerequisite()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    rounds = max(3, args.rounds)
    seconds = max(1, min(args.seconds, 60))
    secret = os.environ.get("DJANGO_SECRET_KEY") or "loadtest-only-secret-" + "x" * 40
    base_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_")},
        "DJANGO_SECRET_KEY": secret,
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "ACCESS_LOG": "1",
        "LOG_FORMAT": "json",
    }
    compared = {
        "GUNICORN_WORKER_CLASS": args.worker_class,
        "GUNICORN_WORKERS": str(args.workers),
        "GUNICORN_THREADS": str(args.threads),
    }
    same = {**base_env, **compared}
    python = sys.executable
    key = _run([python, "manage.py", "create_api_key", "loadtest"], base_env).strip()
    key = key.splitlines()[-1]
    logs = Path(tempfile.mkdtemp(prefix="movierec-loadtest-"))
    try:
        with ExitStack() as stack:
            servers = [
                stack.enter_context(_gunicorn("reference", REFERENCE_APP, same, logs)),
                stack.enter_context(_gunicorn("movierec", "movierec.wsgi", same, logs)),
            ]
            if not args.no_defaults:
                servers.append(
                    stack.enter_context(
                        _gunicorn("movierec (defaults)", "movierec.wsgi", base_env, logs)
                    )
                )
            token = _post(f"{servers[1].base}/api/authenticate", {"key": key})["token"]
            for server in servers:  # warm every worker and thread before timing
                _wrk(server, token, 2, max(args.connections), args.wrk_threads)
            results: dict[tuple[str, int], list[Run]] = {}
            for _ in range(rounds):
                for connections in args.connections:
                    for server in servers:
                        run = _wrk(server, token, seconds, connections, args.wrk_threads)
                        results.setdefault((server.name, connections), []).append(run)
    finally:
        _run([python, "manage.py", "revoke_api_key", key.split(".")[0]], base_env, check=False)
        shutil.rmtree(logs, ignore_errors=True)
    _report(results, args, rounds, seconds, [s.name for s in servers])
    return 0


def _report(
    results: dict[tuple[str, int], list[Run]],
    args: argparse.Namespace,
    rounds: int,
    seconds: int,
    names: list[str],
) -> None:
    print(
        f"compared under gunicorn {args.worker_class}, {args.workers} workers x {args.threads} "
        f"threads; {rounds} interleaved rounds of {seconds} s; wrk -t{args.wrk_threads} on the "
        f"same host ({os.cpu_count()} cores); medians over rounds"
    )
    header = f"{'server':<22}{'conns':>6}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'CPU µs/req':>12}"
    for connections in args.connections:
        print()
        print(header + f"{'non-2xx':>9}{'errors':>8}")
        for name in names:
            runs = results[(name, connections)]
            print(
                f"{name:<22}{connections:>6}{_median(runs, 'rps'):>9.0f}"
                f"{_median(runs, 'p50_ms'):>9.2f}{_median(runs, 'p99_ms'):>9.2f}"
                f"{_median(runs, 'cpu_us'):>12.0f}"
                f"{sum(r.non2xx for r in runs):>9}{sum(r.errors for r in runs):>8}"
            )
        per_round = ", ".join(
            f"{r.rps:.0f}/{m.rps:.0f}"
            for r, m in zip(
                results[("reference", connections)], results[("movierec", connections)], strict=True
            )
        )
        print(f"  req/s per round (reference/movierec): {per_round}")
        for name in names[1:]:
            ratios = _ratios(results[("reference", connections)], results[(name, connections)])
            verdict = (
                ratios["rps"] >= TARGET_THROUGHPUT
                and ratios["p99_ms"] <= TARGET_P99
                and ratios["cpu_us"] <= TARGET_CPU
            )
            print(
                f"  {name} / reference: throughput {ratios['rps']:.2f} (target >= "
                f"{TARGET_THROUGHPUT}), p99 {ratios['p99_ms']:.2f} (<= {TARGET_P99}), "
                f"CPU/request {ratios['cpu_us']:.2f} (<= {TARGET_CPU})"
                f"  {'MEETS' if verdict else 'MISSES'} the targets"
            )


def _median(runs: list[Run], field: str) -> float:
    return statistics.median(getattr(run, field) for run in runs)


def _ratios(reference: list[Run], other: list[Run]) -> dict[str, float]:
    return {
        field: statistics.median(
            getattr(o, field) / getattr(r, field) for r, o in zip(reference, other, strict=True)
        )
        for field in ("rps", "p99_ms", "cpu_us")
    }


def _missing_prerequisite() -> str | None:
    if not shutil.which("wrk"):
        return "wrk is not installed (apt-get install wrk)"
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        return "set DATABASE_URL=postgres://... (the service is measured as deployed)"
    if not os.environ.get("REDIS_URL"):
        return "set REDIS_URL=redis://... (the service is measured as deployed)"
    return None


@contextmanager
def _gunicorn(name: str, app: str, env: dict[str, str], logs: Path) -> Iterator[Server]:
    port = _free_port()
    slug = re.sub(r"\W+", "-", name).strip("-")
    server_env = {
        **env,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "PROMETHEUS_MULTIPROC_DIR": str(logs / f"prometheus-{slug}"),
    }
    if app == REFERENCE_APP:
        server_env["DJANGO_SETTINGS_MODULE"] = "benchmarks.reference.settings"
        server_env.pop("PROMETHEUS_MULTIPROC_DIR")
    # The access log goes to a file, as a container's stderr goes to its log driver.
    with open(logs / f"{slug}.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", app],
            cwd=ROOT,
            env=server_env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process)
        yield Server(name=name, base=base, pid=process.pid)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _wrk(server: Server, token: str, seconds: int, connections: int, threads: int) -> Run:
    script = str(ROOT / "benchmarks" / "recommend.lua")
    url = f"{server.base}/api/recommend"
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    cpu_before = _tree_cpu_ns(server.pid)
    output = _run([*command, "-s", script, url], {**os.environ, "TOKEN": token})
    cpu_after = _tree_cpu_ns(server.pid)
    match = RESULT.search(output)
    if match is None:
        raise RuntimeError(f"wrk printed no result:\n{output}")
    fields = dict(item.split("=") for item in match.group(1).split())
    requests = int(fields["requests"])
    return Run(
        rps=requests / (int(fields["duration_us"]) / 1e6),
        p50_ms=float(fields["p50_ms"]),
        p99_ms=float(fields["p99_ms"]),
        cpu_us=(cpu_after - cpu_before) / 1000 / max(requests, 1),
        non2xx=int(fields["non2xx"]),
        errors=int(fields["errors"]),
    )


def _tree_cpu_ns(root: int) -> int:
    """CPU time (ns) of every thread of ``root`` and its descendants, from schedstat."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        pending.extend(children.get(pid, []))
        try:
            tasks = list(Path(f"/proc/{pid}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
    return total


def _run(command: list[str], env: dict[str, str], *, check: bool = True) -> str:
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=300
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr}")
    return done.stdout


def _post(url: str, body: dict[str, object]) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback only)
        return json.loads(response.read())


def _wait_ready(base: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    probe = urllib.request.Request(f"{base}/api/recommend", data=b"{}", method="POST")  # noqa: S310
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server at {base} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(probe, timeout=1):  # noqa: S310 (loopback only)
                return
        except urllib.error.HTTPError:
            return  # it answers (401: no token), so it is up
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server did not come up at {base}")


def _free_port() -> int:
    """A free loopback port: from ``TEST_SERVER_PORTS`` (e.g. 18200-18299) if set, else any."""
    first, _, last = os.environ.get("TEST_SERVER_PORTS", "0-0").partition("-")
    ports = list(range(int(first), int(last or first) + 1))
    random.shuffle(ports)  # two runs at once rarely try the same port first
    for port in ports:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError(f"no free port in TEST_SERVER_PORTS={os.environ['TEST_SERVER_PORTS']}")


if __name__ == "__main__":
    sys.exit(main())
