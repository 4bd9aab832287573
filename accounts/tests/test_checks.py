"""accounts.checks: the signing key must be long enough for HS256."""

from __future__ import annotations

from accounts.checks import check_jwt_signing_key


def test_if_signing_key_long_enough_then_no_warning(settings):
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "SIGNING_KEY": "k" * 32}

    assert check_jwt_signing_key() == []


def test_if_signing_key_short_then_warning(settings):
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "SIGNING_KEY": "short"}

    [message] = check_jwt_signing_key()

    assert message.id == "accounts.W001"
    assert "5 bytes" in message.msg
