"""The OpenAPI schema of /api/feedback and DELETE /api/feedback/{client_ref} matches the views."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from recommender.models import ModelVersion
from recommender.tests.conftest import ACTION

pytestmark = pytest.mark.django_db

FEEDBACK = "/api/feedback"
PERSON_PATH = "/api/feedback/{client_ref}"
GOOD = {
    "age": 30,
    "gender": "F",
    "occupation": "writer",
    "ratings": [{"movie": ACTION[0], "rating": 5}],
    "client_ref": "u-1",
}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return dict(SchemaGenerator().get_schema(request=None, public=True))


def _validate(schema: dict[str, Any], path: str, method: str, status: int, body: Any) -> None:
    response = schema["paths"][path][method]["responses"][str(status)]
    document = {
        **copy.deepcopy(response["content"]["application/json"]["schema"]),
        "components": schema["components"],
    }
    jsonschema.validate(body, document)


def test_feedback_documents_its_statuses_and_fields(schema: dict[str, Any]) -> None:
    post = schema["paths"][FEEDBACK]["post"]
    assert set(schema["paths"][FEEDBACK]) == {"post"}
    assert set(schema["paths"][PERSON_PATH]) == {"delete"}
    assert {int(c) for c in post["responses"]} == {201, 400, 401, 405, 411, 413, 415, 429, 503}
    delete = schema["paths"][PERSON_PATH]["delete"]
    assert {int(c) for c in delete["responses"]} == {204, 401, 404, 405, 429}
    assert post["security"] == [{"bearerAuth": []}]
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert sorted(body["required"]) == ["age", "gender", "occupation", "ratings"]
    assert set(body["properties"]) == {"age", "gender", "occupation", "ratings", "client_ref"}
    ratings = body["properties"]["ratings"]
    assert (ratings["minItems"], ratings["maxItems"]) == (1, 100)
    assert ratings["items"]["properties"]["rating"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 5,
    }
    assert body["properties"]["client_ref"]["maxLength"] == 64


def test_feedback_answers_match_the_schema(
    schema: dict[str, Any], trained: ModelVersion, auth_client: APIClient
) -> None:
    created = auth_client.post(FEEDBACK, GOOD, format="json")
    assert created.status_code == 201
    _validate(schema, FEEDBACK, "post", 201, created.json())
    bad = auth_client.post(
        FEEDBACK, {**GOOD, "ratings": [{"movie": "x", "rating": 9}]}, format="json"
    )
    assert bad.status_code == 400
    _validate(schema, FEEDBACK, "post", 400, bad.json())
    missing = auth_client.delete(f"{FEEDBACK}/nobody")
    assert missing.status_code == 404
    _validate(schema, PERSON_PATH, "delete", 404, missing.json())
    assert auth_client.delete(f"{FEEDBACK}/u-1").status_code == 204
