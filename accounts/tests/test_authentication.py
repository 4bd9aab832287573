"""Bearer tokens on a protected endpoint: every way a token can be wrong, and key state."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import TokenError

from accounts.authentication import ApiKeyJWTAuthentication, VerifiedTokens, issue_token
from accounts.models import ApiKey
from accounts.selectors import key_state_forget_all
from accounts.services import api_key_create, api_key_revoke, api_key_update
from accounts.tests.helpers import b64url, sign, token_payload, unsigned

pytestmark = [pytest.mark.django_db, pytest.mark.urls("accounts.tests.urls")]

URL = "/api/protected"
CHALLENGE = 'Bearer realm="api"'
NOT_PROVIDED = {
    "detail": "Authentication credentials were not provided.",
    "code": "not_authenticated",
}
BAD_HEADER = {
    "detail": "Invalid Authorization header: expected 'Bearer <token>'.",
    "code": "bad_authorization_header",
}
TOKEN_NOT_VALID = {"detail": "Token is invalid or expired.", "code": "token_not_valid"}
INVALID_KEY = {"detail": "Invalid, revoked or expired API key.", "code": "invalid_key"}


def get(token: str | None = None, *, header: str | None = None):
    if header is None and token is not None:
        header = f"Bearer {token}"
    headers = {"Authorization": header} if header is not None else {}
    return APIClient().get(URL, headers=headers)


def assert_401(response, body):
    assert response.status_code == 401
    assert response.json() == body
    assert response["WWW-Authenticate"] == CHALLENGE


def obtain(raw_key: str) -> str:
    response = APIClient().post("/api/authenticate", {"key": raw_key}, format="json")
    assert response.status_code == 200, response.content
    return str(response.json()["token"])


def test_if_token_valid_then_the_principal_is_the_api_key(api_key, auth_token):
    key, _ = api_key

    response = get(auth_token)

    assert response.status_code == 200
    body = response.json()
    assert (body["key_id"], body["name"], body["prefix"]) == (key.pk, key.name, key.prefix)
    assert body["claims"]["api_key_id"] == key.pk


def test_auth_client_fixture_is_authenticated(auth_client):
    assert auth_client.get(URL).status_code == 200


def test_if_no_header_then_401_not_authenticated():
    assert_401(get(), NOT_PROVIDED)


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Token abc", "bearer"])
def test_if_other_scheme_then_401(header):
    response = get(header=header)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == CHALLENGE


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Bearer a b"])
def test_if_bearer_header_malformed_then_401(header):
    assert_401(get(header=header), BAD_HEADER)


def test_scheme_is_case_insensitive(auth_token):
    assert get(header=f"bearer {auth_token}").status_code == 200


@pytest.mark.parametrize("token", ["abc", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.", "x" * 400])
def test_if_token_garbage_then_401(token):
    assert_401(get(token), TOKEN_NOT_VALID)


# Without leeway, and with one: a token verified once still expires after the leeway.
@pytest.mark.parametrize("leeway", [0, 30])
def test_if_token_expired_then_401(api_key, settings, leeway):
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "LEEWAY": leeway}
    start = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        token = obtain(api_key[1])
        assert get(token).status_code == 200
    with time_machine.travel(start + timedelta(seconds=3599 + leeway), tick=False):
        assert get(token).status_code == 200
    with time_machine.travel(start + timedelta(seconds=3600 + leeway), tick=False):
        assert_401(get(token), TOKEN_NOT_VALID)


def test_if_the_same_token_comes_again_then_its_signature_is_checked_once(auth_token, monkeypatch):
    decoded: list[str] = []
    decode = TokenBackend.decode

    def counted(self, token, verify=True):  # type: ignore[no-untyped-def]
        decoded.append(token)
        return decode(self, token, verify)

    monkeypatch.setattr(TokenBackend, "decode", counted)

    statuses = [get(auth_token).status_code for _ in range(3)]

    assert statuses == [200, 200, 200]
    assert decoded == [auth_token]


def test_if_verified_tokens_reach_their_limit_then_they_start_again(api_key):
    raw_key = api_key[1]
    tokens = VerifiedTokens(limit=2)
    first, second, third = obtain(raw_key), obtain(raw_key), obtain(raw_key)

    for token in (first, second, first, third):
        assert tokens.verify(token)["api_key_id"] == api_key[0].pk

    assert list(tokens.entries) == [third]


def test_if_a_token_fails_then_it_is_not_held(auth_token):
    forged = f"{auth_token[:-4]}AAAA"
    tokens = VerifiedTokens()

    with pytest.raises(TokenError):
        tokens.verify(forged)

    assert tokens.entries == {}


def test_if_lifetime_short_then_token_expires_after_it(api_key, settings):
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "ACCESS_TOKEN_LIFETIME": timedelta(seconds=2)}
    start = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        token = obtain(api_key[1])
    with time_machine.travel(start + timedelta(seconds=2), tick=False):
        assert_401(get(token), TOKEN_NOT_VALID)


def test_if_payload_tampered_then_401(api_key, auth_token):
    header, _, signature = auth_token.split(".")
    claims = token_payload(auth_token)
    other, _ = api_key_create(name="other")
    claims["api_key_id"] = other.pk
    forged = f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"

    assert_401(get(forged), TOKEN_NOT_VALID)


def test_if_signed_with_another_secret_then_401(auth_token):
    forged = sign(token_payload(auth_token), key="not-the-signing-key-" * 3)

    assert_401(get(forged), TOKEN_NOT_VALID)


def test_if_alg_none_then_401(auth_token):
    assert_401(get(unsigned(token_payload(auth_token))), TOKEN_NOT_VALID)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_if_other_algorithm_with_the_right_secret_then_401(auth_token, algorithm):
    assert_401(get(sign(token_payload(auth_token), algorithm=algorithm)), TOKEN_NOT_VALID)


@pytest.mark.parametrize(
    ("change", "value"),
    [("token_type", "refresh"), ("api_key_id", "1"), ("api_key_id", None), ("jti", None)],
)
def test_if_claims_wrong_but_signed_then_401(auth_token, change, value):
    claims = token_payload(auth_token)
    if value is None:
        del claims[change]
    else:
        claims[change] = value

    assert_401(get(sign(claims)), TOKEN_NOT_VALID)


def test_if_signing_key_changes_then_old_tokens_stop_working(auth_token, settings):
    assert get(auth_token).status_code == 200

    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "SIGNING_KEY": "rotated-" * 8}

    assert_401(get(auth_token), TOKEN_NOT_VALID)


def test_tokens_are_signed_with_the_configured_secret_not_a_random_one(api_key, auth_token):
    # Any process with the same setting can verify it: the secret comes from settings/env.
    claims = jwt.decode(auth_token, django_settings.SIMPLE_JWT["SIGNING_KEY"], algorithms=["HS256"])
    assert claims["api_key_id"] == api_key[0].pk


def test_if_key_revoked_through_the_service_then_401_at_once(api_key, auth_token):
    assert get(auth_token).status_code == 200

    api_key_revoke(api_key=api_key[0])

    assert_401(get(auth_token), INVALID_KEY)


def test_if_key_revoked_behind_the_cache_then_401_within_the_state_ttl(api_key, settings):
    settings.API_KEY_STATE_TTL = 1
    auth_token = obtain(api_key[1])
    assert get(auth_token).status_code == 200  # state now cached
    ApiKey.objects.filter(pk=api_key[0].pk).update(revoked=True)  # not through the service

    assert get(auth_token).status_code == 200  # still served from the cache, no DB read
    time.sleep(1.1)  # real time: a Redis TTL does not follow time-machine

    assert_401(get(auth_token), INVALID_KEY)


def test_if_key_expires_after_issue_then_401_from_the_cached_expiry_without_a_query(api_key):
    key, raw = api_key
    start = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        token = obtain(raw)
        api_key_update(api_key=key, name=key.name, expires_at=start + timedelta(seconds=1))
        assert get(token).status_code == 200
    with (
        time_machine.travel(start + timedelta(seconds=2), tick=False),
        CaptureQueriesContext(connection) as queries,
    ):
        response = get(token)

    assert_401(response, INVALID_KEY)
    assert len(queries) == 0


def test_if_key_deleted_then_401(api_key, auth_token):
    ApiKey.objects.filter(pk=api_key[0].pk).delete()
    key_state_forget_all()

    assert_401(get(auth_token), INVALID_KEY)


def test_if_state_cached_then_a_request_makes_no_query(auth_token, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert get(auth_token).status_code == 200
        assert get(auth_token).status_code == 200


def test_if_state_not_cached_then_one_select_of_the_key(auth_token):
    key_state_forget_all()
    with CaptureQueriesContext(connection) as queries:
        assert get(auth_token).status_code == 200
        assert get(auth_token).status_code == 200

    selects = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1
    assert "accounts_apikey" in selects[0]


def test_authenticate_header_is_a_bearer_challenge(rf):
    assert ApiKeyJWTAuthentication().authenticate_header(rf.get("/")) == CHALLENGE


def test_issue_token_names_the_key_in_its_claims(api_key):
    key, _ = api_key

    token, expires_in = issue_token(key)

    claims = token_payload(token)
    assert expires_in == 3600
    assert {k: claims[k] for k in ("api_key_id", "api_key_prefix", "api_key_name")} == {
        "api_key_id": key.pk,
        "api_key_prefix": key.prefix,
        "api_key_name": key.name,
    }
