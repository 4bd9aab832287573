"""Property: no client input gets a 5xx from either endpoint.

Hypothesis throws generated raw bodies (bytes, text, JSON with surrogate escapes, deep
nesting), charsets, content types, methods and headers (Authorization, Accept, lengths,
transfer codings) at /api/authenticate and /api/recommend, through Django's test client,
then, fewer of them, as raw HTTP at a live gunicorn. Every answer must be below 500, and
every error JSON in the one shape.
"""

from __future__ import annotations

import io
import json
import secrets
import socket
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from accounts.services import api_key_create
from movierec.tests.live import gunicorn_server
from recommender.services import model_train
from recommender.tests.conftest import build_catalogue

URLS = ("/api/authenticate", "/api/recommend")
PROFILE = {"age": 30, "gender": "F", "occupation": "writer"}

_header_text = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=40)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
_escapes = st.sampled_from(
    ["\\ud800", "\\udfff", "\\ud83d\\ude00", "\\ude00\\ud83d", "\\u0000", "\\\\"]
)


@st.composite
def _profile_like(draw: st.DrawFn) -> bytes:
    """A near-valid profile whose fields are swapped for odd values and escapes."""
    body: dict[str, Any] = dict(PROFILE)
    for field in draw(st.lists(st.sampled_from(["age", "gender", "occupation", "limit", "key"]))):
        body[field] = draw(_json_values)
    text = json.dumps(body)
    if draw(st.booleans()):
        field = draw(st.sampled_from(["gender", "occupation", "key"]))
        text = text[:-1] + f', "{field}": "{draw(_escapes)}"' + "}"
    return text.encode()


BODIES = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")),
    _json_values.map(lambda value: json.dumps(value).encode()),
    _profile_like(),
    st.integers(1, 3000).map(lambda depth: ("[" * depth + "]" * depth).encode()),
    st.integers(1, 3000).map(lambda depth: ('{"a":' * depth).encode()),
)
CHARSETS = st.one_of(
    st.none(),
    st.none(),
    st.sampled_from(
        [
            "utf-8",
            "utf-16",
            "latin-1",
            "rot13",
            "base64",
            "zlib",
            "hex",
            "unicode_escape",
            "utf-7",
            "idna",
            "punycode",
            "",
            "x" * 60,
        ]
    ),
    _header_text,
)
MEDIA_TYPES = st.one_of(
    st.just("application/json"),
    st.just("application/json"),
    st.sampled_from(
        [
            "application/json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "multipart/form-data; boundary=x",
            "application/merge-patch+json",
            "*/*",
            "application/json; q=0.5",
            "",
        ]
    ),
    _header_text,
)
METHODS = st.sampled_from(["POST"] * 6 + ["GET", "OPTIONS", "HEAD", "PUT", "DELETE", "PATCH"])
ACCEPTS = st.one_of(
    st.none(),
    st.sampled_from(["application/json", "text/html", "*/*", "application/xml"]),
    _header_text,
)
LENGTHS = st.sampled_from(["exact", "exact", "exact", "chunked", "gzip", "lie", "junk"])


def _content_type(media_type: str, charset: str | None) -> str:
    return media_type if charset is None else f"{media_type}; charset={charset}"


def _check(status: int, content_type: str, content: bytes, method: str) -> None:
    assert status < 500, (status, content[:300])
    if status >= 400 and method != "HEAD":
        assert content_type.startswith("application/json"), (status, content_type, content[:300])
        body = json.loads(content)
        assert isinstance(body, dict)
        assert isinstance(body["detail"], str), body
        assert isinstance(body["code"], str), body


@pytest.fixture
def fuzz_target(db: None, settings: Any, api_key: tuple[Any, str], auth_token: str) -> str:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"authenticate": "1000000/min"},
    }
    build_catalogue(n_raters=30)
    assert model_train(seed=42).activated
    return auth_token


@pytest.mark.django_db
@hypothesis_settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    url=st.sampled_from(URLS),
    method=METHODS,
    body=BODIES,
    media_type=MEDIA_TYPES,
    charset=CHARSETS,
    accept=ACCEPTS,
    length=LENGTHS,
    authorization=st.one_of(
        st.none(), st.just("valid"), _header_text, _header_text.map(lambda t: "Bearer " + t)
    ),
)
# The rows of the hostile-input table, always tried whatever the random draw.
@example(
    URLS[1],
    "POST",
    b'{"age": 30, "gender": "F", "occupation": "\\ud800"}',
    "application/json",
    None,
    None,
    "exact",
    "valid",
)
@example(URLS[0], "POST", b'{"key": "x"}', "application/json", "rot13", None, "exact", None)
@example(URLS[0], "POST", b'{"key": "x"}', "application/json", "base64", None, "exact", None)
@example(URLS[0], "POST", b"[" * 1000 + b"]" * 1000, "application/json", None, None, "exact", None)
@example(URLS[1], "POST", b'{"age": 30}', "application/json", None, None, "chunked", "valid")
@example(URLS[1], "OPTIONS", b"", "application/json", None, None, "exact", "valid")
@example(URLS[0], "POST", b'{"key": "x"}', "application/json", None, "text/html", "lie", None)
def test_if_any_body_charset_or_header_is_sent_then_never_a_5xx(
    fuzz_target: str,
    url: str,
    method: str,
    body: bytes,
    media_type: str,
    charset: str | None,
    accept: str | None,
    length: str,
    authorization: str | None,
) -> None:
    # An address of its own: the throttle counters live in the shared cache.
    extra: dict[str, Any] = {"wsgi.input": io.BytesIO(body), "REMOTE_ADDR": "192.0.2.10"}
    if authorization is not None:
        extra["HTTP_AUTHORIZATION"] = (
            f"Bearer {fuzz_target}" if authorization == "valid" else authorization
        )
    if accept is not None:
        extra["HTTP_ACCEPT"] = accept
    if length == "chunked" or length == "gzip":
        extra["CONTENT_LENGTH"] = ""
        extra["HTTP_TRANSFER_ENCODING"] = length
    elif length == "lie":
        extra["CONTENT_LENGTH"] = str(len(body) // 2)
    elif length == "junk":
        extra["CONTENT_LENGTH"] = "12abc"

    response = APIClient().generic(
        method,
        url,
        body,  # type: ignore[arg-type]  # bytes are sent as they are
        content_type=_content_type(media_type, charset),
        **extra,
    )

    _check(response.status_code, response.get("Content-Type", ""), response.content, method)


# --- the same against a live gunicorn, as raw HTTP --------------------------------------------


def _raw_request(base: str, request: bytes) -> tuple[int, str, bytes]:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        received = bytearray()
        while chunk := sock.recv(65536):
            received += chunk
    head, _, content = bytes(received).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return status, headers.get("Content-Type", ""), content


@pytest.fixture
def live_target(tmp_path: Path) -> Any:
    build_catalogue(n_raters=30)
    assert model_train(seed=42).activated
    _, raw = api_key_create(name="fuzz")
    # Cache keys of its own, so that its hundreds of attempts use up no other test's
    # throttle for 127.0.0.1 in the shared Redis.
    own_cache = {
        "CACHE_KEY_PREFIX": f"movierec-fuzz-{secrets.token_hex(4)}",
        "AUTH_THROTTLE_RATE": "100000/min",
    }
    with gunicorn_server(workers=1, metrics_dir=tmp_path / "metrics", env=own_cache) as (base, _):
        status, _, content = _raw_request(
            base,
            b"POST /api/authenticate HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (len(json.dumps({"key": raw})), json.dumps({"key": raw}).encode()),
        )
        assert status == 200, content
        yield base, json.loads(content)["token"]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@hypothesis_settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    url=st.sampled_from(URLS),
    method=METHODS,
    body=BODIES,
    media_type=MEDIA_TYPES,
    charset=CHARSETS,
    chunked=st.booleans(),
    authorized=st.booleans(),
)
@example(
    URLS[1],
    "POST",
    b'{"age": 30, "gender": "F", "occupation": "\\ud800"}',
    "application/json",
    None,
    False,
    True,
)
@example(URLS[0], "POST", b'{"key": "x"}', "application/json", "rot13", False, False)
@example(URLS[0], "POST", b"[" * 1000 + b"]" * 1000, "application/json", None, True, False)
def test_if_raw_requests_hit_a_live_server_then_never_a_5xx(
    live_target: tuple[str, str],
    url: str,
    method: str,
    body: bytes,
    media_type: str,
    charset: str | None,
    chunked: bool,
    authorized: bool,
) -> None:
    base, token = live_target
    headers = [
        f"{method} {url} HTTP/1.1",
        "Host: 127.0.0.1",
        "Connection: close",
        f"Content-Type: {_content_type(media_type, charset)}",
    ]
    if authorized:
        headers.append(f"Authorization: Bearer {token}")
    if chunked:
        headers.append("Transfer-Encoding: chunked")
        payload = b"".join(
            b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:100], body[100:]) if part
        )
        payload += b"0\r\n\r\n"
    else:
        headers.append(f"Content-Length: {len(body)}")
        payload = body
    request = "\r\n".join(headers).encode("latin-1") + b"\r\n\r\n" + payload

    status, content_type, content = _raw_request(base, request)

    _check(status, content_type, content, method)
