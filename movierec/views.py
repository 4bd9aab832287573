"""Project wiring: JSON bodies for Django-level errors (unknown URL, unhandled exception)."""

from __future__ import annotations

import sys

from django.http import HttpRequest, JsonResponse

from movierec.exception_handler import (
    DATABASE_RETRY_AFTER,
    DATABASE_UNAVAILABLE,
    is_database_unavailable,
)


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    # Outside DRF's views (admin, probes) a database outage is still a 503 the client may retry.
    if is_database_unavailable(sys.exc_info()[1]):
        return JsonResponse(
            DATABASE_UNAVAILABLE, status=503, headers={"Retry-After": DATABASE_RETRY_AFTER}
        )
    return JsonResponse({"detail": "Internal server error.", "code": "server_error"}, status=500)
