"""POST /api/authenticate: every status with its exact JSON body and headers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from rest_framework.test import APIClient

from accounts.models import ApiKey
from accounts.services import api_key_create, api_key_revoke, api_key_usage_flush
from accounts.tests.helpers import token_payload

pytestmark = pytest.mark.django_db

URL = "/api/authenticate"
INVALID_KEY = {"detail": "Invalid, revoked or expired API key.", "code": "invalid_key"}


def post_raw(client: APIClient, body: str, content_type: str = "application/json"):
    return client.generic("POST", URL, body, content_type=content_type)


def invalid_input(**errors: list[str]) -> dict[str, object]:
    return {"detail": "Invalid input.", "code": "invalid", "errors": errors}


def test_if_key_valid_then_200_with_bearer_token(api_client, api_key):
    key, raw = api_key

    response = api_client.post(URL, {"key": raw}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    claims = token_payload(body["token"])
    assert claims["api_key_id"] == key.pk
    assert claims["api_key_prefix"] == key.prefix
    assert claims["api_key_name"] == "test client"
    assert claims["token_type"] == "access"
    assert claims["exp"] - claims["iat"] == 3600
    assert response["Cache-Control"] == "no-store"


def test_if_lifetime_configured_then_expires_in_follows(api_client, api_key, settings):
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "ACCESS_TOKEN_LIFETIME": timedelta(seconds=90)}

    body = api_client.post(URL, {"key": api_key[1]}, format="json").json()

    assert body["expires_in"] == 90
    claims = token_payload(body["token"])
    assert claims["exp"] - claims["iat"] == 90


@pytest.mark.parametrize(
    "raw",
    [
        "wrong",
        "",
        "abcdefgh.",
        "abcdefgh.0123456789abcdef0123456789abcdef",
        "x" * 5000,
    ],
    ids=["no-dot", "blank", "no-secret", "unknown-prefix", "long"],
)
def test_if_key_wrong_then_401(api_client, api_key, raw):
    response = api_client.post(URL, {"key": raw}, format="json")

    assert response.status_code == 401
    assert response.json() == INVALID_KEY
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_if_secret_wrong_for_known_prefix_then_401(api_client, api_key):
    key, raw = api_key
    wrong = key.prefix + "." + ("A" if raw[-1] != "A" else "B") * 32

    response = api_client.post(URL, {"key": wrong}, format="json")

    assert response.status_code == 401
    assert response.json() == INVALID_KEY


def test_if_key_padded_with_whitespace_then_401(api_client, api_key):
    response = api_client.post(URL, {"key": f" {api_key[1]} "}, format="json")

    assert response.status_code == 401
    assert response.json() == INVALID_KEY


def test_if_key_revoked_then_401(api_client, api_key):
    key, raw = api_key
    api_key_revoke(api_key=key)

    response = api_client.post(URL, {"key": raw}, format="json")

    assert response.status_code == 401
    assert response.json() == INVALID_KEY
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_if_key_expired_then_401(api_client):
    start = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        _, raw = api_key_create(name="short", expires_at=start + timedelta(minutes=5))
        assert api_client.post(URL, {"key": raw}, format="json").status_code == 200
    with time_machine.travel(start + timedelta(minutes=5, seconds=1), tick=False):
        response = api_client.post(URL, {"key": raw}, format="json")

    assert response.status_code == 401
    assert response.json() == INVALID_KEY


def test_if_key_expires_soon_then_token_lifetime_is_cut_to_the_expiry(api_client):
    start = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        _, raw = api_key_create(name="short", expires_at=start + timedelta(minutes=10))
        body = api_client.post(URL, {"key": raw}, format="json").json()

    assert body["expires_in"] == 600
    assert token_payload(body["token"])["exp"] == int((start + timedelta(minutes=10)).timestamp())


def test_if_json_malformed_then_400_naming_the_parse_error(api_client):
    response = post_raw(api_client, '{"key":')

    assert response.status_code == 400
    assert response.json() == {
        "detail": "JSON parse error - Expecting value: line 1 column 8 (char 7)",
        "code": "parse_error",
    }


@pytest.mark.parametrize(
    ("body", "kind"),
    [("[]", "array"), ('"x"', "string"), ("5", "number"), ("true", "boolean"), ("null", "null")],
)
def test_if_body_not_an_object_then_400(api_client, body, kind):
    response = post_raw(api_client, body)

    assert response.status_code == 400
    assert response.json() == invalid_input(
        non_field_errors=[f"Expected a JSON object, but got {kind}."]
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "This field is required."),
        ({"other": "x"}, "This field is required."),
        ({"key": None}, "This field may not be null."),
        ({"key": 5}, "Must be a string."),
        ({"key": 1.5}, "Must be a string."),
        ({"key": True}, "Must be a string."),
        ({"key": ["abc"]}, "Must be a string."),
        ({"key": {"k": "v"}}, "Must be a string."),
    ],
)
def test_if_key_missing_or_not_a_string_then_400_naming_key(api_client, body, message):
    response = api_client.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json() == invalid_input(key=[message])


@pytest.mark.parametrize(
    "raw",
    [
        '{"key": "abcdefgh.\\u0000secret"}',  # NUL, which Postgres cannot even compare
        '{"key": "abcdefgh.s\\u00e9cret"}',  # outside the key alphabet
        '{"key": "abcd\\u00e9fg.secret"}',
    ],
)
def test_if_key_is_a_string_that_cannot_be_a_key_then_401_not_400_or_500(api_client, api_key, raw):
    # The body has the documented shape (a string), so this is a wrong key, like any other.
    # (A lone surrogate is not text at all: refused by the parser, movierec/tests/test_guards.py.)
    response = post_raw(api_client, raw)

    assert response.status_code == 401
    assert response.json() == INVALID_KEY


def test_if_body_empty_then_400_key_required(api_client):
    response = post_raw(api_client, "")

    assert response.status_code == 400
    assert response.json() == invalid_input(key=["This field is required."])


def test_if_body_too_large_then_413(api_client, api_key):
    limit = settings.API_MAX_BODY_BYTES
    body = json.dumps({"key": api_key[1], "pad": "x" * limit})

    response = post_raw(api_client, body)

    assert response.status_code == 413
    assert response.json() == {
        "detail": f"Request body is larger than {limit} bytes.",
        "code": "request_too_large",
    }


def test_if_get_then_405_allowing_post_only(api_client):
    response = api_client.get(URL)

    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "GET" not allowed.', "code": "method_not_allowed"}
    assert response["Allow"] == "POST"


def test_if_options_then_405_too(api_client):
    response = api_client.options(URL)

    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_if_content_type_not_json_then_415(api_client, api_key):
    response = post_raw(api_client, f"key={api_key[1]}", content_type="text/plain")

    assert response.status_code == 415
    assert response.json() == {
        "detail": 'Unsupported media type "text/plain" in request.',
        "code": "unsupported_media_type",
    }


def test_if_form_encoded_then_415(api_client, api_key):
    response = api_client.post(URL, {"key": api_key[1]})  # multipart, as a browser form would

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_if_trailing_slash_then_404_not_500(api_client, api_key):
    response = api_client.post(URL + "/", {"key": api_key[1]}, format="json")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_if_authenticate_fails_then_the_raw_key_is_not_logged(api_client, api_key, caplog):
    _, raw = api_key
    caplog.set_level("DEBUG")

    api_client.post(URL, {"key": raw[:-1] + "!"}, format="json")
    api_client.post(URL, {"key": raw}, format="json")
    api_key_create(name="another")

    secret = raw.partition(".")[2]
    assert secret not in caplog.text
    assert all(secret not in str(record.__dict__) for record in caplog.records)


def test_authenticate_reads_the_key_once_and_counts_usage_in_process(
    api_client, api_key, django_assert_num_queries
):
    for _ in range(2):
        with django_assert_num_queries(1):  # SELECT the key; usage is counted in process
            assert api_client.post(URL, {"key": api_key[1]}, format="json").status_code == 200

    api_key_usage_flush()
    assert ApiKey.objects.get(pk=api_key[0].pk).use_count == 2


def test_openapi_schema_documents_every_status():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)

    operation = schema["paths"]["/api/authenticate"]["post"]
    assert sorted(operation["responses"]) == [
        "200",
        "400",
        "401",
        "405",
        "411",
        "413",
        "415",
        "429",
    ]
    assert "security" not in operation
    request_schema = schema["components"]["schemas"]["AuthenticateRequest"]
    assert request_schema["required"] == ["key"]
