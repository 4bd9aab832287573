"""accounts.keystate: key states held in process, dropped on change through Redis pub/sub."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache

from accounts import keystate
from accounts.models import ApiKey
from accounts.selectors import KeyState, api_key_state
from accounts.services import api_key_create
from accounts.tests.helpers import cached_state
from movierec.cache import redis_cache

pytestmark = pytest.mark.django_db


def state(key_id: int = 1, *, revoked: bool = False) -> KeyState:
    return KeyState(id=key_id, prefix="p", name="n", revoked=revoked, expires_at=None)


def cached_state_revoked(key_id: int) -> bool:
    held = keystate.states.entries[key_id].state
    assert held is not None
    return held.revoked


def listening() -> None:
    # The listener forgets what is held when it (re)subscribes: let that happen first.
    keystate.listener.ensure_started()
    if redis_cache(cache) is not None:
        assert keystate.listener.subscribed.wait(5)


def test_if_revoked_then_a_usable_state_never_replaces_it():
    store = keystate.LocalStates()
    store.put(1, keystate.Entry(state(revoked=True), time.monotonic()))

    store.put(1, keystate.Entry(state(), time.monotonic()))

    assert store.entries[1].state == state(revoked=True)


def test_if_invalidated_during_a_read_then_the_read_is_not_stored():
    store = keystate.LocalStates()
    generation = store.generation  # a request starts reading the database
    store.invalidate(1, revoked=False)  # a change arrives meanwhile

    store.put(1, keystate.Entry(state(), time.monotonic()), generation=generation)

    assert 1 not in store.entries


def test_if_revocation_heard_then_a_held_state_becomes_revoked():
    store = keystate.LocalStates()
    store.put(1, keystate.Entry(state(), time.monotonic()))
    store.put(2, keystate.Entry(state(2), time.monotonic()))

    store.invalidate(1, revoked=True)
    store.invalidate(2, revoked=False)

    assert store.entries[1].state == state(revoked=True)
    assert 2 not in store.entries


def test_if_resubscribed_then_everything_but_revocations_is_stale():
    store = keystate.LocalStates()
    store.put(1, keystate.Entry(state(revoked=True), 10.0))
    store.put(2, keystate.Entry(state(2), 20.0))

    store.forget_all()

    assert store.entries == {
        1: keystate.Entry(state(revoked=True), 10.0),
        2: keystate.Entry(state(2), 20.0, stale=True),
    }


def _database_down(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db import OperationalError
    from django.db.models import QuerySet

    def unavailable(*args, **kwargs):
        raise OperationalError("database unavailable")

    monkeypatch.setattr(QuerySet, "first", unavailable)


def test_if_database_down_then_a_recent_state_keeps_serving(settings, monkeypatch):
    from django.db import OperationalError

    settings.API_KEY_STATE_TTL = 1
    api_key, _ = api_key_create(name="x")
    listening()
    held = api_key_state(key_id=api_key.pk)
    entry = keystate.states.entries[api_key.pk]
    keystate.states.entries[api_key.pk] = keystate.Entry(entry.state, entry.read_at - 2)

    _database_down(monkeypatch)
    assert api_key_state(key_id=api_key.pk) == held  # expired, but within the grace period

    settings.API_KEY_STATE_GRACE_SECONDS = 1
    with pytest.raises(OperationalError):
        api_key_state(key_id=api_key.pk)


def test_if_resubscribed_then_the_database_is_read_again(django_assert_num_queries):
    api_key, _ = api_key_create(name="x")
    listening()
    api_key_state(key_id=api_key.pk)
    ApiKey.objects.filter(pk=api_key.pk).update(name="renamed")  # a missed change

    keystate.states.forget_all()

    with django_assert_num_queries(1):
        state = api_key_state(key_id=api_key.pk)
    assert state is not None
    assert state.name == "renamed"
    assert keystate.states.entries[api_key.pk].stale is False


def test_if_resubscribed_and_then_the_database_is_down_then_the_stale_state_serves(
    settings, monkeypatch
):
    from django.db import OperationalError

    api_key, _ = api_key_create(name="x")
    listening()
    held = api_key_state(key_id=api_key.pk)
    keystate.states.forget_all()  # Redis blipped: a change may have been missed

    _database_down(monkeypatch)
    assert api_key_state(key_id=api_key.pk) == held

    entry = keystate.states.entries[api_key.pk]
    keystate.states.entries[api_key.pk] = keystate.Entry(
        entry.state, entry.read_at - settings.API_KEY_STATE_GRACE_SECONDS, stale=True
    )
    with pytest.raises(OperationalError):
        api_key_state(key_id=api_key.pk)


def test_if_a_change_is_published_then_another_process_drops_its_state():
    redis = redis_cache(cache)
    if redis is None:
        pytest.skip("REDIS_URL is not set")
    api_key, _ = api_key_create(name="x")
    listening()
    api_key_state(key_id=api_key.pk)
    ApiKey.objects.filter(pk=api_key.pk).update(revoked=True)  # written by another process

    client = redis.client()
    assert client is not None
    client.publish(keystate.channel(), f"{api_key.pk}:revoked")  # ... which says so
    deadline = time.monotonic() + 2
    while cached_state_revoked(api_key.pk) is False:
        assert time.monotonic() < deadline, "the revocation was not heard"
        time.sleep(0.005)

    assert cached_state(api_key.pk).revoked is True
