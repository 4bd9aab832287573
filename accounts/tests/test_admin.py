"""Django admin: the raw key is shown exactly once, on the page after saving."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib import admin
from django.contrib.sessions.models import Session
from django.utils import timezone
from rest_framework_api_key.models import APIKey as LibraryAPIKey

from accounts.models import ApiKey
from accounts.selectors import api_key_state
from accounts.services import api_key_create, api_key_revoke
from accounts.tests.helpers import cached_state

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/accounts/apikey/"
STYLE = "padding:1px 7px;border-radius:9px;font-weight:600"


def add_key(client, name: str = "partner", date: str = "", time: str = "", **extra):
    data = {"name": name, "expiry_date_0": date, "expiry_date_1": time, **extra}
    return client.post(ADD_URL + "add/", data, follow=True)


def test_if_key_added_then_the_raw_key_is_shown_exactly_once(admin_client):
    response = add_key(admin_client)

    assert response.status_code == 200
    api_key = ApiKey.objects.get(name="partner")
    page = response.content.decode()
    found = re.findall(re.escape(api_key.prefix) + r"\.[A-Za-z0-9]{32}", page)
    assert len(found) == 1
    raw = found[0]
    assert api_key.is_valid(raw)
    assert response.redirect_chain[-1][0] == ADD_URL  # the changelist, after the redirect

    secret = raw.partition(".")[2]
    for url in [ADD_URL, f"{ADD_URL}{api_key.pk}/change/", ADD_URL]:
        again = admin_client.get(url).content.decode()
        assert secret not in again
        assert api_key.hashed_key not in again


def test_the_raw_key_is_not_kept_in_the_session_store(admin_client):
    response = add_key(admin_client)
    api_key = ApiKey.objects.get(name="partner")
    raw = re.findall(re.escape(api_key.prefix) + r"\.[A-Za-z0-9]{32}", response.content.decode())
    secret = raw[0].partition(".")[2]

    assert all(secret not in str(session.get_decoded()) for session in Session.objects.all())


def test_if_key_added_with_expiry_then_it_is_stored(admin_client):
    add_key(admin_client, date="2999-01-02", time="03:04:05")

    expiry_date = ApiKey.objects.get(name="partner").expiry_date
    assert expiry_date is not None
    assert expiry_date.isoformat() == "2999-01-02T03:04:05+00:00"


def test_if_expiry_in_the_past_then_form_error_and_no_key(admin_client):
    response = add_key(admin_client, date="2000-01-01", time="00:00:00")

    assert "The expiry must be in the future." in response.content.decode()
    assert not ApiKey.objects.exists()


def test_if_name_blank_then_form_error_and_no_key(admin_client):
    response = add_key(admin_client, name="   ")

    assert "This field is required." in response.content.decode()
    assert not ApiKey.objects.exists()


def test_changelist_shows_the_key_columns(admin_client):
    api_key, _ = api_key_create(name="listed")

    page = admin_client.get(ADD_URL).content.decode()

    for column in [
        "Name", "Prefix", "Status", "Created", "Expires (UTC)", "Last used (UTC)",
        "Uses",
    ]:  # fmt: skip
        assert f">{column}<" in page
    assert api_key.prefix in page


def _cells(page: str, column: str) -> list[str]:
    found = re.findall(rf'<t[dh] class="field-{column}"[^>]*>(.*?)</t[dh]>', page, re.S)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in found]


def test_if_keys_listed_then_status_reads_active_revoked_expired_in_their_colours(admin_client):
    live, _ = api_key_create(name="live", expires_at=timezone.now() + timedelta(days=1))
    gone, _ = api_key_create(name="gone")
    api_key_revoke(api_key=gone)
    old, _ = api_key_create(name="old")
    ApiKey.objects.filter(pk=old.pk).update(expiry_date=datetime(2020, 5, 6, 7, 8, tzinfo=UTC))
    ApiKey.objects.filter(pk=live.pk).update(
        last_used_at=datetime(2026, 11, 30, 9, 15, tzinfo=UTC), use_count=1234
    )

    page = admin_client.get(ADD_URL).content.decode()

    assert _cells(page, "name") == ["old", "gone", "live"]
    assert _cells(page, "status") == ["Expired", "Revoked", "Active"]
    assert "color:#116329;background:#dff3e3;" + STYLE + '">Active<' in page
    assert "color:#b0161b;background:#fde2e1;" + STYLE + '">Revoked<' in page
    assert "color:#8a4b00;background:#fff0d1;" + STYLE + '">Expired<' in page
    expires = _cells(page, "expires")
    assert expires[:2] == ["2020-05-06 07:08", "never"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", expires[2])
    assert _cells(page, "last_used") == ["never", "never", "2026-11-30 09:15"]
    assert _cells(page, "uses") == ["0", "0", "1,234"]
    assert len(_cells(page, "created_at")) == 3
    assert re.search(r'title="2026-11-30 09:15:00 UTC">2026-11-30 09:15<', page)


@pytest.mark.parametrize(
    ("status", "names"), [("active", ["live"]), ("revoked", ["gone"]), ("expired", ["old"])]
)
def test_if_status_filter_chosen_then_only_those_keys_list(admin_client, status, names):
    api_key_create(name="live")
    gone, _ = api_key_create(name="gone")
    api_key_revoke(api_key=gone)
    old, _ = api_key_create(name="old")
    ApiKey.objects.filter(pk=old.pk).update(expiry_date=datetime(2020, 5, 6, tzinfo=UTC))

    page = admin_client.get(ADD_URL, {"status": status}).content.decode()

    assert _cells(page, "name") == names


def test_if_key_form_opened_then_expiry_names_its_time_zone(admin_client):
    api_key, _ = api_key_create(name="zoned")

    for url in (ADD_URL + "add/", f"{ADD_URL}{api_key.pk}/change/"):
        page = admin_client.get(url).content.decode()
        assert "Date and time in UTC (the server's time zone)." in page


def test_changelist_search_by_prefix(admin_client):
    one, _ = api_key_create(name="one")
    api_key_create(name="two")

    page = admin_client.get(ADD_URL, {"q": one.prefix}).content.decode()

    assert "1 result" in page


def test_revoke_action_revokes_and_invalidates_the_cached_state(admin_client):
    one, _ = api_key_create(name="one")
    two, _ = api_key_create(name="two")
    api_key_revoke(api_key=two)
    assert cached_state(one.pk).revoked is False

    response = admin_client.post(
        ADD_URL,
        {"action": "revoke_selected", "_selected_action": [one.pk, two.pk]},
        follow=True,
    )

    page = response.content.decode()
    assert "Revoked 1 key(s)." in page
    assert "1 key(s) were already revoked." in page
    assert ApiKey.objects.get(pk=one.pk).revoked
    assert cached_state(one.pk).revoked is True


def test_a_revoked_key_cannot_be_unrevoked_or_edited(admin_client):
    api_key, _ = api_key_create(name="gone")
    api_key_revoke(api_key=api_key)

    response = admin_client.post(
        f"{ADD_URL}{api_key.pk}/change/",
        {"name": "back", "revoked": "on", "expiry_date_0": "", "expiry_date_1": ""},
        follow=True,
    )

    assert response.status_code == 200
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert stored.revoked
    assert stored.name == "gone"


def test_change_page_edits_name_and_expiry_and_updates_cached_state(admin_client):
    api_key, _ = api_key_create(name="before")
    api_key_state(key_id=api_key.pk)

    admin_client.post(
        f"{ADD_URL}{api_key.pk}/change/",
        {"name": "after", "expiry_date_0": "2999-01-01", "expiry_date_1": "00:00:00"},
    )

    assert ApiKey.objects.get(pk=api_key.pk).name == "after"
    state = cached_state(api_key.pk)
    assert state.name == "after"
    assert state.expires_at is not None
    assert state.expires_at.year == 2999


def test_keys_cannot_be_deleted_only_revoked(admin_client):
    api_key, _ = api_key_create(name="kept")

    response = admin_client.post(f"{ADD_URL}{api_key.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert ApiKey.objects.filter(pk=api_key.pk).exists()


def test_the_library_model_has_no_second_admin_page():
    assert not admin.site.is_registered(LibraryAPIKey)
    assert admin.site.is_registered(ApiKey)


def test_staff_without_permission_cannot_add(client, django_user_model):
    user = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(user)

    assert client.get(ADD_URL + "add/").status_code == 403
