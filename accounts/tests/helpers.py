"""Helpers for the accounts tests: hand-made JWTs (to forge, tamper and mis-sign tokens)."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
from django.conf import settings

from accounts.selectors import KeyState, api_key_state


def cached_state(key_id: int) -> KeyState:
    """`api_key_state` for a key that exists."""
    state = api_key_state(key_id=key_id)
    assert state is not None
    return state


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def token_payload(token: str) -> dict[str, Any]:
    return dict(json.loads(b64url_decode(token.split(".")[1])))


def sign(payload: dict[str, Any], *, key: str | None = None, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, key or settings.SIMPLE_JWT["SIGNING_KEY"], algorithm=algorithm)


def unsigned(payload: dict[str, Any]) -> str:
    """An `alg: none` token: header and payload, empty signature."""
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64url(json.dumps(payload).encode())}."
