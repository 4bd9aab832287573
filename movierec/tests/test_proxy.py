"""Slow clients: behind nginx (deploy/nginx.conf) they cannot stall the service; without it they do.

A live gunicorn under gunicorn.conf.py's defaults, on the test database and Redis, and
Debian's nginx in front of it with the deployed config. While 10 clients send their headers
one line every 2 s and 2 send their bodies one byte every 2 s, for 20 s, 4 normal clients
keep asking for recommendations and probes: through nginx at least 95 % of them succeed and
p99 stays under 1 s. The same attack straight at gunicorn holds every thread, and the normal
clients time out: that is what the proxy is for.
"""

from __future__ import annotations

import http.client
import json
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from accounts.services import api_key_create
from movierec.tests.live import gunicorn_server, nginx_proxy, post_json
from recommender.services import model_train
from recommender.tests.conftest import build_catalogue

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ATTACK_SECONDS = 20
HEADER_DRIBBLERS = 10
BODY_DRIBBLERS = 2
NORMAL_CLIENTS = 4
DRIBBLE_EVERY = 2.0
CLIENT_TIMEOUT = 5.0
PROFILE = {"age": 35, "gender": "F", "occupation": "engineer", "limit": 5}


@dataclass
class Outcome:
    ok: int
    failed: int
    latencies: list[float]

    @property
    def success(self) -> float:
        return self.ok / max(1, self.ok + self.failed)

    @property
    def p99(self) -> float:
        if len(self.latencies) < 2:
            return float("inf")
        return statistics.quantiles(self.latencies, n=100)[98]


def _dribble(address: tuple[str, int], stop: threading.Event, *, body: bool) -> None:
    """One slow client: an incomplete request, one more line (or body byte) every 2 s."""
    host = f"{address[0]}:{address[1]}"
    while not stop.is_set():
        try:
            with socket.create_connection(address, timeout=CLIENT_TIMEOUT) as sock:
                if body:
                    sock.sendall(
                        f"POST /api/authenticate HTTP/1.1\r\nHost: {host}\r\n"
                        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{".encode()
                    )
                else:
                    sock.sendall(f"POST /api/recommend HTTP/1.1\r\nHost: {host}\r\n".encode())
                while not stop.wait(DRIBBLE_EVERY):
                    sock.sendall(b" " if body else b"X-Slow: 1\r\n")
        except OSError:
            stop.wait(0.2)  # closed by the server: come back, as an attacker would


def _normal(base: str, token: str, stop: threading.Event, outcome: Outcome) -> None:
    split = urlsplit(base)
    body = json.dumps(PROFILE)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    turn = 0
    while not stop.is_set():
        turn += 1
        started = time.monotonic()
        connection = http.client.HTTPConnection(
            split.hostname or "127.0.0.1", split.port, timeout=CLIENT_TIMEOUT
        )
        try:
            if turn % 4 == 0:
                connection.request("GET", "/healthz")
            else:
                connection.request("POST", "/api/recommend", body=body, headers=headers)
            status = connection.getresponse().status
        except OSError:
            status = 0
        finally:
            connection.close()
        elapsed = time.monotonic() - started
        if status == 200:
            outcome.ok += 1
            outcome.latencies.append(elapsed)
        else:
            outcome.failed += 1
            outcome.latencies.append(max(elapsed, CLIENT_TIMEOUT))
        time.sleep(0.05)


def _under_attack(base: str, token: str) -> Outcome:
    split = urlsplit(base)
    address = (split.hostname or "127.0.0.1", split.port or 80)
    stop = threading.Event()
    outcome = Outcome(ok=0, failed=0, latencies=[])
    threads = [
        threading.Thread(target=_dribble, args=(address, stop), kwargs={"body": i < BODY_DRIBBLERS})
        for i in range(HEADER_DRIBBLERS + BODY_DRIBBLERS)
    ]
    for thread in threads:
        thread.start()
    time.sleep(1)  # every slow client has its connection open
    normal = [
        threading.Thread(target=_normal, args=(base, token, stop, outcome))
        for _ in range(NORMAL_CLIENTS)
    ]
    for thread in normal:
        thread.start()
    time.sleep(ATTACK_SECONDS)
    stop.set()
    for thread in threads + normal:
        thread.join(timeout=CLIENT_TIMEOUT + 5)
    return outcome


@pytest.fixture
def token_and_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    build_catalogue()
    assert model_train(seed=42).activated
    _key, raw = api_key_create(name="slow clients")
    with gunicorn_server(workers=2, metrics_dir=tmp_path / "metrics") as (base, _pid):
        status, body = post_json(f"{base}/api/authenticate", {"key": raw})
        assert status == 200
        yield body["token"], base


def test_if_clients_dribble_behind_nginx_then_normal_requests_keep_answering(
    token_and_server: tuple[str, str], tmp_path: Path
) -> None:
    token, upstream = token_and_server
    with nginx_proxy(upstream=urlsplit(upstream).netloc, workdir=tmp_path / "nginx") as proxy:
        assert post_json(f"{proxy}/api/recommend", PROFILE, token)[0] == 200
        outcome = _under_attack(proxy, token)

    print(f"behind nginx: {outcome.ok} ok, {outcome.failed} failed, p99 {outcome.p99:.3f} s")
    assert outcome.ok >= 50
    assert outcome.success >= 0.95
    assert outcome.p99 < 1.0


def test_if_clients_dribble_straight_at_gunicorn_then_normal_requests_stall(
    token_and_server: tuple[str, str],
) -> None:
    token, base = token_and_server
    outcome = _under_attack(base, token)

    print(f"bare gunicorn: {outcome.ok} ok, {outcome.failed} failed, p99 {outcome.p99:.3f} s")
    assert outcome.success < 0.95 or outcome.p99 >= 1.0


def test_if_body_is_over_the_limit_then_nginx_answers_413_in_the_error_shape(
    token_and_server: tuple[str, str], tmp_path: Path
) -> None:
    token, upstream = token_and_server
    with nginx_proxy(upstream=urlsplit(upstream).netloc, workdir=tmp_path / "nginx") as proxy:
        split = urlsplit(proxy)
        connection = http.client.HTTPConnection(
            split.hostname or "127.0.0.1", split.port, timeout=10
        )
        body = json.dumps({**PROFILE, "pad": "x" * 20_000})
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        connection.request("POST", "/api/recommend", body=body, headers=headers)
        response = connection.getresponse()
        payload = json.loads(response.read())
        connection.close()

    assert response.status == 413
    assert response.getheader("Content-Type") == "application/json"
    assert payload == {
        "detail": "Request body is larger than 16384 bytes.",
        "code": "request_too_large",
    }
