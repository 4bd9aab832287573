"""accounts: writes. Creating and revoking keys, exchanging a key for a token, counting uses."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

# Module imports both ways: authentication needs `api_key_record_use`, this module its
# `issue_token`, each only when called.
from accounts import authentication
from accounts.errors import ApiKeyAlreadyRevoked, ApiKeyInvalidInput, InvalidApiKey
from accounts.models import ApiKey
from accounts.selectors import KeyState, key_state_store

logger = logging.getLogger(__name__)

NAME_MAX_LENGTH = ApiKey._meta.get_field("name").max_length or 50
_USES_KEY = "accounts:key_uses:{}"
_FLUSHED_KEY = "accounts:key_flushed:{}"
# Prefixes are 8 random characters; a clash is rare, and a retry makes it a non-event.
_CREATE_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_in: int  # seconds


def api_key_create(*, name: str, expires_at: datetime | None = None) -> tuple[ApiKey, str]:
    """Create a key; return it with the raw key, which exists nowhere else from now on.

    Raises `ApiKeyInvalidInput` for a blank or too-long name, a naive or past expiry.
    """
    name = _clean_name(name)
    _check_expiry(expires_at)
    api_key, raw_key = _create_with_fresh_prefix(name=name, expires_at=expires_at)
    logger.info("api key created", extra={"api_key_id": api_key.pk, "prefix": api_key.prefix})
    return api_key, raw_key


@transaction.atomic
def api_key_update(*, api_key: ApiKey, name: str, expires_at: datetime | None) -> ApiKey:
    """Rename a key or change its expiry (a past one expires it now); workers see it at once.

    Raises `ApiKeyInvalidInput` (bad name or expiry, or the key is revoked).
    """
    name = _clean_name(name)
    if expires_at is not None and timezone.is_naive(expires_at):
        raise ApiKeyInvalidInput("The expiry must be timezone-aware.")
    # Locked and re-read: a revoke committed meanwhile must not be hidden by publishing the
    # caller's stale "not revoked" state to the cache.
    current = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if current.revoked:
        raise ApiKeyInvalidInput("A revoked API key cannot be changed.")
    current.name, current.expiry_date = name, expires_at
    current.save(update_fields=["name", "expiry_date"])
    api_key.name, api_key.expiry_date = name, expires_at
    _publish_state(KeyState.of(current))
    return api_key


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey) -> None:
    """Revoke a key for good; tokens issued for it stop working at once, on every worker.

    Raises `ApiKeyAlreadyRevoked` if it was revoked already (or meanwhile, by someone else).
    """
    updated = ApiKey.objects.filter(pk=api_key.pk, revoked=False).update(revoked=True)
    if not updated:
        raise ApiKeyAlreadyRevoked(f"API key {api_key.prefix} is already revoked.")
    api_key.revoked = True
    api_key._initial_revoked = True
    _publish_state(KeyState.of(api_key))
    logger.info("api key revoked", extra={"api_key_id": api_key.pk, "prefix": api_key.prefix})


def token_obtain_for_key(*, raw_key: str) -> IssuedToken:
    """Exchange a raw key for an access token.

    Raises `InvalidApiKey` when the key is unknown, wrong, revoked or expired (one error for
    all, so the answer does not tell which).
    """
    prefix, dot, secret = raw_key.partition(".")
    if not dot or not secret or len(prefix) != ApiKey.objects.key_generator.prefix_length:
        raise InvalidApiKey()
    # Issued keys are ASCII letters and digits; anything else (NUL, lone surrogates, other
    # scripts) is refused before it reaches the database, which could not even compare it.
    if not (_is_key_text(prefix) and _is_key_text(secret)):
        raise InvalidApiKey()
    api_key = ApiKey.objects.filter(prefix=prefix).first()
    # `is_valid` is a constant-time comparison of SHA-512 digests (the library's hasher).
    if api_key is None or not api_key.is_valid(raw_key):
        raise InvalidApiKey()
    if api_key.revoked or api_key.has_expired:
        raise InvalidApiKey()
    token, expires_in = authentication.issue_token(api_key)
    key_state_store(KeyState.of(api_key))  # the token's first request need not read the DB
    api_key_record_use(key_id=api_key.pk)
    return IssuedToken(token=token, expires_in=expires_in)


def api_key_record_use(*, key_id: int, now: datetime | None = None) -> bool:
    """Count one use of a key; write the pending count to the database at most once per key
    per ``API_KEY_USAGE_FLUSH_SECONDS``. Returns True if this call wrote.

    The counter lives in the shared cache and is flushed by the first use after each window
    (with an ``F()`` update, so concurrent flushes from several workers add up correctly).
    Uses after the last flush reach the database with the key's next use after the window.
    """
    uses_key = _USES_KEY.format(key_id)
    _incr(uses_key)
    if not cache.add(_FLUSHED_KEY.format(key_id), 1, settings.API_KEY_USAGE_FLUSH_SECONDS):
        return False
    pending = int(cache.get(uses_key) or 0)
    if pending <= 0:
        return False
    ApiKey.objects.filter(pk=key_id).update(
        use_count=F("use_count") + pending, last_used_at=now or timezone.now()
    )
    with contextlib.suppress(ValueError):  # the counter was evicted meanwhile: nothing to subtract
        cache.decr(uses_key, pending)
    return True


def _create_with_fresh_prefix(*, name: str, expires_at: datetime | None) -> tuple[ApiKey, str]:
    for attempt in range(1, _CREATE_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                api_key, raw_key = ApiKey.objects.create_key(name=name, expiry_date=expires_at)
                return cast(ApiKey, api_key), raw_key
        except IntegrityError:
            if attempt == _CREATE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _incr(cache_key: str) -> None:
    # incr is atomic on Redis and locmem; a missing key is created first (the race where two
    # workers create it at once is settled by `add`).
    try:
        cache.incr(cache_key)
    except ValueError:
        cache.add(cache_key, 0, timeout=None)
        cache.incr(cache_key)


def _publish_state(state: KeyState) -> None:
    # Now, so this worker and every other sees the change without waiting for the TTL, and
    # again after commit, over any stale state a concurrent request cached in between.
    key_state_store(state)
    transaction.on_commit(lambda: key_state_store(state))


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ApiKeyInvalidInput("The name must not be blank.")
    if len(name) > NAME_MAX_LENGTH:
        raise ApiKeyInvalidInput(f"The name must be at most {NAME_MAX_LENGTH} characters.")
    return name


def _check_expiry(expires_at: datetime | None) -> None:
    if expires_at is None:
        return
    if timezone.is_naive(expires_at):
        raise ApiKeyInvalidInput("The expiry must be timezone-aware.")
    if expires_at <= timezone.now():
        raise ApiKeyInvalidInput("The expiry must be in the future.")


def _is_key_text(text: str) -> bool:
    return text.isascii() and text.isalnum()
