"""The image's HEALTHCHECK: ``python -m movierec.healthcheck`` exits 0 when /healthz answers 200.

Probes the address gunicorn binds (GUNICORN_BIND, as gunicorn.conf.py reads it: ``host:port``,
``[v6]:port`` or ``unix:/path``), so changing the bind cannot make the container unhealthy.
Standard library only and no Django import: it runs every few seconds. /healthz is answered
before host validation (movierec.health.LivenessProbeMiddleware), so DJANGO_ALLOWED_HOSTS does
not matter either. Redirects are not followed.
"""

from __future__ import annotations

import http.client
import os
import socket
import sys

DEFAULT_BIND = "0.0.0.0:8000"
_ANY = {"", "0.0.0.0", "*"}  # noqa: S104 (names the wildcard, binds nothing)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def connection_for(bind: str, *, timeout: float = 2.0) -> http.client.HTTPConnection:
    """An HTTP connection to the server that binds ``bind`` (wildcards become loopback)."""
    bind = bind.strip() or DEFAULT_BIND
    if bind.startswith("unix:"):
        return _UnixConnection(bind[len("unix:") :], timeout)
    if bind.startswith("["):
        host, _, rest = bind[1:].partition("]")
        port = rest.lstrip(":") or "8000"
        host = "::1" if host in ("", "::") else host
    elif bind.count(":") == 1 or ":" not in bind:
        host, _, port = bind.partition(":")
        port = port or "8000"
        host = "127.0.0.1" if host in _ANY else host
    else:
        raise ValueError(f"cannot probe {bind!r}: write an IPv6 address as [addr]:port")
    return http.client.HTTPConnection(host, int(port), timeout=timeout)


def main() -> int:
    bind = os.environ.get("GUNICORN_BIND", DEFAULT_BIND)
    try:
        connection = connection_for(bind)
        connection.request("GET", "/healthz", headers={"User-Agent": "movierec-healthcheck"})
        status = connection.getresponse().status
    except (OSError, ValueError, http.client.HTTPException) as exc:
        print(f"healthcheck: {bind}: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"healthcheck: {bind}: /healthz answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
