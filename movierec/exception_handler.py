"""Project wiring: the one place where errors become HTTP responses.

Every error body has the same shape: ``{"detail": str, "code": str}``, plus ``"errors"``
(field -> messages) for validation failures. DRF's own handler runs first; domain errors
(`ApplicationError` subclasses) are mapped to their declared status here.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from movierec.errors import ApplicationError

logger = logging.getLogger(__name__)


def error_body(detail: str, code: str, **extra: Any) -> dict[str, Any]:
    """The one error shape, for the answers given outside DRF (middleware, Django's handlers)."""
    return {"detail": detail, "code": code, **extra}


def error_response(
    status: int, detail: str, code: str, *, headers: dict[str, str] | None = None
) -> JsonResponse:
    """A JSON error answer in the API's shape, for code that runs outside DRF views."""
    return JsonResponse(
        error_body(detail, code),
        status=status,
        headers=headers,
        json_dumps_params={"separators": (",", ":")},  # compact, as DRF's renderer writes
    )


# The database could not be reached or did not answer in time (`movierec.postgres`): the
# client may retry; everything else from the database (integrity, programming) is a bug, a 500.
DATABASE_UNAVAILABLE = {
    "detail": "The database is unavailable; try again shortly.",
    "code": "database_unavailable",
}
DATABASE_RETRY_AFTER = "5"


def is_database_unavailable(exc: BaseException | None) -> bool:
    return isinstance(exc, OperationalError | InterfaceError)


def handle(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RequestDataTooBig):
        # Django's own limit (DATA_UPLOAD_MAX_MEMORY_SIZE), were it ever hit inside a view.
        return Response(error_body("Request body is too large.", "request_too_large"), status=413)
    if is_database_unavailable(exc):
        logger.warning("database unavailable: %s", exc.__class__.__name__)
        return Response(
            DATABASE_UNAVAILABLE, status=503, headers={"Retry-After": DATABASE_RETRY_AFTER}
        )
    if isinstance(exc, ApplicationError):
        body: dict[str, Any] = {"detail": exc.message, "code": exc.code, **exc.extra}
        response = Response(body, status=exc.status)
        if exc.status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="api"'
        return response

    handled = drf_exception_handler(exc, context)
    if handled is None:
        return None  # unknown: Django's 500 handling logs it; never swallowed into a 200
    response = handled

    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "detail": "Invalid input.",
            "code": "invalid",
            "errors": _as_errors(response.data),
        }
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        response.data = {
            "detail": str(exc.detail) if not isinstance(exc.detail, dict | list) else exc.detail,
            "code": codes if isinstance(codes, str) else exc.default_code,
        }
    if response.status_code == 401 and "WWW-Authenticate" not in response:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def _as_errors(data: Any) -> dict[str, Any]:
    # A serializer given a non-object body reports under "non_field_errors"; keep that key.
    if isinstance(data, dict):
        return data
    return {"non_field_errors": data if isinstance(data, list) else [str(data)]}
