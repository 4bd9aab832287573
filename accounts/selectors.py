"""accounts: reads. The key state every authenticated request needs, served from the cache."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from accounts.errors import ApiKeyNotFound
from accounts.models import ApiKey

_STATE_KEY = "accounts:key_state:{}"
# Cached for a key that does not exist (deleted): a missing key must not cost a query per request.
_MISSING = "missing"


@dataclass(frozen=True, slots=True)
class KeyState:
    """What a request needs to know about a key: who it is and whether it may still be used."""

    id: int
    prefix: str
    name: str
    revoked: bool
    expires_at: datetime | None

    def is_usable(self, *, now: datetime | None = None) -> bool:
        if self.revoked:
            return False
        return self.expires_at is None or (now or timezone.now()) < self.expires_at

    @classmethod
    def of(cls, api_key: ApiKey) -> KeyState:
        return cls(
            id=api_key.pk,
            prefix=api_key.prefix,
            name=api_key.name,
            revoked=api_key.revoked,
            expires_at=api_key.expiry_date,
        )


def key_state_cache_key(key_id: int) -> str:
    return _STATE_KEY.format(key_id)


def key_state_store(state: KeyState) -> None:
    """Put a key's current state in the cache (used by the services that change it)."""
    cache.set(key_state_cache_key(state.id), _to_cache(state), settings.API_KEY_STATE_TTL)


def api_key_state(*, key_id: int) -> KeyState | None:
    """The key's state, at most ``API_KEY_STATE_TTL`` seconds old; None if the key does not exist.

    The cache is the configured default (Redis when ``REDIS_URL`` is set), so all workers share
    it; revoking through `accounts.services` overwrites the entry at once. Expiry is not cached
    as a flag but as a time, so callers check it against the clock on every request.
    """
    cache_key = key_state_cache_key(key_id)
    cached = cache.get(cache_key)
    if cached is not None:
        return None if cached == _MISSING else _from_cache(cached)

    fields = ("prefix", "name", "revoked", "expiry_date")
    api_key = ApiKey.objects.filter(pk=key_id).only(*fields).first()
    state = KeyState.of(api_key) if api_key is not None else None
    value = _MISSING if state is None else _to_cache(state)
    cache.set(cache_key, value, settings.API_KEY_STATE_TTL)
    return state


def api_key_get_by_prefix(*, prefix: str) -> ApiKey:
    """The key with this public prefix. Raises `ApiKeyNotFound`."""
    api_key = ApiKey.objects.filter(prefix=prefix).first()
    if api_key is None:
        raise ApiKeyNotFound(f"No API key with prefix {prefix!r}.")
    return api_key


# The cache holds plain tuples, not pickled dataclasses, so a deploy that changes KeyState
# never meets an old pickle it cannot load.
def _to_cache(state: KeyState) -> tuple[Any, ...]:
    return (state.id, state.prefix, state.name, state.revoked, state.expires_at)


def _from_cache(value: tuple[Any, ...]) -> KeyState:
    key_id, prefix, name, revoked, expires_at = value
    return KeyState(id=key_id, prefix=prefix, name=name, revoked=revoked, expires_at=expires_at)
