"""accounts: the brute-force throttle on /api/authenticate (per client IP, sliding window).

With Redis (the shared cache) the window is a sorted set of attempt times per client IP,
trimmed and counted by one Lua script, so the limit holds across every worker and process and
across any minute boundary. When Redis is unavailable each process keeps the same window in
memory: the limit then holds per process (with N workers a client gets at most N times the
rate) until Redis answers again.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
import time
from collections import OrderedDict, deque
from typing import Any

from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from movierec.cache import redis_cache, redis_errors

# KEYS[1]: the client's sorted set. ARGV: now (s), window (s), limit, a unique member.
# Returns {1, 0} when the attempt is allowed (and recorded), else {0, seconds to wait}.
_SLIDING_WINDOW = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('EXPIRE', KEYS[1], math.ceil(window) + 1)
  return {1, '0'}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tostring(tonumber(oldest[2]) + window - now)}
"""
_members = itertools.count()
# The in-process fallback forgets the least recently seen clients beyond this many.
_LOCAL_CLIENTS = 10_000


class LocalWindows:
    """The same sliding window in process memory: client -> attempt times (oldest first)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.windows: OrderedDict[str, deque[float]] = OrderedDict()

    def attempt(self, key: str, *, now: float, window: float, limit: int) -> float:
        """0 if allowed (and recorded), else the seconds until an attempt is allowed."""
        with self.lock:
            times = self.windows.pop(key, None) or deque()
            while times and times[0] <= now - window:
                times.popleft()
            self.windows[key] = times
            if len(self.windows) > _LOCAL_CLIENTS:
                self.windows.popitem(last=False)
            if len(times) < limit:
                times.append(now)
                return 0.0
            return times[0] + window - now

    def reset(self) -> None:
        with self.lock:
            self.windows.clear()


local_windows = LocalWindows()


class AuthenticateRateThrottle(SimpleRateThrottle):
    """At most ``DEFAULT_THROTTLE_RATES["authenticate"]`` attempts (``AUTH_THROTTLE_RATE``)
    per client IP per window, successful or not.

    The client IP is ``REMOTE_ADDR``; ``X-Forwarded-For`` counts only as far as
    ``REST_FRAMEWORK["NUM_PROXIES"]`` allows (DRF's `get_ident`).

    DRF's own `SimpleRateThrottle` keeps a list of timestamps and writes it back (read, modify,
    write), so concurrent attempts from one IP on several workers can overwrite each other and
    slip past the limit; a fixed window lets twice the rate through across its boundary. This
    one is a sliding window updated atomically in Redis (see the module docstring).
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
        key = self.get_cache_key(request, view)
        wait = self._attempt_shared(key, now)
        if wait is None:  # no shared store now: this process's own window
            wait = local_windows.attempt(
                key, now=now, window=self.duration, limit=self.num_requests
            )
        if wait <= 0:
            return True
        self._retry_after = wait
        return False

    def _attempt_shared(self, key: str, now: float) -> float | None:
        redis = redis_cache(self.cache)
        client = redis.client() if redis is not None else None
        if redis is None or client is None:
            return None
        member = f"{now!r}:{os.getpid()}:{next(_members)}"
        try:
            allowed, wait = client.eval(
                _SLIDING_WINDOW,
                1,
                redis.make_key(key),
                repr(now),
                self.duration,
                self.num_requests,
                member,
            )
        except redis_errors() as exc:
            redis.breaker.failed(exc)
            return None
        redis.breaker.succeeded()
        return 0.0 if int(allowed) else float(wait)

    def wait(self) -> float | None:
        # DRF turns this into `Retry-After` (rounded up) and the "Expected available in" text.
        return max(1.0, math.ceil(self._retry_after)) if self._retry_after else None
