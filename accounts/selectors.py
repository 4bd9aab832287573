"""accounts: reads. The key state every authenticated request needs, held in process."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from accounts import keystate
from accounts.errors import ApiKeyNotFound
from accounts.models import ApiKey


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


def key_state_store(state: KeyState) -> None:
    """Hold a key's current state in this process (used by the services that read it)."""
    keystate.states.put(state.id, keystate.Entry(state, time.monotonic()))


def api_key_state(*, key_id: int) -> KeyState | None:
    """The key's state, read from the database at most ``API_KEY_STATE_TTL`` seconds ago;
    None if the key does not exist.

    Held in this process (`accounts.keystate`): no Redis or database round trip while the
    entry is fresh, and changes made through `accounts.services` reach every process at once
    through Redis pub/sub, or through the TTL when Redis is down. Expiry is held as a time, not
    a flag, so callers check it against the clock on every request.

    When the database cannot be reached, a state read within ``API_KEY_STATE_GRACE_SECONDS``
    keeps serving, stale or not (a key revoked meanwhile cannot be: revoking needs the
    database); otherwise the `DatabaseError` propagates (503).
    """
    entry = keystate.states.entries.get(key_id)
    now = time.monotonic()
    if entry is not None and not entry.stale and now - entry.read_at < settings.API_KEY_STATE_TTL:
        return entry.state
    keystate.listener.ensure_started()
    generation = keystate.states.generation
    fields = ("prefix", "name", "revoked", "expiry_date")
    try:
        api_key = ApiKey.objects.filter(pk=key_id).only(*fields).first()
    except DatabaseError:
        if entry is not None and now - entry.read_at < settings.API_KEY_STATE_GRACE_SECONDS:
            return entry.state
        raise
    state = KeyState.of(api_key) if api_key is not None else None
    keystate.states.put(key_id, keystate.Entry(state, now), generation=generation)
    return state


def key_state_forget_all() -> None:
    """Drop every state held in this process (tests; the listener after reconnecting)."""
    keystate.states.reset()


def api_key_get_by_prefix(*, prefix: str) -> ApiKey:
    """The key with this public prefix. Raises `ApiKeyNotFound`."""
    api_key = ApiKey.objects.filter(prefix=prefix).first()
    if api_key is None:
        raise ApiKeyNotFound(f"No API key with prefix {prefix!r}.")
    return api_key
