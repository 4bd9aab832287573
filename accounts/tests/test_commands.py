"""create_api_key and revoke_api_key: thin commands over the services."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import ApiKey
from accounts.services import api_key_create, api_key_revoke, token_obtain_for_key

pytestmark = pytest.mark.django_db

REPO_ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> list[str]:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().splitlines()


def test_create_prints_the_key_alone_on_the_last_line():
    lines = run("create_api_key", "partner")

    raw = lines[-1]
    api_key = ApiKey.objects.get(name="partner")
    assert raw.startswith(api_key.prefix + ".")
    assert api_key.is_valid(raw)
    assert api_key.expiry_date is None
    assert token_obtain_for_key(raw_key=raw).token
    assert all(raw not in line for line in lines[:-1])


def test_create_with_expiry_in_days():
    before = timezone.now()

    lines = run("create_api_key", "partner", "--expires-in", "7")

    api_key = ApiKey.objects.get(name="partner")
    assert api_key.expiry_date is not None
    assert before + timedelta(days=7) <= api_key.expiry_date <= timezone.now() + timedelta(days=7)
    assert "expires" in lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--expires-in", "0"], "must be at least 1 day"),
        (["--expires-in", "-3"], "must be at least 1 day"),
        (["--expires-in", "soon"], "not a whole number of days"),
    ],
)
def test_if_expiry_bad_then_command_error(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_api_key", "partner", *args, stdout=StringIO())

    assert not ApiKey.objects.exists()


@pytest.mark.parametrize(
    ("name", "message"),
    [("   ", "must not be blank"), ("x" * 51, "at most 50 characters")],
)
def test_if_name_bad_then_command_error(name, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_api_key", name, stdout=StringIO())


def test_if_name_missing_then_command_error():
    with pytest.raises(CommandError, match="name"):
        call_command("create_api_key", stdout=StringIO())


def test_revoke_revokes_the_key_with_that_prefix():
    api_key, _ = api_key_create(name="partner")

    lines = run("revoke_api_key", api_key.prefix)

    assert lines == [f"Revoked API key 'partner' (prefix {api_key.prefix})."]
    assert ApiKey.objects.get(pk=api_key.pk).revoked


def test_if_prefix_unknown_then_command_error():
    with pytest.raises(CommandError, match="No API key with prefix 'nope1234'"):
        call_command("revoke_api_key", "nope1234", stdout=StringIO())


def test_if_database_unavailable_then_command_error_and_nothing_revoked(monkeypatch):
    from django.db import OperationalError
    from django.db.models import QuerySet

    api_key, _ = api_key_create(name="partner")

    def unavailable(*args, **kwargs):
        raise OperationalError("connection refused")

    with monkeypatch.context() as patched:
        patched.setattr(QuerySet, "first", unavailable)
        with pytest.raises(CommandError, match="The database is unavailable, nothing was revoked"):
            call_command("revoke_api_key", api_key.prefix, stdout=StringIO())

    assert not ApiKey.objects.get(pk=api_key.pk).revoked


def test_if_redis_unavailable_then_revoke_still_succeeds():
    from django.core.cache import cache

    from movierec.cache import redis_cache

    api_key, _ = api_key_create(name="partner")
    redis = redis_cache(cache)
    if redis is not None:
        redis.breaker.failed(ConnectionError("test"))  # as after a timeout
    try:
        lines = run("revoke_api_key", api_key.prefix)
    finally:
        if redis is not None:
            redis.breaker.succeeded()

    assert lines == [f"Revoked API key 'partner' (prefix {api_key.prefix})."]
    assert ApiKey.objects.get(pk=api_key.pk).revoked


def test_if_already_revoked_then_command_error():
    api_key, _ = api_key_create(name="partner")
    api_key_revoke(api_key=api_key)

    with pytest.raises(CommandError, match="already revoked"):
        call_command("revoke_api_key", api_key.prefix, stdout=StringIO())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["create_api_key", "x", "--expires-in", "0"], "must be at least 1 day"),
        (["revoke_api_key"], "the following arguments are required: prefix"),
    ],
)
def test_bad_input_exits_non_zero_with_a_message(argv, message):
    env = {**os.environ, "DJANGO_TESTING": "1"}
    result = subprocess.run(
        [sys.executable, "manage.py", *argv],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode != 0
    assert message in result.stderr
