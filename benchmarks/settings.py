"""Benchmark-only settings: the service's settings plus a trivial authenticated endpoint.

The load test compares /api/recommend with /bench/ping, a DRF view that does nothing but
authenticate, so the figure says what the recommender adds to the fixed cost of a request.
"""

from movierec.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.urls"
