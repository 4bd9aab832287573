"""Project wiring: per-request id, access log line and metrics; browser middleware kept off the API.

The JSON API and the probes need none of what static files, Django's user and messages do
for admin's HTML pages; on those paths the ``Browser*`` middleware below pass the
request straight on, so each API request skips their work. Admin and static files keep the
full chain, in the same order. Which paths are the API is `movierec.guards.is_api_path`, the
same rule that gives them JSON errors.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import time
from collections.abc import Callable
from typing import Any

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.http import HttpRequest, HttpResponse
from whitenoise.middleware import WhiteNoiseMiddleware

from movierec.guards import is_api_path
from movierec.log import request_id_var
from movierec.metrics import LATENCY, REQUESTS

access_log = logging.getLogger("movierec.access")
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class _RequestIds:
    """Unique request ids without uuid4's cost: a random per-process prefix and a counter.

    32 hex characters, like ``uuid4().hex``. The prefix is drawn again in a forked child
    (gunicorn workers), so two workers never hand out the same id.
    """

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count(1)  # next() on a count is atomic under the GIL

    def new(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


request_ids = _RequestIds()


class RequestContextMiddleware:
    """Gives each request an id (a well-formed ``X-Request-ID`` from the client, else a new
    one), echoes it in the response, logs one access line and records the metrics.

    The access line carries method, route, status and duration, never headers or bodies,
    so keys and tokens cannot leak into logs.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        # Metric children by label values: `labels()` takes a lock and formats the labels on
        # every call; the set of (route, method, status) a service answers is small.
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._histograms: dict[tuple[str, str], Any] = {}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        supplied = request.META.get("HTTP_X_REQUEST_ID")
        request_id = (
            supplied if supplied is not None and _VALID_ID.match(supplied) else request_ids.new()
        )
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            elapsed = time.perf_counter() - started
            match = request.resolver_match
            endpoint = match.route if match is not None else "unmatched"
            method = request.method or ""
            self._record(endpoint, method, response.status_code, elapsed)
            response["X-Request-ID"] = request_id
            if access_log.isEnabledFor(logging.INFO):
                # makeRecord + handle: logging.info's own path also walks the stack to find
                # the caller's file and line, which the access line does not carry.
                access_log.handle(
                    access_log.makeRecord(
                        access_log.name,
                        logging.INFO,
                        __file__,
                        0,
                        "request",
                        (),
                        None,
                        extra={
                            "method": method,
                            "route": endpoint,
                            "status": response.status_code,
                            "duration_ms": round(elapsed * 1000, 3),
                        },
                    )
                )
            return response
        finally:
            request_id_var.reset(token)

    def _record(self, endpoint: str, method: str, status: int, elapsed: float) -> None:
        counter = self._counters.get((endpoint, method, status))
        if counter is None:
            counter = REQUESTS.labels(endpoint, method, str(status))
            if len(self._counters) < 1000:  # unmatched paths share one label; bounded anyway
                self._counters[(endpoint, method, status)] = counter
        counter.inc()
        histogram = self._histograms.get((endpoint, method))
        if histogram is None:
            histogram = LATENCY.labels(endpoint, method)
            if len(self._histograms) < 1000:
                self._histograms[(endpoint, method)] = histogram
        histogram.observe(elapsed)


class BrowserOnly:
    """Mixin for middleware that only browser pages need: on `is_api_path` paths it is a no-op."""

    get_response: Callable[[HttpRequest], Any]

    def __call__(self, request: HttpRequest) -> Any:
        if is_api_path(request.path_info):
            return self.get_response(request)
        return super().__call__(request)  # type: ignore[misc]


class BrowserWhiteNoiseMiddleware(BrowserOnly, WhiteNoiseMiddleware):
    """Static files (admin, Swagger UI); never under the API."""


class BrowserAuthenticationMiddleware(BrowserOnly, AuthenticationMiddleware):
    pass


class BrowserMessageMiddleware(BrowserOnly, MessageMiddleware):
    pass
