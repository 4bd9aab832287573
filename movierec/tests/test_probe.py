"""The liveness probe the image's HEALTHCHECK uses passes whatever the hosts and the bind are.

/healthz is answered before host validation and the HTTPS redirect (a constant answer that
never reads the Host header); everything else, /readyz included, is validated as before.
`python -m movierec.healthcheck` probes the address in GUNICORN_BIND.
"""

from __future__ import annotations

import http.server
import os
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from movierec.healthcheck import connection_for
from movierec.tests.live import ROOT, gunicorn_server

pytestmark = pytest.mark.django_db


@pytest.fixture
def production_hosts(settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["movierec.example.com"]


def test_if_the_host_is_not_allowed_then_healthz_still_answers(production_hosts: None) -> None:
    response = Client().get("/healthz", HTTP_HOST="127.0.0.1:8000")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert len(response["X-Request-ID"]) == 32


def test_if_the_host_is_not_allowed_then_head_healthz_answers(production_hosts: None) -> None:
    assert Client().head("/healthz", HTTP_HOST="10.1.2.3").status_code == 200


def test_if_the_host_is_not_allowed_then_readyz_is_refused(production_hosts: None) -> None:
    assert Client().get("/readyz", HTTP_HOST="127.0.0.1:8000").status_code == 400


def test_if_the_host_is_not_allowed_then_post_healthz_is_refused(production_hosts: None) -> None:
    assert Client().post("/healthz", HTTP_HOST="127.0.0.1:8000").status_code == 400


def test_if_https_redirect_is_on_then_healthz_answers_over_http(settings: Any) -> None:
    settings.SECURE_SSL_REDIRECT = True

    assert Client().get("/healthz").status_code == 200
    assert Client().get("/readyz").status_code == 301


def test_if_the_host_is_allowed_then_other_paths_work_as_before(production_hosts: None) -> None:
    response = Client().get("/healthz/", HTTP_HOST="movierec.example.com")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("bind", "host", "port"),
    [
        ("0.0.0.0:8000", "127.0.0.1", 8000),
        (":9000", "127.0.0.1", 9000),
        ("127.0.0.1:18000", "127.0.0.1", 18000),
        ("10.0.0.7:80", "10.0.0.7", 80),
        ("[::]:8080", "::1", 8080),
        ("[::1]:8081", "::1", 8081),
        ("localhost", "localhost", 8000),
        ("", "127.0.0.1", 8000),
    ],
)
def test_if_gunicorn_binds_an_address_then_the_probe_connects_to_it(
    bind: str, host: str, port: int
) -> None:
    connection = connection_for(bind)
    assert (connection.host, connection.port) == (host, port)


def test_if_the_bind_is_a_bare_ipv6_address_then_the_probe_says_how_to_write_it() -> None:
    with pytest.raises(ValueError, match=r"write an IPv6 address as \[addr\]:port"):
        connection_for("::1:8000")


def _healthcheck(bind: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "movierec.healthcheck"],
        cwd=ROOT,
        env={**os.environ, "GUNICORN_BIND": bind},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


class _Healthz(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class _UnixServer(socketserver.UnixStreamServer):
    def get_request(self) -> tuple[Any, Any]:
        request, _ = super().get_request()
        return request, ("unix", 0)  # BaseHTTPRequestHandler wants a (host, port) pair


@pytest.fixture
def unix_socket_server(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "gunicorn.sock"
    server = _UnixServer(str(path), _Healthz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        server.shutdown()
        server.server_close()


def test_if_gunicorn_binds_a_unix_socket_then_the_probe_speaks_http_over_it(
    unix_socket_server: Path,
) -> None:
    result = _healthcheck(f"unix:{unix_socket_server}")
    assert (result.returncode, result.stderr) == (0, "")


def test_if_nothing_listens_then_the_healthcheck_fails_and_says_where(tmp_path: Path) -> None:
    result = _healthcheck(f"unix:{tmp_path / 'none.sock'}")
    assert result.returncode == 1
    assert result.stderr.startswith(f"healthcheck: unix:{tmp_path / 'none.sock'}: ")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_if_hosts_and_https_are_production_ones_then_the_healthcheck_passes_on_gunicorn(
    tmp_path: Path,
) -> None:
    production = {
        "DJANGO_ALLOWED_HOSTS": "movierec.example.com",
        "DJANGO_SECURE_SSL_REDIRECT": "1",
    }
    with gunicorn_server(workers=1, metrics_dir=tmp_path / "m", env=production) as (base, _):
        bind = base.removeprefix("http://")
        result = _healthcheck(bind)
        assert (result.returncode, result.stderr) == (0, "")
        port = int(bind.rsplit(":", 1)[1])
        wildcard = _healthcheck(f"0.0.0.0:{port}")
        assert (wildcard.returncode, wildcard.stderr) == (0, "")
