"""accounts.services: creating, updating and revoking keys, tokens for keys, usage counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import OperationalError
from django.db.models import QuerySet
from django.utils import timezone

from accounts.errors import ApiKeyAlreadyRevoked, ApiKeyInvalidInput, InvalidApiKey
from accounts.models import ApiKey
from accounts.selectors import api_key_state
from accounts.services import (
    api_key_create,
    api_key_record_use,
    api_key_revoke,
    api_key_update,
    api_key_usage_flush,
    token_obtain_for_key,
)
from accounts.tests.helpers import cached_state, token_payload

pytestmark = pytest.mark.django_db


def test_create_returns_the_key_and_its_raw_value():
    api_key, raw = api_key_create(name="  partner  ")

    prefix, dot, secret = raw.partition(".")
    assert (prefix, dot, len(secret)) == (api_key.prefix, ".", 32)
    assert api_key.name == "partner"
    assert api_key.expiry_date is None
    assert not api_key.revoked
    assert ApiKey.objects.get(pk=api_key.pk).is_valid(raw)


def test_create_with_expiry_stores_it():
    expires_at = timezone.now() + timedelta(days=3)

    api_key, _ = api_key_create(name="x", expires_at=expires_at)

    assert ApiKey.objects.get(pk=api_key.pk).expiry_date == expires_at


@pytest.mark.parametrize(
    ("name", "expires_at", "message"),
    [
        ("   ", None, "The name must not be blank."),
        ("x" * 51, None, "The name must be at most 50 characters."),
        ("x", datetime(2000, 1, 1, tzinfo=UTC), "The expiry must be in the future."),
        ("x", datetime(2999, 1, 1), "The expiry must be timezone-aware."),
    ],
)
def test_if_create_input_bad_then_invalid_input(name, expires_at, message):
    with pytest.raises(ApiKeyInvalidInput, match=message):
        api_key_create(name=name, expires_at=expires_at)

    assert not ApiKey.objects.exists()


def test_revoke_marks_the_key_and_its_cached_state():
    api_key, _ = api_key_create(name="x")
    assert cached_state(api_key.pk).revoked is False  # cached, not revoked

    api_key_revoke(api_key=api_key)

    assert ApiKey.objects.get(pk=api_key.pk).revoked
    assert cached_state(api_key.pk).revoked is True  # overwritten, not waiting for TTL


def test_if_revoked_twice_then_already_revoked():
    api_key, _ = api_key_create(name="x")
    api_key_revoke(api_key=api_key)

    with pytest.raises(ApiKeyAlreadyRevoked):
        api_key_revoke(api_key=ApiKey.objects.get(pk=api_key.pk))


def test_if_revoked_elsewhere_meanwhile_then_already_revoked():
    api_key, _ = api_key_create(name="x")
    stale = ApiKey.objects.get(pk=api_key.pk)
    api_key_revoke(api_key=api_key)

    with pytest.raises(ApiKeyAlreadyRevoked):
        api_key_revoke(api_key=stale)


def test_revocation_cannot_be_undone():
    api_key, _ = api_key_create(name="x")
    api_key_revoke(api_key=api_key)
    api_key = ApiKey.objects.get(pk=api_key.pk)

    api_key.revoked = False
    with pytest.raises(ValidationError):
        api_key.save()
    with pytest.raises(ApiKeyInvalidInput):
        api_key_update(api_key=ApiKey.objects.get(pk=api_key.pk), name="y", expires_at=None)

    assert ApiKey.objects.get(pk=api_key.pk).revoked


def test_update_changes_name_and_expiry_and_the_cached_state():
    api_key, _ = api_key_create(name="x")
    api_key_state(key_id=api_key.pk)
    expires_at = timezone.now() + timedelta(hours=1)

    api_key_update(api_key=api_key, name="renamed", expires_at=expires_at)

    state = cached_state(api_key.pk)
    assert (state.name, state.expires_at) == ("renamed", expires_at)
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert (stored.name, stored.expiry_date) == ("renamed", expires_at)


def test_token_obtain_for_a_valid_key_issues_a_token_naming_it():
    api_key, raw = api_key_create(name="x")

    issued = token_obtain_for_key(raw_key=raw)

    assert issued.expires_in == 3600
    claims = token_payload(issued.token)
    assert (claims["api_key_id"], claims["api_key_prefix"]) == (api_key.pk, api_key.prefix)


def test_token_obtain_for_a_wrong_key_raises_invalid_key():
    api_key, raw = api_key_create(name="x")

    for wrong in [raw + "x", raw[:-1], api_key.prefix, "", "." + raw, raw.upper()]:
        with pytest.raises(InvalidApiKey) as excinfo:
            token_obtain_for_key(raw_key=wrong)
        assert (excinfo.value.status, excinfo.value.code) == (401, "invalid_key")
        assert str(excinfo.value) == "Invalid, revoked or expired API key."


def test_token_obtain_for_a_revoked_key_raises_invalid_key():
    api_key, raw = api_key_create(name="x")
    api_key_revoke(api_key=api_key)

    with pytest.raises(InvalidApiKey):
        token_obtain_for_key(raw_key=raw)


def test_token_obtain_for_an_expired_key_raises_invalid_key():
    start = datetime(2030, 1, 1, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        _, raw = api_key_create(name="x", expires_at=start + timedelta(days=1))
    with time_machine.travel(start + timedelta(days=1, seconds=1), tick=False):  # noqa: SIM117
        with pytest.raises(InvalidApiKey):
            token_obtain_for_key(raw_key=raw)


def test_record_use_counts_in_process_without_a_query(django_assert_num_queries):
    api_key, _ = api_key_create(name="x")

    with django_assert_num_queries(0):
        for _ in range(5):
            api_key_record_use(key_id=api_key.pk)

    assert ApiKey.objects.get(pk=api_key.pk).use_count == 0


def test_flush_writes_each_key_once_with_its_count(django_assert_num_queries):
    one, _ = api_key_create(name="one")
    two, _ = api_key_create(name="two")
    for _ in range(3):
        api_key_record_use(key_id=one.pk)
    api_key_record_use(key_id=two.pk)

    with django_assert_num_queries(2):
        assert api_key_usage_flush() == 4
    with django_assert_num_queries(0):
        assert api_key_usage_flush() == 0

    assert ApiKey.objects.get(pk=one.pk).use_count == 3
    assert ApiKey.objects.get(pk=two.pk).use_count == 1


def test_flush_adds_to_counts_written_by_other_processes():
    api_key, _ = api_key_create(name="x")
    ApiKey.objects.filter(pk=api_key.pk).update(use_count=40)  # another worker's flush
    api_key_record_use(key_id=api_key.pk)
    api_key_record_use(key_id=api_key.pk)

    api_key_usage_flush()

    assert ApiKey.objects.get(pk=api_key.pk).use_count == 42


def test_flush_moves_last_used_forward_only():
    api_key, _ = api_key_create(name="x")
    later = timezone.now() + timedelta(hours=1)
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=later)  # another worker, later
    before = timezone.now()
    api_key_record_use(key_id=api_key.pk)
    api_key_usage_flush()
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at == later

    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=None)
    api_key_record_use(key_id=api_key.pk)
    api_key_usage_flush()
    last_used = ApiKey.objects.get(pk=api_key.pk).last_used_at
    assert last_used is not None
    assert before <= last_used <= timezone.now()


def test_if_database_write_fails_then_counts_are_kept_for_the_next_flush(monkeypatch):
    api_key, _ = api_key_create(name="x")
    for _ in range(3):
        api_key_record_use(key_id=api_key.pk)

    def unavailable(*args, **kwargs):
        raise OperationalError("database unavailable")

    with monkeypatch.context() as patched:
        patched.setattr(QuerySet, "update", unavailable)
        with pytest.raises(OperationalError):
            api_key_usage_flush()
    api_key_record_use(key_id=api_key.pk)

    assert api_key_usage_flush() == 4
    assert ApiKey.objects.get(pk=api_key.pk).use_count == 4


def test_revoke_writes_the_pending_uses_of_the_key(django_capture_on_commit_callbacks):
    api_key, _ = api_key_create(name="x")
    for _ in range(2000):
        api_key_record_use(key_id=api_key.pk)

    with django_capture_on_commit_callbacks(execute=True):
        api_key_revoke(api_key=api_key)

    stored = ApiKey.objects.get(pk=api_key.pk)
    assert (stored.revoked, stored.use_count) == (True, 2000)
    assert stored.last_used_at is not None


def test_token_obtain_records_a_use():
    api_key, raw = api_key_create(name="x")

    token_obtain_for_key(raw_key=raw)
    api_key_usage_flush()

    assert ApiKey.objects.get(pk=api_key.pk).use_count == 1


def test_if_revoked_meanwhile_then_update_refuses_and_keeps_the_revoked_state():
    api_key, _ = api_key_create(name="x")
    stale = ApiKey.objects.get(pk=api_key.pk)
    api_key_revoke(api_key=api_key)

    with pytest.raises(ApiKeyInvalidInput, match="revoked"):
        api_key_update(api_key=stale, name="y", expires_at=None)

    assert cached_state(api_key.pk).revoked is True
    assert ApiKey.objects.get(pk=api_key.pk).name == "x"
