"""Project wiring: liveness and readiness probes (unauthenticated, JSON)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from recommender.errors import ModelNotReady
from recommender.registry import active_model

logger = logging.getLogger(__name__)

Probe = Callable[[HttpRequest], JsonResponse]


def require_safe(view: Probe) -> Probe:
    """GET and HEAD only; anything else is a 405 in the API's error shape (not a CSRF
    failure: the probes take no cookies, so a POST is a wrong method, nothing more)."""

    @csrf_exempt
    @wraps(view)
    def probe(request: HttpRequest) -> JsonResponse:
        if request.method not in ("GET", "HEAD"):
            return JsonResponse(
                {"detail": f'Method "{request.method}" not allowed.', "code": "method_not_allowed"},
                status=405,
                headers={"Allow": "GET, HEAD"},
            )
        return view(request)

    return probe


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and answering; checks nothing else."""
    return JsonResponse({"status": "ok"})


@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to serve: the database answers and a model version is loaded (else 503)."""
    checks: dict[str, str] = {}
    ready = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except DatabaseError as exc:
        logger.warning("readiness: database unreachable: %s", exc.__class__.__name__)
        checks["database"] = "unreachable"
        ready = False
    try:
        checks["model"] = f"version {active_model().version}"
    except ModelNotReady as exc:
        checks["model"] = exc.message
        ready = False
    except DatabaseError:
        checks["model"] = "unknown (database unreachable)"
        ready = False
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503
    )
