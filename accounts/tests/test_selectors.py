"""accounts.selectors: the cached key state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from accounts.errors import ApiKeyNotFound
from accounts.models import ApiKey
from accounts.selectors import KeyState, api_key_get_by_prefix, api_key_state
from accounts.services import api_key_create
from accounts.tests.helpers import cached_state

pytestmark = pytest.mark.django_db


def test_state_is_read_once_then_served_from_the_cache(django_assert_num_queries):
    api_key, _ = api_key_create(name="x")

    with django_assert_num_queries(1):
        first = api_key_state(key_id=api_key.pk)
    with django_assert_num_queries(0):
        second = api_key_state(key_id=api_key.pk)

    expected = KeyState(
        id=api_key.pk, prefix=api_key.prefix, name="x", revoked=False, expires_at=None
    )
    assert first == second == expected


def test_if_key_missing_then_none_and_that_is_cached_too(django_assert_num_queries):
    with django_assert_num_queries(1):
        assert api_key_state(key_id=987654) is None
    with django_assert_num_queries(0):
        assert api_key_state(key_id=987654) is None


def test_state_expires_after_the_ttl(settings):
    settings.API_KEY_STATE_TTL = 1
    api_key, _ = api_key_create(name="x")
    api_key_state(key_id=api_key.pk)
    ApiKey.objects.filter(pk=api_key.pk).update(name="renamed")
    assert cached_state(api_key.pk).name == "x"

    import time

    time.sleep(1.1)

    assert cached_state(api_key.pk).name == "renamed"


def test_key_state_usable_until_expiry():
    expires_at = datetime(2030, 1, 1, tzinfo=UTC)
    state = KeyState(id=1, prefix="p", name="n", revoked=False, expires_at=expires_at)

    assert state.is_usable(now=expires_at - timedelta(microseconds=1))
    assert not state.is_usable(now=expires_at)
    assert not KeyState(id=1, prefix="p", name="n", revoked=True, expires_at=None).is_usable()
    assert KeyState(id=1, prefix="p", name="n", revoked=False, expires_at=None).is_usable()


def test_get_by_prefix():
    api_key, _ = api_key_create(name="x")

    assert api_key_get_by_prefix(prefix=api_key.prefix) == api_key
    with pytest.raises(ApiKeyNotFound, match="No API key with prefix 'nope'"):
        api_key_get_by_prefix(prefix="nope")
