"""Admin logins: django-axes lockout per username and client address, audit, and the
per-address rate that keeps password guessers from starving the API of CPU."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.auth.models import AbstractBaseUser, User
from django.core.cache.backends.locmem import LocMemCache
from django.test import Client

from movierec import guards

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
PASSWORD = "correct horse battery staple"
LOCKED = (
    "Too many failed logins for this account from your address: try again in 15 minutes, "
    "or ask another administrator to unlock it (python manage.py axes_reset_username USERNAME)."
)


@pytest.fixture(autouse=True)
def _no_rate_limit_unless_asked(settings: Any) -> None:
    # The per-address counter lives in the shared cache: tests that do not test it keep it
    # out of the way of each other (and of parallel test processes).
    settings.ADMIN_LOGIN_RATE = "100000/min"


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_superuser("admin", "admin@example.org", PASSWORD)


def attempt(client: Client, password: str, username: str = "admin", **extra: Any) -> Any:
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_if_password_right_then_logged_in(staff: User) -> None:
    client = Client()

    response = attempt(client, PASSWORD)

    assert response.status_code == 302
    assert logged_in(client)


def test_if_failures_reach_the_limit_then_even_the_right_password_is_locked_out(
    staff: User,
) -> None:
    client = Client()
    for _ in range(4):
        assert attempt(client, "wrong").status_code == 200  # the form again, with its error
    assert attempt(client, "wrong").status_code == 429  # the fifth failure locks

    response = attempt(client, PASSWORD)

    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    assert not logged_in(client)


def test_if_failures_stay_below_the_limit_then_the_right_password_works_and_resets(
    staff: User,
) -> None:
    client = Client()
    for _ in range(4):
        attempt(client, "wrong")

    assert attempt(client, PASSWORD).status_code == 302
    assert AccessAttempt.objects.filter(username="admin").count() == 0


def test_if_limit_configured_then_it_applies(staff: User, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 2
    client = Client()
    attempt(client, "wrong")
    attempt(client, "wrong")

    assert attempt(client, PASSWORD).status_code == 429


def test_if_locked_out_then_the_password_is_not_even_hashed(staff: User) -> None:
    client = Client()
    for _ in range(5):
        attempt(client, "wrong")

    with mock.patch.object(AbstractBaseUser, "check_password") as check:
        assert attempt(client, PASSWORD).status_code == 429

    check.assert_not_called()


def test_if_locked_out_from_one_address_then_another_address_can_still_log_in(
    staff: User,
) -> None:
    for _ in range(5):
        attempt(Client(), "wrong", REMOTE_ADDR="198.51.100.7")

    assert attempt(Client(), PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 429
    assert attempt(Client(), PASSWORD, REMOTE_ADDR="203.0.113.9").status_code == 302


def test_if_no_proxy_is_trusted_then_a_forged_forwarded_for_does_not_escape_the_lockout(
    staff: User,
) -> None:
    for number in range(5):
        attempt(Client(), "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{number}")

    assert attempt(Client(), PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.99").status_code == 429


def test_if_behind_one_proxy_then_the_forwarded_client_address_is_counted(
    staff: User, settings: Any
) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    for _ in range(5):
        attempt(Client(), "wrong", HTTP_X_FORWARDED_FOR="198.51.100.7")

    assert attempt(Client(), PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 429
    # Same proxy (REMOTE_ADDR), another client behind it: not locked out.
    assert attempt(Client(), PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 302
    assert AccessAttempt.objects.get().ip_address == "198.51.100.7"


def test_attempts_are_audited_and_listed_in_admin(staff: User) -> None:
    for _ in range(3):
        attempt(Client(), "wrong", username="root", REMOTE_ADDR="198.51.100.7")
    admin = Client()
    admin.force_login(staff)

    record = AccessAttempt.objects.get(username="root")
    assert (record.ip_address, record.failures_since_start) == ("198.51.100.7", 3)
    assert AccessFailureLog.objects.filter(username="root").count() == 3
    for page in ("accessattempt", "accessfailurelog", "accesslog"):
        response = admin.get(f"/admin/axes/{page}/")
        assert response.status_code == 200
    assert "root" in admin.get("/admin/axes/accessattempt/").content.decode()


@pytest.fixture
def private_throttle_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    # Parallel test processes share one Redis and clear it between tests: a counter there
    # can vanish mid-test. This process's memory holds it instead.
    monkeypatch.setattr(guards.AdminLoginThrottle, "cache", LocMemCache("admin-login", {}))


def test_if_one_address_tries_many_usernames_then_429_before_any_hashing(
    staff: User, settings: Any, private_throttle_cache: None
) -> None:
    settings.ADMIN_LOGIN_RATE = "3/min"
    client = Client()
    for number in range(3):
        assert attempt(client, "wrong", username=f"user{number}").status_code == 200

    with mock.patch("django.contrib.auth.backends.ModelBackend.authenticate") as backend:
        response = attempt(client, "wrong", username="user4")

    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert response.content.decode() == (
        "Too many login attempts from your address: try again in 60 seconds."
    )
    backend.assert_not_called()


def test_if_admin_login_page_is_only_viewed_then_it_is_not_rate_limited(
    staff: User, settings: Any, private_throttle_cache: None
) -> None:
    settings.ADMIN_LOGIN_RATE = "1/min"
    client = Client()
    for _ in range(3):
        assert client.get(LOGIN).status_code == 200
