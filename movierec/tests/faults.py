"""Helpers for the fault suite: a throw-away Redis and Postgres cluster, a live gunicorn on
them, and a bounded load that records every answer by phase.

Nothing here touches the shared Redis or Postgres: both are started on free loopback ports
in a temporary directory and stopped by PID.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
# Servers started by the suite listen on loopback ports in this range.
PORTS = range(int(os.environ.get("FAULT_PORT_LOW", "18100")), 18200)


_handed_out: set[int] = set()


def free_port() -> int:
    """A free port in `PORTS`, never the same twice (servers may not have bound it yet)."""
    for port in PORTS:
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


def wait_for_port(port: int, *, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc)."""
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
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


class Redis:
    """A redis-server of our own; `stop`/`start` keep its port."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            pytest.fail("redis-server is not installed (apt-get install redis-server)")
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.binary is not None
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def freeze(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


class Postgres:
    """A Postgres cluster of our own (initdb in a temporary directory, run as ``postgres``)."""

    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists():
            pytest.fail(f"PostgreSQL binaries not found in {PG_BIN} (set PG_BIN)")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="movierec-faults-pg-"))
        self.data = self.dir / "data"
        self.as_postgres: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            self.as_postgres = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.dir, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/movierec_faults"

    def _run(self, *args: str) -> None:
        command = [*self.as_postgres, str(PG_BIN / args[0]), *args[1:]]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.dir / "log"),
            "-w",
            "start",
        )

    def postmaster_pid(self) -> int | None:
        pidfile = self.data / "postmaster.pid"
        with suppress(OSError, ValueError, IndexError):
            return int(pidfile.read_text().splitlines()[0])
        return None

    def stop(self) -> None:
        pid = self.postmaster_pid()
        if pid is None:
            return
        self.thaw()
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)  # "fast" shutdown
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.05)

    def freeze(self) -> None:
        pid = self.postmaster_pid()
        assert pid is not None
        for member in process_tree(pid):
            with suppress(ProcessLookupError):
                os.kill(member, signal.SIGSTOP)

    def thaw(self) -> None:
        pid = self.postmaster_pid()
        if pid is None:
            return
        for member in process_tree(pid):
            with suppress(ProcessLookupError):
                os.kill(member, signal.SIGCONT)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        import psycopg2

        connection = psycopg2.connect(
            host="127.0.0.1",
            port=self.port,
            user="postgres",
            dbname="movierec_faults",
            connect_timeout=5,
        )
        try:
            with connection, connection.cursor() as cursor:
                cursor.execute(sql)
                return list(cursor.fetchall()) if cursor.description else []
        finally:
            connection.close()


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run ``manage.py`` with ``env``; its stdout. Fails the test on a non-zero exit."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        pytest.fail(f"manage.py {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result.stdout


@contextmanager
def gunicorn(env: dict[str, str], *, log: Path, workers: int = 2) -> Iterator[str]:
    port = free_port()
    with log.open("ab") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "movierec.wsgi"],
            cwd=ROOT,
            env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": str(workers)},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        wait_for_port(port, seconds=30)
        yield f"127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


@dataclass(frozen=True, slots=True)
class Result:
    phase: str
    endpoint: str
    status: int  # 0: no answer (timeout, connection error)
    seconds: float
    started: float


def request(
    address: str,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    token: str | None = None,
    *,
    timeout: float = 10,
    connection: http.client.HTTPConnection | None = None,
) -> tuple[int, Any, dict[str, str]]:
    """(status, decoded JSON body or None, headers); raises OSError when nothing answers."""
    own = connection is None
    host, port = address.split(":")
    conn = connection or http.client.HTTPConnection(host, int(port), timeout=timeout)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(
            method, path, body=json.dumps(body) if body is not None else None, headers=headers
        )
        response = conn.getresponse()
        raw = response.read()
        try:
            decoded = json.loads(raw) if raw else None
        except ValueError:
            decoded = raw.decode(errors="replace")
        return response.status, decoded, dict(response.getheaders())
    finally:
        if own:
            conn.close()


PROFILE = {"age": 35, "gender": "F", "occupation": "engineer", "limit": 5}


@dataclass
class Load:
    """Bounded load on one server: recommend (2 connections), authenticate, /healthz and
    /readyz, each paced; every answer recorded with the phase it started in."""

    address: str
    token: str
    raw_key: str
    phase: str = "before"
    results: list[Result] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        plans = [
            ("recommend", "POST", "/api/recommend", PROFILE, self.token, 0.01),
            ("recommend", "POST", "/api/recommend", PROFILE, self.token, 0.01),
            ("authenticate", "POST", "/api/authenticate", {"key": self.raw_key}, None, 0.1),
            ("healthz", "GET", "/healthz", None, None, 0.05),
            ("readyz", "GET", "/readyz", None, None, 0.25),
        ]
        for plan in plans:
            thread = threading.Thread(target=self._loop, args=plan, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def _loop(
        self, endpoint: str, method: str, path: str, body: Any, token: str | None, pause: float
    ) -> None:
        host, port = self.address.split(":")
        conn: http.client.HTTPConnection | None = None
        while not self._stop.is_set():
            phase = self.phase
            started = time.monotonic()
            if conn is None:
                conn = http.client.HTTPConnection(host, int(port), timeout=10)
            try:
                status, _, _ = request(self.address, method, path, body, token, connection=conn)
            except (OSError, http.client.HTTPException):
                status = 0
                conn.close()
                conn = None
            elapsed = time.monotonic() - started
            with self._lock:
                self.results.append(Result(phase, endpoint, status, elapsed, started))
            time.sleep(pause)
        if conn is not None:
            conn.close()

    def counts(self, phase: str, endpoint: str) -> Counter[int]:
        with self._lock:
            return Counter(
                r.status for r in self.results if (r.phase, r.endpoint) == (phase, endpoint)
            )

    def latencies(self, phase: str, endpoint: str) -> list[float]:
        with self._lock:
            return sorted(
                r.seconds for r in self.results if (r.phase, r.endpoint) == (phase, endpoint)
            )

    def successes(self, endpoint: str) -> int:
        with self._lock:
            return sum(1 for r in self.results if r.endpoint == endpoint and r.status == 200)

    def summary(self, phases: tuple[str, ...]) -> str:
        lines = []
        for phase in phases:
            parts = []
            for endpoint in ("recommend", "authenticate", "healthz", "readyz"):
                counts = self.counts(phase, endpoint)
                lat = self.latencies(phase, endpoint)
                if not lat:
                    continue
                p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
                statuses = " ".join(f"{s}x{n}" for s, n in sorted(counts.items()))
                parts.append(
                    f"{endpoint} [{statuses}] p50 {statistics.median(lat) * 1000:.0f} ms "
                    f"p99 {p99 * 1000:.0f} ms max {lat[-1] * 1000:.0f} ms"
                )
            lines.append(f"  {phase:>7}: " + "; ".join(parts))
        return "\n".join(lines)


def p99(values: list[float]) -> float:
    return values[min(len(values) - 1, int(len(values) * 0.99))] if values else 0.0
