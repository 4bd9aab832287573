"""Project wiring: liveness and readiness probes (unauthenticated, JSON)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from functools import wraps

from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt

from movierec.cache import redis_cache, redis_errors
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
    """Ready to serve: the database answers and a model version is loaded (else 503).

    Redis is checked too but does not decide readiness: without it the service still serves
    (process-local state, see the README's failure modes), so an unreachable Redis answers 200
    with ``"status": "degraded"``. Never a 500: every check reports its own failure.
    """
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
    checks["redis"] = redis_check()
    status = "ok" if checks["redis"] in ("ok", REDIS_NOT_CONFIGURED) else "degraded"
    return JsonResponse(
        {"status": status if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )


REDIS_NOT_CONFIGURED = "not configured"


def redis_check() -> str:
    """ "ok", "not configured", or "unavailable" (Redis unreachable: served without it)."""
    redis = redis_cache(cache)
    if redis is None:
        return REDIS_NOT_CONFIGURED
    client = redis.client()
    if client is None:
        return "unavailable"
    try:
        client.ping()
    except redis_errors() as exc:
        redis.breaker.failed(exc)
        return "unavailable"
    redis.breaker.succeeded()
    return "ok"


class LivenessProbeMiddleware:
    """Answers ``GET``/``HEAD /healthz`` before host validation and the HTTPS redirect.

    A container's HEALTHCHECK (or an orchestrator's probe) reaches the process by a loopback
    or pod address that DJANGO_ALLOWED_HOSTS rightly does not list, over plain HTTP. The
    liveness answer is a constant that never uses the Host header, so skipping the host check
    for it alone poisons nothing; every other path, /readyz included, is validated as usual.
    Placed right after RequestContextMiddleware, so the probe still gets a request id, an
    access line and its metrics.
    """

    path = "/healthz"  # movierec/urls.py routes the same path to the same view

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info != self.path or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        # The route label of the access line and metrics, as for any routed request.
        with contextlib.suppress(Resolver404):
            request.resolver_match = resolve(request.path_info)
        return healthz(request)
