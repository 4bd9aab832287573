"""Fuzz the running API with schemathesis against its own OpenAPI schema: zero server errors.

    python benchmarks/fuzz_api.py [--max-examples 1000] [--seed N] [--workers 2] [-- ST_ARGS...]

Builds a throw-away deployment: a scratch database (with DATABASE_URL pointing at Postgres,
`<its name>_fuzz_<pid>_<random>` on the same server, dropped at the end; otherwise a SQLite
file in a temporary folder), migrated and loaded with `fixtures/movielens_tiny`, a model
trained on it (the gate margin lowered so the tiny model activates), an API key; then
gunicorn on a free 127.0.0.1 port, a bearer token, and `schemathesis run` on `/api/schema/`
with every check that applies to this API (server errors, status codes, content types,
headers and bodies against the schema, valid data accepted, invalid data rejected, missing
or ignored auth, unsupported methods with `Allow`).
Stops the server by its PID and exits with schemathesis's status. With REDIS_URL set, the
server shares that Redis under a cache key prefix of its own, whose keys are deleted at the
end. Two runs at once on one Postgres and one Redis do not meet.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "fixtures" / "movielens_tiny"
# Every check that applies to two POST operations. Left out only the stateful ones
# (use_after_free, ensure_resource_availability, object_level_authorization): they need
# resources linked to each other, which this API does not have.
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "missing_required_header",
    "ignored_auth",
    "unsupported_method",
    "allow_header_conformance",
)


# Schema-valid bodies /api/recommend and /api/feedback must still refuse with a 400: a title
# or MovieLens id the catalogue does not hold, released_from after released_to, offset +
# limit over 500.
# OpenAPI cannot state those rules, so for this one operation a 400 on generated "valid"
# data is accepted; schema-invalid data must still be rejected (negative_data_rejection).
SCHEMATHESIS_CONFIG = """
[[operations]]
include-path = "/api/recommend"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404"]

[[operations]]
include-path = "/api/feedback"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "429"]
"""


@contextmanager
def scratch_database() -> Iterator[str]:
    """Yield a DATABASE_URL for an empty database of this run's own, removed afterwards."""
    url = os.environ.get("DATABASE_URL", "")
    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql", "pgsql"):
        with tempfile.TemporaryDirectory(prefix="movierec-fuzz-db-") as folder:
            yield f"sqlite:///{folder}/fuzz.sqlite3"
        return
    import psycopg2

    base = parsed.path.lstrip("/") or "movierec"
    name = f"{base}_fuzz_{os.getpid()}_{secrets.token_hex(3)}"[:63]
    admin = psycopg2.connect(urlunparse(parsed._replace(path="/postgres", query="")))
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        try:
            yield urlunparse(parsed._replace(path=f"/{name}"))
        finally:
            with admin.cursor() as cursor:
                # The name is this run's alone, so forcing out stray connections is safe.
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


@contextmanager
def scratch_cache_prefix() -> Iterator[str]:
    """A cache key prefix of this run's own; its keys leave Redis (REDIS_URL) at the end."""
    prefix = f"movierec-fuzz-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        yield prefix
    finally:
        redis_url = os.environ.get("REDIS_URL")
        if redis_url:
            import redis

            client = redis.Redis.from_url(redis_url)
            keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
            for start in range(0, len(keys), 500):
                client.delete(*keys[start : start + 500])
            client.close()


def _free_port() -> int:
    # TEST_SERVER_PORTS=LOW-HIGH keeps the server in a range (a shared machine), else any.
    low, _, high = os.environ.get("TEST_SERVER_PORTS", "0-0").partition("-")
    for port in range(int(low), int(high or low) + 1):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise SystemExit(f"no free port in TEST_SERVER_PORTS={low}-{high}")


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"manage.py {' '.join(args)} failed with exit status {result.returncode}")
    return result.stdout


def _wait_ready(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            sys.stderr.write(log.read_text(errors="replace")[-4000:])
            raise SystemExit(f"the server at {base} did not become ready")
        time.sleep(0.3)


def _token(base: str, key: str) -> str:
    request = urllib.request.Request(  # noqa: S310 (loopback only)
        f"{base}/api/authenticate",
        data=json.dumps({"key": key}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return str(json.loads(response.read())["token"])


def _server_errors(log: Path) -> list[str]:
    """Lines the server logged at ERROR or above (tracebacks of 500s, worker crashes)."""
    errors = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            if "Traceback" in line or "[CRITICAL]" in line or "[ERROR]" in line:
                errors.append(line)
            continue
        if isinstance(record, dict) and record.get("level") in ("ERROR", "CRITICAL"):
            errors.append(line[:2000])
    return errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # 1000: about 1,100 cases in about a minute of fuzzing (1.5 min with the set-up), 3.5x
    # the 310 cases of 200, within the CI budget of 3 minutes for this step.
    parser.add_argument("--max-examples", type=int, default=1000, help="per operation and phase")
    parser.add_argument("--seed", type=int, default=None, help="reproduce an earlier run")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--port", type=int, default=0, help="127.0.0.1 port (default: a free one)")
    parser.add_argument("extra", nargs="*", help="more `schemathesis run` options, after --")
    args = parser.parse_args()
    schemathesis = Path(sys.executable).with_name("schemathesis")
    if not schemathesis.exists():
        print("schemathesis is not installed: pip install -r requirements-dev.txt", file=sys.stderr)
        return 2

    with (
        scratch_database() as database_url,
        scratch_cache_prefix() as cache_prefix,
        tempfile.TemporaryDirectory(prefix="movierec-fuzz-") as folder,
    ):
        port = args.port or _free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "CACHE_KEY_PREFIX": cache_prefix,
            "RECOMMENDER_GATE_MARGIN": "-1",
            "AUTH_THROTTLE_RATE": "100000/min",
            "FEEDBACK_RATE": "100000/min",
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_WORKERS": str(args.workers),
            "PROMETHEUS_MULTIPROC_DIR": str(Path(folder) / "prometheus"),
        }
        env.pop("JWT_SIGNING_KEY", None)
        print(f"database: {urlparse(database_url).scheme} {urlparse(database_url).path}")
        _manage(env, "migrate", "--no-input", "-v", "0")
        _manage(env, "ingest_movielens", "--source", str(TINY))
        print(_manage(env, "train_model", "--seed", "42").strip().splitlines()[-1])
        key = _manage(env, "create_api_key", "fuzz").strip().splitlines()[-1]

        log = Path(folder) / "server.log"
        with log.open("wb") as sink:
            server = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "movierec.wsgi"],
                cwd=ROOT,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            _wait_ready(base, server, log)
            token = _token(base, key)
            command = [
                str(schemathesis),
                "run",
                f"{base}/api/schema/",
                "--url",
                base,
                "--header",
                f"Authorization: Bearer {token}",
                "--checks",
                ",".join(CHECKS),
                "--phases",
                "examples,coverage,fuzzing",
                "--max-examples",
                str(args.max_examples),
                "--request-timeout",
                "10",
                "--workers",
                "2",
                "--no-color",
            ]
            if args.seed is not None:
                command += ["--seed", str(args.seed)]
            command += args.extra
            # schemathesis reads schemathesis.toml from its working directory.
            (Path(folder) / "schemathesis.toml").write_text(SCHEMATHESIS_CONFIG, "utf-8")
            print(f"schemathesis against {base}", flush=True)
            status = subprocess.run(command, cwd=folder, check=False, timeout=1800).returncode
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        errors = _server_errors(log)
        if errors:
            print(f"the server logged {len(errors)} error(s):", file=sys.stderr)
            for line in errors[:20]:
                print(f"  {line}", file=sys.stderr)
            status = status or 1
        return status


if __name__ == "__main__":
    sys.exit(main())
