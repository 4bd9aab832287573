"""accounts: system checks for the token signing secret."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning, register

# RFC 7518 section 3.2: an HS256 key MUST be at least as long as the hash, 256 bits.
MIN_SIGNING_KEY_BYTES = 32


@register("security")
def check_jwt_signing_key(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    key = str(settings.SIMPLE_JWT.get("SIGNING_KEY") or "")
    if len(key.encode()) >= MIN_SIGNING_KEY_BYTES:
        return []
    return [
        Warning(
            f"The JWT signing key is {len(key.encode())} bytes; HS256 needs at least "
            f"{MIN_SIGNING_KEY_BYTES}.",
            hint="Set JWT_SIGNING_KEY (or DJANGO_SECRET_KEY) to a longer random value, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`.",
            id="accounts.W001",
        )
    ]
