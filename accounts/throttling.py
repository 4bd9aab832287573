"""accounts: the brute-force throttle on /api/authenticate (per client IP, shared cache)."""

from __future__ import annotations

import math
import time
from typing import Any

from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class AuthenticateRateThrottle(SimpleRateThrottle):
    """At most ``DEFAULT_THROTTLE_RATES["authenticate"]`` attempts (``AUTH_THROTTLE_RATE``)
    per client IP per window, successful or not.

    The client IP is ``REMOTE_ADDR``; ``X-Forwarded-For`` counts only as far as
    ``REST_FRAMEWORK["NUM_PROXIES"]`` allows (DRF's `get_ident`).

    DRF's own `SimpleRateThrottle` keeps a list of timestamps and writes it back (read, modify,
    write), so concurrent attempts from one IP on several workers can overwrite each other and
    slip past the limit. This one counts with the cache's atomic ``incr`` in fixed windows:
    never more than the limit per window, whatever the concurrency.
    """

    scope = "authenticate"
    cache = cache

    def __init__(self) -> None:
        # Not in `SimpleRateThrottle.__init__`: DRF's `THROTTLE_RATES` is captured when the
        # class is defined, so `override_settings` would never reach it. Read it per request.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self._retry_after = 0.0

    def get_rate(self) -> str | None:
        rates: dict[str, Any] = api_settings.DEFAULT_THROTTLE_RATES or {}
        return rates.get(self.scope)

    def get_ident(self, request: Request) -> str:
        # DRF trusts the whole X-Forwarded-For header when NUM_PROXIES is None, which would
        # let a client pick its own throttle bucket; treat "not configured" as "no proxy".
        if api_settings.NUM_PROXIES is None:
            return str(request.META.get("REMOTE_ADDR", ""))
        return str(super().get_ident(request))

    def get_cache_key(self, request: Request, view: Any) -> str:
        return f"throttle:{self.scope}:{self.get_ident(request)}"

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None or self.num_requests is None or self.duration is None:
            return True
        now = time.time()
        window = math.floor(now / self.duration)
        key = f"{self.get_cache_key(request, view)}:{window}"
        # One spare second, so the counter outlives its window even with clock skew.
        self.cache.add(key, 0, self.duration + 1)
        try:
            count = self.cache.incr(key)
        except ValueError:  # expired between add and incr: this attempt opens a new window
            self.cache.add(key, 1, self.duration + 1)
            count = 1
        if count <= self.num_requests:
            return True
        self._retry_after = (window + 1) * self.duration - now
        return False

    def wait(self) -> float | None:
        # DRF turns this into `Retry-After` (rounded up) and the "Expected available in" text.
        return max(1.0, math.ceil(self._retry_after)) if self._retry_after else None
