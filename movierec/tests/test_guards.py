"""Hostile input on the API and the probes: every refusal is JSON in the one error shape.

Each case of the hostile-input table gets its exact status and body. The raw WSGI details
(chunked bodies, lying lengths) are set through the test client's environ, as gunicorn would
present them.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestDataTooBig, SuspiciousOperation
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from movierec import guards
from recommender.models import ModelVersion

pytestmark = pytest.mark.django_db

AUTH = "/api/authenticate"
RECOMMEND = "/api/recommend"
GOOD = {"age": 30, "gender": "F", "occupation": "writer"}
LIMIT = settings.API_MAX_BODY_BYTES
TOO_LARGE = {"detail": f"Request body is larger than {LIMIT} bytes.", "code": "request_too_large"}
TOO_DEEP = {"detail": "JSON parse error - nested deeper than 32 levels.", "code": "parse_error"}
SURROGATE = {
    "detail": (
        "JSON parse error - a string holds a lone UTF-16 surrogate (a \\ud800-\\udfff escape "
        "without its pair), which is not text."
    ),
    "code": "parse_error",
}
INVALID_HOST = {"detail": "Invalid Host header.", "code": "invalid_host"}


def post_raw(
    client: Client,
    url: str,
    body: bytes | str,
    *,
    content_type: str = "application/json",
    **extra: Any,
):
    return client.generic("POST", url, body, content_type=content_type, **extra)


def wsgi_input(stream: io.RawIOBase | io.BytesIO) -> dict[str, Any]:
    return {"wsgi.input": stream}


class Unreadable(io.RawIOBase):
    """A wsgi.input that fails the test if anything reads it."""

    def read(self, size: int = -1) -> bytes:
        raise AssertionError("the body was read")


# --- lone surrogates: refused when parsed, so nothing echoed can break rendering ------------


@pytest.mark.parametrize(
    "raw",
    [
        '{"age": 30, "gender": "F", "occupation": "\\ud800"}',
        '{"age": 30, "gender": "\\udfff", "occupation": "writer"}',
        '{"age": 30, "gender": "F", "occupation": "writer", "\\ud83d": 1}',
        '{"age": [["\\ud800"]], "gender": "F", "occupation": "writer"}',
        '{"age": 30, "gender": "F", "occupation": "\\ude00\\ud83d"}',  # pair in the wrong order
    ],
)
def test_if_a_lone_surrogate_in_any_field_then_400_at_parse_time(
    trained: ModelVersion, auth_client: APIClient, raw: str
) -> None:
    response = post_raw(auth_client, RECOMMEND, raw)

    assert response.status_code == 400
    assert response.json() == SURROGATE


def test_if_the_key_holds_a_lone_surrogate_then_400_without_a_token(api_client: APIClient) -> None:
    response = post_raw(api_client, AUTH, '{"key": "ab\\ud800cd"}')

    assert response.status_code == 400
    assert response.json() == SURROGATE


def test_if_a_surrogate_pair_then_it_is_text_and_echoed_in_the_message(
    trained: ModelVersion, auth_client: APIClient
) -> None:
    response = post_raw(
        auth_client, RECOMMEND, '{"age": 30, "gender": "F", "occupation": "\\ud83d\\ude00"}'
    )

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Invalid input.",
        "code": "invalid",
        "errors": {"occupation": ['"\U0001f600" is not a valid choice.']},
    }


def test_if_an_escaped_backslash_looks_like_a_surrogate_then_it_is_plain_text(
    api_client: APIClient,
) -> None:
    response = post_raw(api_client, AUTH, '{"key": "\\\\ud800"}')  # the six characters \ud800

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_key"


# --- charsets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "charset", ["rot13", "base64", "zlib", "hex", "unicode_escape", "utf-7", "no-such-codec", ""]
)
def test_if_charset_is_unknown_or_not_plain_text_then_415_without_a_token(
    api_client: APIClient, charset: str
) -> None:
    response = post_raw(
        api_client, AUTH, '{"key": "x"}', content_type=f"application/json; charset={charset}"
    )

    assert response.status_code == 415
    assert response.json() == {
        "detail": f'Unsupported charset "{charset}" in request: send UTF-8.',
        "code": "unsupported_charset",
    }


def test_if_charset_name_is_long_then_the_message_shortens_it(api_client: APIClient) -> None:
    charset = "x" * 100

    response = post_raw(api_client, AUTH, "{}", content_type=f"application/json; charset={charset}")

    assert response.status_code == 415
    assert (
        response.json()["detail"] == f'Unsupported charset "{"x" * 40}..." in request: send UTF-8.'
    )


@pytest.mark.parametrize("charset", ["utf-16", "UTF-32-LE", "latin-1", "us-ascii", "utf8"])
def test_if_body_is_in_a_declared_text_charset_then_it_is_decoded(
    api_client: APIClient, api_key: tuple[Any, str], charset: str
) -> None:
    body = json.dumps({"key": api_key[1]}).encode(charset)

    response = post_raw(api_client, AUTH, body, content_type=f"application/json; charset={charset}")

    assert response.status_code == 200
    assert set(response.json()) == {"token", "token_type", "expires_in"}


def test_if_bytes_are_not_text_in_the_charset_then_400(api_client: APIClient) -> None:
    response = post_raw(api_client, AUTH, b'{"key": "\xff\xfe"}')

    assert response.status_code == 400
    assert response.json() == {
        "detail": (
            "JSON parse error - 'utf-8' codec can't decode byte 0xff in position 9: "
            "invalid start byte"
        ),
        "code": "parse_error",
    }


# --- nesting -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", ["[" * 1000 + "]" * 1000, "{" * 5000, '{"a":' * 33 + "1" + "}" * 33]
)
def test_if_nested_deeper_than_the_limit_then_400_not_a_recursion_error(
    api_client: APIClient, body: str
) -> None:
    response = post_raw(api_client, AUTH, body)

    assert response.status_code == 400
    assert response.json() == TOO_DEEP


def test_if_nested_up_to_the_limit_then_it_is_parsed(api_client: APIClient) -> None:
    response = post_raw(api_client, AUTH, "[" * 32 + "]" * 32)

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Invalid input.",
        "code": "invalid",
        "errors": {"non_field_errors": ["Expected a JSON object, but got array."]},
    }


def test_if_brackets_are_inside_strings_then_they_do_not_count(
    api_client: APIClient, api_key: tuple[Any, str]
) -> None:
    body = json.dumps({"key": api_key[1], "note": "[{" * 100})

    assert post_raw(api_client, AUTH, body).status_code == 200


# --- body length: Content-Length and chunked bodies ---------------------------------------------


def test_if_content_length_is_over_the_limit_then_413_before_reading(api_client: APIClient) -> None:
    response = post_raw(
        api_client, AUTH, b"", CONTENT_LENGTH=str(3 * 1024 * 1024), **wsgi_input(Unreadable())
    )

    assert response.status_code == 413
    assert response.json() == TOO_LARGE


def test_if_content_length_is_over_the_limit_on_recommend_then_413_before_authentication(
    api_client: APIClient,
) -> None:
    response = post_raw(
        api_client, RECOMMEND, b"", CONTENT_LENGTH=str(LIMIT + 1), **wsgi_input(Unreadable())
    )

    assert response.status_code == 413
    assert response.json() == TOO_LARGE


@pytest.mark.parametrize("length", ["abc", "-5", "1e3"])
def test_if_content_length_is_not_a_number_then_400(api_client: APIClient, length: str) -> None:
    response = post_raw(api_client, AUTH, b"", CONTENT_LENGTH=length, **wsgi_input(Unreadable()))

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Content-Length is not a number.",
        "code": "invalid_length",
    }


def chunked(client: Client, url: str, body: bytes, coding: str = "chunked") -> Any:
    # What gunicorn hands over for a chunked request: no CONTENT_LENGTH, the decoded body.
    return post_raw(
        client,
        url,
        b"",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING=coding,
        **wsgi_input(io.BytesIO(body)),
    )


def test_if_body_is_chunked_then_it_is_read(
    api_client: APIClient, api_key: tuple[Any, str]
) -> None:
    response = chunked(api_client, AUTH, json.dumps({"key": api_key[1]}).encode())

    assert response.status_code == 200
    assert set(response.json()) == {"token", "token_type", "expires_in"}


def test_if_chunked_body_is_valid_then_recommend_answers(
    trained: ModelVersion, auth_client: APIClient
) -> None:
    response = chunked(auth_client, RECOMMEND, json.dumps({**GOOD, "limit": 3}).encode())

    assert response.status_code == 200
    assert len(response.json()) == 3


def test_if_chunked_body_exceeds_the_limit_then_413_while_streaming(api_client: APIClient) -> None:
    response = chunked(api_client, AUTH, b" " * (LIMIT + 1))

    assert response.status_code == 413
    assert response.json() == TOO_LARGE


def test_if_chunked_body_is_exactly_the_limit_then_it_is_read(api_client: APIClient) -> None:
    body = b'{"key": "x"}'.ljust(LIMIT)

    response = chunked(api_client, AUTH, body)

    assert response.status_code == 401


def test_if_chunked_body_is_empty_then_400_key_required(api_client: APIClient) -> None:
    response = chunked(api_client, AUTH, b"")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Invalid input.",
        "code": "invalid",
        "errors": {"key": ["This field is required."]},
    }


@pytest.mark.parametrize("coding", ["gzip", "gzip, chunked", "chunked, chunked", "identity"])
def test_if_transfer_coding_is_not_plain_chunked_then_411(
    api_client: APIClient, coding: str
) -> None:
    response = chunked(api_client, AUTH, b'{"key": "x"}', coding=coding)

    assert response.status_code == 411
    assert response.json() == {
        "detail": "Send the body with a Content-Length, or with Transfer-Encoding: chunked alone.",
        "code": "length_required",
    }


# --- Host, CSRF, Django-level errors --------------------------------------------------------------


@pytest.mark.parametrize("url", [AUTH, RECOMMEND, "/healthz", "/readyz", "/api/schema/"])
def test_if_host_is_not_allowed_then_400_json(api_client: APIClient, url: str) -> None:
    response = api_client.post(url, {}, format="json", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response.json() == INVALID_HOST


def test_if_host_is_not_allowed_then_no_error_is_logged(
    api_client: APIClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")

    # /readyz is host-checked; GET /healthz is answered before host validation, so that a
    # container probe passes whatever DJANGO_ALLOWED_HOSTS lists (test_health covers it).
    assert api_client.get("/readyz", HTTP_HOST="evil.example").status_code == 400

    assert [r.levelname for r in caplog.records if r.levelno >= 40] == []


def test_if_host_is_not_allowed_on_admin_then_djangos_own_page(client: Client) -> None:
    response = client.get("/admin/login/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("url", ["/healthz", "/readyz"])
def test_if_probe_is_posted_to_then_405_not_a_csrf_page(url: str) -> None:
    client = Client(enforce_csrf_checks=True)

    response = client.post(url, "x", content_type="text/plain")

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response.json() == {"detail": 'Method "POST" not allowed.', "code": "method_not_allowed"}


def test_if_csrf_fails_under_the_probes_then_403_json() -> None:
    client = Client(enforce_csrf_checks=True)

    response = client.post("/metrics", "x", content_type="text/plain")

    assert response.status_code == 403
    assert response.json() == {
        "detail": "CSRF check failed: CSRF cookie not set.",
        "code": "csrf_failed",
    }


def test_if_csrf_fails_on_admin_then_djangos_own_page() -> None:
    client = Client(enforce_csrf_checks=True)

    response = client.post("/admin/login/", {"username": "a", "password": "b"})

    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("exception", "status", "body"),
    [
        (RequestDataTooBig("too big"), 413, TOO_LARGE),
        (DisallowedHost("evil.example"), 400, INVALID_HOST),
        (SuspiciousOperation("odd"), 400, {"detail": "Bad request.", "code": "bad_request"}),
    ],
)
def test_if_django_raises_a_suspicious_operation_under_api_then_json(
    exception: Exception, status: int, body: dict[str, str]
) -> None:
    request = RequestFactory().post(AUTH)

    response = guards.bad_request(request, exception)

    assert response.status_code == status
    assert json.loads(response.content) == body


def test_if_permission_denied_under_api_then_403_json() -> None:
    response = guards.permission_denied(RequestFactory().get(AUTH))

    assert response.status_code == 403
    assert json.loads(response.content) == {
        "detail": "Permission denied.",
        "code": "permission_denied",
    }


# --- methods: only POST, before or after authentication -------------------------------------------


@pytest.mark.parametrize("url", [AUTH, RECOMMEND])
@pytest.mark.parametrize("method", ["OPTIONS", "HEAD", "GET", "PUT", "PATCH", "DELETE", "TRACE"])
@pytest.mark.parametrize("with_token", [True, False])
def test_if_method_is_not_post_then_405_allow_post_with_or_without_a_token(
    trained: ModelVersion, auth_client: APIClient, url: str, method: str, with_token: bool
) -> None:
    client = auth_client if with_token else APIClient()

    response = client.generic(method, url)

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    if method != "HEAD":
        assert response.json() == {
            "detail": f'Method "{method}" not allowed.',
            "code": "method_not_allowed",
        }
