"""Fault suite (`make test-faults`): a live gunicorn under a bounded load while Redis and
Postgres are stopped or frozen, keys are revoked during outages, and uses are counted.

Starts its own redis-server and Postgres cluster on free loopback ports (never the shared
ones), a 2-worker gunicorn on them with the tiny data set and a trained model, then injects
each fault and asserts the status counts before, during and after it, how fast revocation
is honoured, and that no key use is lost. Prints the figures (the README's failure modes).
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from movierec.tests.faults import (
    PROFILE,
    ROOT,
    Load,
    Postgres,
    Redis,
    gunicorn,
    manage,
    p99,
    request,
)

pytestmark = pytest.mark.faults

STATE_TTL = 2  # API_KEY_STATE_TTL for the suite's server: short, so revocation tests are quick
PHASES = ("before", "during", "after")


@dataclass
class Stack:
    redis: Redis
    postgres: Postgres
    env: dict[str, str]
    address: str
    token: str
    raw_key: str
    uses: int = 0  # uses of the load's key the server answered 200 for

    def new_key(self, name: str) -> tuple[str, str]:
        """(prefix, raw key) of a fresh key, made by the management command."""
        raw = manage(self.env, "create_api_key", name).strip().splitlines()[-1]
        return raw.partition(".")[0], raw

    def token_for(self, raw_key: str) -> str:
        status, body, _ = request(self.address, "POST", "/api/authenticate", {"key": raw_key})
        assert status == 200, body
        return str(body["token"])

    def use_count(self, prefix: str) -> tuple[int, datetime | None]:
        rows = self.postgres.query(
            f"SELECT use_count, last_used_at FROM accounts_apikey WHERE prefix = '{prefix}'"  # noqa: S608
        )
        return rows[0][0], rows[0][1]


def report(capsys: pytest.CaptureFixture[str], title: str, text: str) -> None:
    with capsys.disabled():
        print(f"\n[faults] {title}\n{text}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    redis, postgres = Redis(), Postgres()
    try:
        redis.start()
        postgres.start()
        postgres._run(
            "createdb",
            "-h",
            "127.0.0.1",
            "-p",
            str(postgres.port),
            "-U",
            "postgres",
            "movierec_faults",
        )
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DATABASE_", "REDIS_", "DJANGO_", "API_KEY_", "GUNICORN_"))
        }
        env.update(
            DATABASE_URL=postgres.url,
            REDIS_URL=redis.url,
            DJANGO_SECRET_KEY=secrets.token_urlsafe(48),
            DJANGO_ALLOWED_HOSTS="127.0.0.1",
            DJANGO_DEBUG="0",
            API_KEY_STATE_TTL=str(STATE_TTL),
            AUTH_THROTTLE_RATE="1000000/min",
            ACCESS_LOG="0",
            LOG_LEVEL="WARNING",
            PROMETHEUS_MULTIPROC_DIR=str(tmp_path_factory.mktemp("metrics")),
            MOVIELENS_SOURCE=str(ROOT / "fixtures" / "movielens_tiny"),
            RECOMMENDER_GATE_MARGIN="-1",  # the tiny data set: any model serves
        )
        manage(env, "migrate", "--no-input")
        manage(env, "ingest_movielens")
        manage(env, "train_model")
        raw = manage(env, "create_api_key", "fault load").strip().splitlines()[-1]
        log = Path(os.environ.get("FAULTS_LOG", tmp_path_factory.mktemp("log") / "gunicorn.log"))
        with gunicorn(env, log=log) as address:
            stack = Stack(redis, postgres, env, address, token="", raw_key=raw)
            stack.token = stack.token_for(raw)
            stack.uses = 1
            yield stack
    finally:
        redis.stop()
        postgres.remove()


def warm(stack: Stack) -> None:
    """Have every worker serve the load's token, so each holds its key state: a process keeps
    serving through a database outage only the keys whose state it read recently."""
    threads = [
        threading.Thread(
            target=lambda: [
                request(stack.address, "POST", "/api/recommend", PROFILE, stack.token)
                for _ in range(40)
            ]
        )
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stack.uses += 8 * 40


def run_fault(stack: Stack, *, before: float, during: float, after: float, inject, heal) -> Load:  # type: ignore[no-untyped-def]
    warm(stack)
    load = Load(stack.address, stack.token, stack.raw_key)
    load.start()
    try:
        time.sleep(before)
        load.phase = "during"
        inject()
        time.sleep(during)
        heal()
        load.phase = "after"
        time.sleep(after)
    finally:
        load.stop()
    stack.uses += load.successes("recommend") + load.successes("authenticate")
    return load


def assert_all_ok(load: Load, phase: str, *endpoints: str) -> None:
    for endpoint in endpoints:
        counts = load.counts(phase, endpoint)
        assert set(counts) == {200}, f"{phase} {endpoint}: {dict(counts)}"


def test_if_redis_stops_then_every_request_is_still_answered(stack, capsys):  # type: ignore[no-untyped-def]
    load = run_fault(
        stack, before=2, during=10, after=3, inject=stack.redis.stop, heal=stack.redis.start
    )
    report(capsys, "Redis stopped for 10 s", load.summary(PHASES))

    for phase in PHASES:
        assert_all_ok(load, phase, "recommend", "authenticate", "healthz", "readyz")
    assert p99(load.latencies("during", "recommend")) < 0.5
    assert sum(load.counts("during", "recommend").values()) > 50


def test_if_redis_hangs_then_no_request_waits_for_it(stack, capsys):  # type: ignore[no-untyped-def]
    load = run_fault(
        stack, before=2, during=8, after=3, inject=stack.redis.freeze, heal=stack.redis.thaw
    )
    report(capsys, "Redis hung (SIGSTOP) for 8 s", load.summary(PHASES))

    for phase in PHASES:
        assert_all_ok(load, phase, "recommend", "authenticate", "healthz", "readyz")
    # A 100 ms socket timeout at most once per process per breaker period (2 s).
    assert p99(load.latencies("during", "recommend")) < 0.5
    assert max(load.latencies("during", "healthz")) < 1.0


def _assert_database_outage(load: Load) -> None:
    assert_all_ok(load, "before", "recommend", "authenticate", "healthz", "readyz")
    # Scoring needs no database: tokens whose key state is held keep being served.
    assert_all_ok(load, "during", "recommend", "healthz")
    assert set(load.counts("during", "authenticate")) <= {200, 503}
    assert load.counts("during", "authenticate")[503] > 0
    assert set(load.counts("during", "readyz")) <= {200, 503}
    assert load.counts("during", "readyz")[503] > 0
    assert_all_ok(load, "after", "recommend", "healthz")


def test_if_postgres_stops_then_recommend_serves_and_the_rest_is_503(stack, capsys):  # type: ignore[no-untyped-def]
    status, body, headers = None, None, dict[str, str]()

    def stop() -> None:
        nonlocal status, body, headers
        stack.postgres.stop()
        status, body, headers = request(
            stack.address, "POST", "/api/authenticate", {"key": stack.raw_key}
        )

    load = run_fault(stack, before=2, during=6, after=4, inject=stop, heal=stack.postgres.start)
    report(capsys, "Postgres stopped for 6 s", load.summary(PHASES))

    assert (status, body) == (
        503,
        {
            "detail": "The database is unavailable; try again shortly.",
            "code": "database_unavailable",
        },
    )
    assert headers.get("Retry-After") == "5"
    _assert_database_outage(load)
    # Back within a breaker period and a reconnect, with no restart.
    assert load.counts("after", "authenticate")[200] > 0
    late = [
        r for r in load.results if r.phase == "after" and r.started > load.results[-1].started - 2
    ]
    assert all(r.status == 200 for r in late)


def test_if_postgres_freezes_then_nothing_hangs(stack, capsys):  # type: ignore[no-untyped-def]
    load = run_fault(
        stack, before=2, during=8, after=5, inject=stack.postgres.freeze, heal=stack.postgres.thaw
    )
    report(capsys, "Postgres frozen (SIGSTOP) for 8 s", load.summary(PHASES))

    _assert_database_outage(load)
    assert all(r.status != 0 for r in load.results), "a request got no answer"
    # Connect timeout 2 s, statement watchdog 3 s: nothing waits longer than that (plus
    # queueing behind it in a worker).
    assert max(load.latencies("during", "authenticate")) < 6.5
    assert max(load.latencies("during", "healthz")) < 6.5
    assert p99(load.latencies("during", "recommend")) < 6.5


def _refusal_timing(
    stack: Stack, token: str, *, seconds: float
) -> tuple[float | None, dict[int, int]]:
    """Hammer with ``token`` from 4 connections for ``seconds``: (seconds after the start of
    the last 200 answer or None, status counts)."""
    start = time.monotonic()
    last_ok: list[float] = []
    counts: dict[int, int] = {}
    lock = threading.Lock()

    def hammer() -> None:
        while time.monotonic() - start < seconds:
            sent = time.monotonic()
            status, _, _ = request(stack.address, "POST", "/api/recommend", PROFILE, token)
            with lock:
                counts[status] = counts.get(status, 0) + 1
                if status == 200:
                    last_ok.append(sent - start)
            time.sleep(0.005)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return (max(last_ok) if last_ok else None), counts


def test_if_revoked_with_redis_up_then_refused_at_once_on_every_worker(stack, capsys):  # type: ignore[no-untyped-def]
    prefix, raw = stack.new_key("revoked live")
    token = stack.token_for(raw)
    _refusal_timing(stack, token, seconds=1)  # both workers now hold the key's state

    manage(stack.env, "revoke_api_key", prefix)
    last_ok, counts = _refusal_timing(stack, token, seconds=2)
    report(
        capsys,
        "revoke with Redis up",
        f"  after the command exited: {counts}, last 200 at {last_ok}",
    )

    assert last_ok is None
    assert set(counts) == {401}


def test_if_revoked_while_redis_is_down_then_refused_within_the_ttl_and_for_good(stack, capsys):  # type: ignore[no-untyped-def]
    prefix, raw = stack.new_key("revoked in outage")
    token = stack.token_for(raw)
    _refusal_timing(stack, token, seconds=1)
    stack.redis.stop()
    try:
        output = manage(stack.env, "revoke_api_key", prefix)
        last_ok, counts = _refusal_timing(stack, token, seconds=STATE_TTL + 1.5)
    finally:
        stack.redis.start()
    _, counts_back = _refusal_timing(stack, token, seconds=3)
    report(
        capsys,
        "revoke while Redis is down",
        f"  during: {counts}, last 200 {last_ok} s after the command; Redis back: {counts_back}",
    )

    assert f"prefix {prefix}" in output
    assert last_ok is None or last_ok <= STATE_TTL + 0.3
    assert set(counts_back) == {401}  # never works again, also with Redis back
    assert stack.token_for(stack.raw_key)  # the other keys are unaffected
    stack.uses += 1


def test_if_key_used_2000_times_then_revoked_then_the_count_is_exact(stack, capsys):  # type: ignore[no-untyped-def]
    prefix, raw = stack.new_key("counted")
    token = stack.token_for(raw)  # use 1
    remaining = iter(range(1999))
    lock = threading.Lock()
    statuses: dict[int, int] = {}

    def use() -> None:
        while True:
            with lock:
                if next(remaining, None) is None:
                    return
            status, _, _ = request(stack.address, "POST", "/api/recommend", PROFILE, token)
            with lock:
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    last_use = datetime.now(tz=UTC)
    manage(stack.env, "revoke_api_key", prefix)
    revoked_at = datetime.now(tz=UTC)
    deadline = time.monotonic() + 3
    count, last_used = stack.use_count(prefix)
    while count < 2000 and time.monotonic() < deadline:
        time.sleep(0.1)
        count, last_used = stack.use_count(prefix)
    report(
        capsys,
        "2,000 uses then revoke",
        f"  statuses {statuses}, use_count {count}, last_used {last_used}",
    )

    assert statuses == {200: 1999}
    assert count == 2000
    assert last_used is not None
    assert last_use.timestamp() - 5 <= last_used.timestamp() <= revoked_at.timestamp()


def test_no_use_of_the_load_key_was_lost(stack, capsys):  # type: ignore[no-untyped-def]
    time.sleep(1.5)  # one flush period
    count, _ = stack.use_count(stack.raw_key.partition(".")[0])
    report(
        capsys,
        "uses of the load key through every fault",
        f"  answered 200: {stack.uses}, use_count {count}",
    )

    assert count == stack.uses


def test_if_workers_stop_then_their_pending_uses_are_written(stack, capsys, tmp_path: Path):  # type: ignore[no-untyped-def]
    prefix, raw = stack.new_key("shutdown")
    env = {
        **stack.env,
        "API_KEY_USAGE_FLUSH_SECONDS": "3600",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }
    with gunicorn(env, log=tmp_path / "gunicorn.log") as address:
        status, body, _ = request(address, "POST", "/api/authenticate", {"key": raw})
        assert status == 200
        for _ in range(299):
            assert request(address, "POST", "/api/recommend", PROFILE, body["token"])[0] == 200
        assert stack.use_count(prefix)[0] == 0  # nothing written yet: an hour's flush period
    count, _ = stack.use_count(prefix)
    report(capsys, "worker shutdown", f"  300 uses, use_count after SIGTERM {count}")

    assert count == 300
