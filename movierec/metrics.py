"""Project wiring: Prometheus metrics, correct under several gunicorn workers.

When ``PROMETHEUS_MULTIPROC_DIR`` is set (the Dockerfile and gunicorn.conf.py set it), every
worker writes its samples to files there and `/metrics` aggregates them; otherwise the
process-local default registry is served (runserver, tests).
"""

from __future__ import annotations

import os
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

# Every process that imports this module writes its samples there at once (the unlabelled
# metrics below), so the folder must exist before they are created: gunicorn.conf.py makes it
# only when gunicorn starts, but `manage.py migrate` runs first in the image's entry point.
if _multiproc_dir := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    Path(_multiproc_dir).mkdir(parents=True, exist_ok=True)

REQUESTS = Counter(
    "movierec_http_requests_total",
    "HTTP requests by endpoint, method and status.",
    ["endpoint", "method", "status"],
)
LATENCY = Histogram(
    "movierec_http_request_duration_seconds",
    "HTTP request latency by endpoint and method.",
    ["endpoint", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
MODEL_VERSION = Gauge(
    "movierec_model_version",
    "Model version the worker serves (0: none).",
    multiprocess_mode="livemax",
)
RECOMMENDATIONS = Counter(
    "movierec_recommendations_total",
    "Recommendation lists served.",
)
RECOMMENDED_ITEMS = Counter(
    "movierec_recommended_items_total",
    "Movie titles returned in recommendation lists.",
)


def metrics_view(request: HttpRequest) -> HttpResponse:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        payload = generate_latest(registry)
    else:
        payload = generate_latest()
    return HttpResponse(payload, content_type=CONTENT_TYPE_LATEST)
