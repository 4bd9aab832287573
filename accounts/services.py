"""accounts: writes. Creating and revoking keys, exchanging a key for a token, counting uses."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

# Module imports both ways: authentication needs `api_key_record_use`, this module its
# `issue_token`, each only when called.
from accounts import authentication, keystate, usage
from accounts.errors import ApiKeyAlreadyRevoked, ApiKeyInvalidInput, InvalidApiKey
from accounts.models import ApiKey
from accounts.selectors import KeyState, key_state_store

logger = logging.getLogger(__name__)

NAME_MAX_LENGTH = ApiKey._meta.get_field("name").max_length or 50
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
    key_state_store(KeyState.of(api_key))  # the token's first request here needs no query
    api_key_record_use(key_id=api_key.pk)
    return IssuedToken(token=token, expires_in=expires_in)


def api_key_record_use(*, key_id: int) -> None:
    """Count one use of a key, in this process; written by `api_key_usage_flush`.

    No I/O: a background thread started on first use writes the pending counts every
    ``API_KEY_USAGE_FLUSH_SECONDS`` (see `accounts.usage`).
    """
    usage.buffer.add(key_id, time.time())
    if usage.buffer.thread is None and settings.API_KEY_USAGE_BACKGROUND_FLUSH:
        usage.buffer.ensure_flusher(
            api_key_usage_flush, lambda: max(0.1, float(settings.API_KEY_USAGE_FLUSH_SECONDS))
        )


def api_key_usage_flush(*, key_id: int | None = None) -> int:
    """Write this process's pending use counts (of one key, or all) to the database: one
    ``UPDATE`` per key adding its count (``F()``, so writers in other processes add up) and
    moving ``last_used_at`` forward. Returns the number of uses written.

    Raises `DatabaseError` when the database cannot be written; the counts are then kept
    for the next flush.
    """
    taken = usage.buffer.take(key_id)
    written = 0
    try:
        while taken:
            pk, entry = next(iter(taken.items()))
            used_at = datetime.fromtimestamp(entry.last_used, tz=UTC)
            ApiKey.objects.filter(pk=pk).update(
                use_count=F("use_count") + entry.count,
                last_used_at=Greatest(Coalesce("last_used_at", Value(used_at)), Value(used_at)),
            )
            del taken[pk]
            written += entry.count
    except DatabaseError:
        usage.buffer.give_back(taken)
        raise
    return written


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


def _publish_state(state: KeyState) -> None:
    # This process holds the new state at once; after commit every other process is told to
    # drop what it holds (a request that read the old state meanwhile cannot store it over
    # the change: see `accounts.keystate.LocalStates.generation`).
    key_state_store(state)
    transaction.on_commit(lambda: _after_change(state))


def _after_change(state: KeyState) -> None:
    keystate.publish(state.id, revoked=state.revoked)
    if state.revoked:
        _flush_quietly(state.id)


def _flush_quietly(key_id: int) -> None:
    # A revoke must succeed even when the counts cannot be written now; they stay pending.
    try:
        api_key_usage_flush(key_id=key_id)
    except DatabaseError:
        logger.warning("key usage not written at revoke", extra={"api_key_id": key_id})


# Every process that hears of a revocation writes its pending uses at once (by its writer
# thread: the listener thread does no database work).
keystate.listener.on_revoke.append(lambda key_id: usage.buffer.flush_soon())


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
