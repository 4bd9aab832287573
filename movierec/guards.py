"""Project wiring: request-level guards that answer before any view reads the body.

On the API and the probes (`is_api_path`) every refusal is in the API's JSON error shape
(`movierec.exception_handler.error_body`), never one of Django's HTML pages:

- a ``Host`` not in ``ALLOWED_HOSTS``: 400 ``invalid_host`` (raised by Django's
  CommonMiddleware, answered by `bad_request`: checking it here again would double its cost);
- a ``Content-Length`` over ``API_MAX_BODY_BYTES``: 413 before a byte is read; a malformed
  one: 400;
- ``Transfer-Encoding: chunked`` (no length to check up front): the body is read here, at
  most one byte past the limit (413 past it), and handed on as an ordinary sized body; any
  other transfer coding: 411, asking for a length;
- CSRF failures, ``DisallowedHost``/``RequestDataTooBig`` raised later, and ``PermissionDenied``
  reach `bad_request`, `permission_denied` and `csrf_failure`, which answer in JSON there and
  with Django's own pages elsewhere (admin).

Admin logins: at most ``ADMIN_LOGIN_RATE`` POSTs to the login page per client address
(`AdminLoginThrottle`, 429 before the view runs), whatever the usernames. django-axes locks
a username out after a few failures, but each attempt on a new username still costs a
password hash, and a few guessers hashing flat out starve the API of CPU.

Also `client_ip`, the one rule for "which address is the client" (DRF's, driven by
``DJANGO_NUM_PROXIES``), shared by the throttles and the admin login lockout, and
`PostOnlyAPIView`, whose method check comes before authentication.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestDataTooBig
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse
from django.views import csrf, defaults
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle
from rest_framework.views import APIView

from movierec.exception_handler import error_response
from movierec.parsers import too_large_message

logger = logging.getLogger(__name__)

API_PREFIXES = ("/api/", "/healthz", "/readyz", "/metrics")
ADMIN_LOGIN_PATH = "/admin/login/"
_READ_CHUNK = 64 * 1024


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


class RequestGuardMiddleware:
    """Content-Length and Transfer-Encoding checks, before anything reads the body."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meta = request.META
        api = is_api_path(request.path_info)
        coding = meta.get("HTTP_TRANSFER_ENCODING")
        if coding is not None:
            limit = settings.API_MAX_BODY_BYTES if api else settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            refused = self._read_chunked(request, coding, limit, api=api)
            if refused is not None:
                return refused
        if not api and request.path_info == ADMIN_LOGIN_PATH and request.method == "POST":
            throttle = AdminLoginThrottle()
            if not throttle.allow_request(request, None):  # type: ignore[arg-type]
                wait = max(1, round(throttle.wait() or 1))
                return HttpResponse(
                    f"Too many login attempts from your address: try again in {wait} seconds.",
                    status=429,
                    content_type="text/plain; charset=utf-8",
                    headers={"Retry-After": str(wait)},
                )
        elif api and coding is None:
            declared = meta.get("CONTENT_LENGTH") or "0"
            if not declared.isdigit():
                return error_response(400, "Content-Length is not a number.", "invalid_length")
            if int(declared) > (limit := settings.API_MAX_BODY_BYTES):
                return error_response(413, too_large_message(limit), "request_too_large")
        return self.get_response(request)

    @staticmethod
    def _read_chunked(
        request: HttpRequest, coding: str, limit: int, *, api: bool
    ) -> HttpResponse | None:
        codings = [part.strip().lower() for part in coding.split(",") if part.strip()]
        if codings != ["chunked"]:
            return _refuse(
                api,
                411,
                "Send the body with a Content-Length, or with Transfer-Encoding: chunked alone.",
                "length_required",
            )
        stream = request.META["wsgi.input"]
        body = bytearray()
        while len(body) <= limit:
            chunk = stream.read(min(_READ_CHUNK, limit + 1 - len(body)))
            if not chunk:
                break
            body += chunk
        if len(body) > limit:
            return _refuse(api, 413, too_large_message(limit), "request_too_large")
        # From here on the body is an ordinary one of known length, for Django and DRF alike.
        request.META["CONTENT_LENGTH"] = str(len(body))
        request._stream = LimitedStream(io.BytesIO(bytes(body)), len(body))  # type: ignore[assignment]
        return None


def _refuse(api: bool, status: int, detail: str, code: str) -> HttpResponse:
    if api:
        return error_response(status, detail, code)
    return HttpResponse(detail, status=status, content_type="text/plain; charset=utf-8")


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400: SuspiciousOperation raised outside DRF (too big, bad host, ...)."""
    if not is_api_path(request.path_info):
        return defaults.bad_request(request, exception or Exception())
    if isinstance(exception, RequestDataTooBig):
        limit = settings.API_MAX_BODY_BYTES
        return error_response(413, too_large_message(limit), "request_too_large")
    if isinstance(exception, DisallowedHost):
        return error_response(400, "Invalid Host header.", "invalid_host")
    return error_response(400, "Bad request.", "bad_request")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler403."""
    if not is_api_path(request.path_info):
        return defaults.permission_denied(request, exception or Exception())
    return error_response(403, "Permission denied.", "permission_denied")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: the API takes bearer tokens, so this only meets cookie-borne posts."""
    if not is_api_path(request.path_info):
        return csrf.csrf_failure(request, reason)
    return error_response(403, f"CSRF check failed: {reason}", "csrf_failed")


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or with ``DJANGO_NUM_PROXIES=n`` the n-th address
    from the right of X-Forwarded-For (what the proxies in front appended). DRF's rule, so
    that the API throttles and the admin lockout count the same client. None when unknown
    (a request built in code, such as `Client.force_login`'s)."""
    # get_ident reads only META, which a Django request and a DRF one both have.
    ident = BaseThrottle().get_ident(request)  # type: ignore[arg-type]
    return str(ident) if ident else None


class AdminLoginThrottle(SimpleRateThrottle):
    """Login attempts on the admin per client address (`client_ip`), ``ADMIN_LOGIN_RATE``."""

    scope = "admin_login"

    def get_rate(self) -> str:
        return str(settings.ADMIN_LOGIN_RATE)

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request) or "-"}


class PostOnlyAPIView(APIView):
    """POST only: any other method (OPTIONS and HEAD too) is a 405 with ``Allow: POST``,
    checked before authentication so that the answer does not depend on the token."""

    http_method_names = ["post"]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if request.method is None or request.method.lower() not in self.http_method_names:
            raise exceptions.MethodNotAllowed(str(request.method))
        super().initial(request, *args, **kwargs)
