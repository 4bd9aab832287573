"""The OpenAPI 3 schema (drf-spectacular) and the views agree; Swagger UI is served locally.

The schema is generated from the views' annotations. These tests pin what it documents and
then provoke every documented response through the real stack, validating each body against
its documented schema: a view that answers a status or a body the schema does not describe,
or a documented status no request can produce, fails here.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from io import StringIO
from typing import Any

import jsonschema
import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

RECOMMEND = "/api/recommend"
AUTHENTICATE = "/api/authenticate"
# The README's contract: the 21 ml-100k occupations, case-sensitive.
OCCUPATIONS = [
    "administrator", "artist", "doctor", "educator", "engineer", "entertainment", "executive",
    "healthcare", "homemaker", "lawyer", "librarian", "marketing", "none", "other", "programmer",
    "retired", "salesman", "scientist", "student", "technician", "writer",
]  # fmt: skip
PROFILE = {"age": 30, "gender": "F", "occupation": "writer", "limit": 3}
BAD_PROFILE = {**PROFILE, "gender": "m"}
JSON: dict[str, Any] = {"content_type": "application/json"}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return dict(SchemaGenerator().get_schema(request=None, public=True))


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        *_, kind, name = node["$ref"].split("/")
        node = schema["components"][kind][name]
    return node


def _operation(schema: dict[str, Any], path: str) -> dict[str, Any]:
    operation: dict[str, Any] = schema["paths"][path]["post"]
    return operation


def _request_body(schema: dict[str, Any], path: str) -> dict[str, Any]:
    body = _operation(schema, path)["requestBody"]["content"]["application/json"]["schema"]
    return _resolve(schema, body)


def _documented(schema: dict[str, Any], path: str) -> set[int]:
    return {int(code) for code in _operation(schema, path)["responses"]}


# --- what the schema documents ----------------------------------------------------------------


def test_schema_documents_both_endpoints_with_post_only(schema: dict[str, Any]) -> None:
    assert schema["openapi"].startswith("3.")
    # The feedback endpoints are pinned in recommender/tests/test_feedback_schema.py.
    assert set(schema["paths"]) == {
        AUTHENTICATE,
        RECOMMEND,
        "/api/feedback",
        "/api/feedback/{client_ref}",
    }
    for path in (AUTHENTICATE, RECOMMEND):
        assert set(schema["paths"][path]) == {"post"}


def test_recommend_documents_every_response_code(schema: dict[str, Any]) -> None:
    assert _documented(schema, RECOMMEND) == {200, 400, 401, 405, 411, 413, 415, 503}


def test_authenticate_documents_every_response_code(schema: dict[str, Any]) -> None:
    assert _documented(schema, AUTHENTICATE) == {200, 400, 401, 405, 411, 413, 415, 429}


def test_every_documented_response_has_a_json_body_schema(schema: dict[str, Any]) -> None:
    for path in (AUTHENTICATE, RECOMMEND):
        for code, response in _operation(schema, path)["responses"].items():
            assert response["description"], (path, code)
            assert set(response["content"]) == {"application/json"}, (path, code)
            assert response["content"]["application/json"]["schema"], (path, code)


def test_recommend_request_body_lists_fields_ranges_and_enums(schema: dict[str, Any]) -> None:
    body = _request_body(schema, RECOMMEND)
    fields = body["properties"]

    assert _operation(schema, RECOMMEND)["requestBody"]["required"] is True
    assert body["type"] == "object"
    # The request options are pinned in recommender/tests/test_recommend_options.py.
    assert {"age", "gender", "occupation", "limit"} <= set(fields)
    assert sorted(body["required"]) == ["age", "gender", "occupation"]
    plain = {
        name: {k: v for k, v in field.items() if k not in ("description", "example")}
        for name, field in fields.items()
    }
    assert plain["age"] == {"type": "integer", "minimum": 1, "maximum": 120}
    assert plain["limit"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}
    gender = _resolve(schema, fields["gender"].get("allOf", [fields["gender"]])[0])
    assert (gender["type"], gender["enum"]) == ("string", ["M", "F", "O"])
    occupation = _resolve(schema, fields["occupation"].get("allOf", [fields["occupation"]])[0])
    assert occupation["type"] == "string"
    assert sorted(occupation["enum"]) == OCCUPATIONS
    assert len(occupation["enum"]) == 21


def test_authenticate_request_body_requires_the_key(schema: dict[str, Any]) -> None:
    body = _request_body(schema, AUTHENTICATE)

    assert body["type"] == "object"
    assert body["properties"] == {"key": {"type": "string"}}
    assert body["required"] == ["key"]


def test_bearer_scheme_protects_recommend_but_not_authenticate(schema: dict[str, Any]) -> None:
    assert schema["components"]["securitySchemes"] == {
        "bearerAuth": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A token from POST /api/authenticate.",
        }
    }
    assert _operation(schema, RECOMMEND)["security"] == [{"bearerAuth": []}]
    assert _operation(schema, AUTHENTICATE).get("security", []) == []
    assert "security" not in schema  # nothing is protected by default


def test_schema_generates_without_warnings_and_validates() -> None:
    stderr = StringIO()
    # --fail-on-warn raises on any generator warning or error; --validate checks OpenAPI 3.
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null", stderr=stderr
    )
    assert stderr.getvalue() == ""


def test_schema_endpoint_serves_the_generated_schema_without_a_token(
    api_client: APIClient, schema: dict[str, Any]
) -> None:
    response = api_client.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    assert response.json() == schema


def test_swagger_ui_is_served_from_local_static_files(api_client: APIClient) -> None:
    response = api_client.get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    sidecar = f"{settings.STATIC_URL.rstrip('/')}/drf_spectacular_sidecar/swagger-ui-dist/"
    assert {f"{sidecar}swagger-ui-bundle.js", f"{sidecar}swagger-ui.css"} <= set(assets)
    for asset in assets:
        assert asset.startswith(sidecar), asset
        assert finders.find(asset.removeprefix(settings.STATIC_URL.rstrip("/") + "/")), asset
    assert "://" not in "".join(assets)
    assert "cdn" not in html.lower()
    assert '"/api/schema/"' in html


# --- the views agree with the schema ----------------------------------------------------------

# Returns the test client's response (an HttpResponse with `.json()`).
Provoke = Callable[[APIClient, pytest.FixtureRequest], Any]


def _bearer(request: pytest.FixtureRequest) -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": f"Bearer {request.getfixturevalue('auth_token')}"}


def _raw_key(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("api_key")[1])


def _oversized(field: str) -> dict[str, Any]:
    return {field: "x" * (settings.API_MAX_BODY_BYTES + 1)}


def _throttled(client: APIClient, request: pytest.FixtureRequest) -> Any:
    settings_fixture = request.getfixturevalue("settings")
    settings_fixture.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"authenticate": "2/min"},
    }
    for _ in range(2):
        client.post(AUTHENTICATE, {"key": "nope"}, format="json")
    return client.post(AUTHENTICATE, {"key": "nope"}, format="json")


def _recommend_served(client: APIClient, request: pytest.FixtureRequest, **options: Any) -> Any:
    request.getfixturevalue("trained")
    return client.post(RECOMMEND, {**PROFILE, **options}, format="json", **_bearer(request))


PROVOKE: dict[str, dict[int, Provoke]] = {
    RECOMMEND: {
        200: _recommend_served,
        400: lambda c, r: c.post(RECOMMEND, BAD_PROFILE, format="json", **_bearer(r)),
        401: lambda c, r: c.post(RECOMMEND, PROFILE, format="json"),
        405: lambda c, r: c.get(RECOMMEND, **_bearer(r)),
        411: lambda c, r: c.post(RECOMMEND, {}, format="json", HTTP_TRANSFER_ENCODING="gzip"),
        413: lambda c, r: c.post(RECOMMEND, _oversized("occupation"), format="json", **_bearer(r)),
        415: lambda c, r: c.post(RECOMMEND, "age=30", content_type="text/plain", **_bearer(r)),
        503: lambda c, r: c.post(RECOMMEND, PROFILE, format="json", **_bearer(r)),
    },
    AUTHENTICATE: {
        200: lambda c, r: c.post(AUTHENTICATE, {"key": _raw_key(r)}, format="json"),
        400: lambda c, r: c.post(AUTHENTICATE, {"key": 12345}, format="json"),
        401: lambda c, r: c.post(AUTHENTICATE, {"key": "nope.nope"}, format="json"),
        405: lambda c, r: c.get(AUTHENTICATE),
        411: lambda c, r: c.post(AUTHENTICATE, {}, format="json", HTTP_TRANSFER_ENCODING="gzip"),
        413: lambda c, r: c.post(AUTHENTICATE, _oversized("key"), format="json"),
        415: lambda c, r: c.post(AUTHENTICATE, "key=x", content_type="text/plain"),
        429: _throttled,
    },
}


# More ways to reach a documented status, each with a body the schema must describe too.
MORE: list[tuple[str, int, Provoke]] = [
    *[
        (path, 400, lambda c, r, path=path: c.post(path, b"\xbd", **JSON, **_bearer(r)))
        for path in (RECOMMEND, AUTHENTICATE)
    ],
    *[
        (path, 400, lambda c, r, path=path: c.post(path, b"{", **JSON, **_bearer(r)))
        for path in (RECOMMEND, AUTHENTICATE)
    ],
    *[
        (path, 400, lambda c, r, path=path: c.post(path, [1, 2], format="json", **_bearer(r)))
        for path in (RECOMMEND, AUTHENTICATE)
    ],
    (RECOMMEND, 200, lambda c, r: _recommend_served(c, r, detail=True)),
    (RECOMMEND, 200, lambda c, r: _recommend_served(c, r, detail=True, genres=["Documentary"])),
    (RECOMMEND, 400, lambda c, r: _recommend_served(c, r, exclude=["No Such Title"])),
    *[
        (path, 400, lambda c, r, path=path: c.post(path, '"\\ud800"', **JSON, **_bearer(r)))
        for path in (RECOMMEND, AUTHENTICATE)
    ],
    *[
        (path, 400, lambda c, r, path=path: c.post(path, "[" * 99, **JSON, **_bearer(r)))
        for path in (RECOMMEND, AUTHENTICATE)
    ],
    *[
        (
            path,
            415,
            lambda c, r, path=path: c.post(
                path, "{}", content_type="application/json; charset=rot13", **_bearer(r)
            ),
        )
        for path in (RECOMMEND, AUTHENTICATE)
    ],
]


def _strict(node: Any) -> Any:
    """The schema with every documented object closed: an undocumented field is an error.

    OpenAPI 3.0's ``nullable`` becomes the JSON Schema type list jsonschema understands."""
    if isinstance(node, dict):
        closed = {key: _strict(value) for key, value in node.items() if key != "nullable"}
        if node.get("nullable") is True and isinstance(node.get("type"), str):
            closed["type"] = [node["type"], "null"]
        if "properties" in closed and "additionalProperties" not in closed:
            closed["additionalProperties"] = False
        return closed
    if isinstance(node, list):
        return [_strict(item) for item in node]
    return node


def _validate(schema: dict[str, Any], path: str, status: int, body: Any) -> None:
    documented = _operation(schema, path)["responses"][str(status)]
    response_schema = documented["content"]["application/json"]["schema"]
    # $refs point at "#/components/...": validate within a document that carries them.
    document = _strict({**copy.deepcopy(response_schema), "components": schema["components"]})
    jsonschema.validate(body, document)


@pytest.mark.parametrize("path", [RECOMMEND, AUTHENTICATE])
def test_every_documented_status_is_provoked_and_nothing_else(
    schema: dict[str, Any], path: str
) -> None:
    assert set(PROVOKE[path]) == _documented(schema, path)


CASES = [(p, status, f) for p, by_status in PROVOKE.items() for status, f in by_status.items()]
CASES += MORE


@pytest.mark.parametrize(
    ("path", "status", "provoke"),
    CASES,
    ids=[f"{path}-{status}-{i}" for i, (path, status, _) in enumerate(CASES)],
)
def test_response_matches_the_documented_schema(
    schema: dict[str, Any],
    api_client: APIClient,
    request: pytest.FixtureRequest,
    path: str,
    status: int,
    provoke: Provoke,
) -> None:
    response = provoke(api_client, request)

    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert status in _documented(schema, path)
    _validate(schema, path, status, response.json())


def test_validation_against_the_schema_catches_an_undocumented_field(
    schema: dict[str, Any],
) -> None:
    with pytest.raises(jsonschema.ValidationError):
        _validate(schema, RECOMMEND, 401, {"detail": "x", "code": "y", "extra": 1})
    with pytest.raises(jsonschema.ValidationError):
        _validate(schema, RECOMMEND, 200, [{"title": "not a string"}])
    with pytest.raises(jsonschema.ValidationError):
        _validate(schema, AUTHENTICATE, 200, {"token": "t", "token_type": "Bearer"})
