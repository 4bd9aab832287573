"""accounts: the only module that imports simplejwt (API key -> access token -> principal).

Tokens are HS256 JWTs signed with ``SIMPLE_JWT["SIGNING_KEY"]`` (``JWT_SIGNING_KEY``, else the
Django secret key). A token's signature and claims are checked once per process
(`VerifiedTokens`; its expiry on every use). Their claims name the key; each request re-checks
the key's state through `accounts.selectors.api_key_state` (held in process, no round trip),
so a revoked or expired key stops working within ``API_KEY_STATE_TTL`` seconds, within
milliseconds when revoked through `accounts.services` while Redis carries the news. Uses are
counted in process (`accounts.usage`) and written in batches.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request
from rest_framework_simplejwt import settings as simplejwt_settings
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

# Module imports both ways: services needs `issue_token`, this module `api_key_record_use`.
from accounts import services
from accounts.models import ApiKey
from accounts.selectors import api_key_state

# Only HMAC-SHA256: `alg: none`, other HMAC sizes and public-key algorithms are refused.
ALGORITHM = "HS256"
KEY_ID_CLAIM = "api_key_id"
KEY_PREFIX_CLAIM = "api_key_prefix"
KEY_NAME_CLAIM = "api_key_name"
AUTH_SCHEME = "Bearer"


@dataclass(frozen=True, slots=True)
class ApiKeyPrincipal:
    """``request.user`` for a request authenticated with a token: the key, not a Django user."""

    pk: int
    name: str
    prefix: str
    is_authenticated: bool = True
    is_anonymous: bool = False

    @property
    def id(self) -> int:
        return self.pk

    def __str__(self) -> str:
        return f"API key {self.name} ({self.prefix})"


def _jwt_settings() -> Any:
    # Looked up on the module each time: simplejwt replaces the object when SIMPLE_JWT changes.
    return simplejwt_settings.api_settings


@lru_cache(maxsize=4)
def _backend(signing_key: str, leeway: Any, audience: Any, issuer: Any) -> TokenBackend:
    return TokenBackend(ALGORITHM, signing_key, "", audience, issuer, None, leeway)


class ApiKeyAccessToken(AccessToken):
    """simplejwt's access token, with the backend built from the settings of the moment.

    simplejwt freezes its backend at import time; reading the settings on use lets tests (and
    `override_settings`) change the signing key, and pins the algorithm to HS256.
    """

    @property
    def token_backend(self) -> TokenBackend:
        s = _jwt_settings()
        return _backend(s.SIGNING_KEY, s.LEEWAY, s.AUDIENCE, s.ISSUER)


@dataclass(frozen=True, slots=True)
class _Verified:
    token: ApiKeyAccessToken
    backend: TokenBackend  # the settings it was verified under
    valid_until: float  # epoch seconds: its ``exp`` plus the leeway


class VerifiedTokens:
    """Tokens this process has verified, by their exact text: a token is immutable, so its
    signature and claims need checking once, not on every request.

    A hit still checks expiry against the clock (the same rule as simplejwt: valid while
    ``now < exp + leeway``) and is used only under the settings it was verified with; the
    key's state is checked on every request as before. Only tokens that passed every check
    are held, so invalid tokens cannot fill it; at ``limit`` entries it starts again empty.
    """

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self.entries: dict[str, _Verified] = {}

    def verify(self, raw_token: str) -> ApiKeyAccessToken:
        """The verified token for ``raw_token``. Raises simplejwt's `TokenError`."""
        s = _jwt_settings()
        backend = _backend(s.SIGNING_KEY, s.LEEWAY, s.AUDIENCE, s.ISSUER)
        hit = self.entries.get(raw_token)
        if hit is not None and hit.backend is backend and time.time() < hit.valid_until:
            return hit.token
        token = ApiKeyAccessToken(raw_token)  # type: ignore[arg-type]
        valid_until = float(token["exp"]) + backend.get_leeway().total_seconds()
        if len(self.entries) >= self.limit:
            self.entries = {}
        self.entries[raw_token] = _Verified(token, backend, valid_until)
        return token


verified_tokens = VerifiedTokens()


def issue_token(api_key: ApiKey) -> tuple[str, int]:
    """A signed access token for ``api_key`` and its lifetime in seconds.

    The lifetime is ``SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]``, cut short so that the token never
    outlives the key's own expiry.
    """
    token = ApiKeyAccessToken()
    lifetime: timedelta = _jwt_settings().ACCESS_TOKEN_LIFETIME
    if api_key.expiry_date is not None:
        lifetime = min(lifetime, api_key.expiry_date - token.current_time)
    token.set_exp(lifetime=lifetime)
    token[KEY_ID_CLAIM] = api_key.pk
    token[KEY_PREFIX_CLAIM] = api_key.prefix
    token[KEY_NAME_CLAIM] = api_key.name
    expires_in = max(0, math.floor(lifetime.total_seconds()))
    return str(token), expires_in


class ApiKeyJWTAuthentication(BaseAuthentication):
    """``Authorization: Bearer <token>`` -> ``(ApiKeyPrincipal, token)``.

    No header (or another scheme) -> None, so ``IsAuthenticated`` answers 401; anything wrong
    with a bearer token -> `AuthenticationFailed` (401, ``WWW-Authenticate: Bearer``).
    """

    def authenticate(self, request: Request) -> tuple[ApiKeyPrincipal, ApiKeyAccessToken] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != AUTH_SCHEME.lower():
            return None
        raw_token = credentials.strip()
        if not raw_token or " " in raw_token:
            raise exceptions.AuthenticationFailed(
                "Invalid Authorization header: expected 'Bearer <token>'.",
                code="bad_authorization_header",
            )
        try:
            token = verified_tokens.verify(raw_token)
        except TokenError:
            raise exceptions.AuthenticationFailed(
                "Token is invalid or expired.", code="token_not_valid"
            ) from None

        key_id = token.get(KEY_ID_CLAIM)
        if type(key_id) is not int:
            raise exceptions.AuthenticationFailed(
                "Token is invalid or expired.", code="token_not_valid"
            )
        state = api_key_state(key_id=key_id)
        if state is None or not state.is_usable(now=timezone.now()):
            raise exceptions.AuthenticationFailed(
                "Invalid, revoked or expired API key.", code="invalid_key"
            )
        services.api_key_record_use(key_id=state.id)
        return ApiKeyPrincipal(pk=state.id, name=state.name, prefix=state.prefix), token

    def authenticate_header(self, request: Request) -> str:
        return f'{AUTH_SCHEME} realm="api"'
