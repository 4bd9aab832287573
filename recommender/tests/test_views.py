"""POST /api/recommend: every status with its exact body."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from recommender.ml.profile import Profile
from recommender.models import ModelVersion
from recommender.services import recommendations_for
from recommender.tests.conftest import ACTION, ROMANCE
from recommender.views import RecommendView

pytestmark = pytest.mark.django_db

URL = "/api/recommend"
GOOD = {"age": 30, "gender": "F", "occupation": "writer"}


def _invalid(**errors: list[str]) -> dict[str, Any]:
    return {"detail": "Invalid input.", "code": "invalid", "errors": errors}


def test_if_valid_profile_then_200_with_titles_best_first(
    trained: ModelVersion, auth_client: APIClient
) -> None:
    response = auth_client.post(URL, GOOD, format="json")
    assert response.status_code == 200
    assert response["X-Model-Version"] == "1"
    _, expected = recommendations_for(
        profile=Profile(age=30, gender="F", occupation="writer"), limit=10
    )
    assert response.json() == expected
    assert len(expected) == 10
    assert set(expected[:5]) == set(ROMANCE)


def test_if_limit_given_then_that_many_titles(
    trained: ModelVersion, auth_client: APIClient
) -> None:
    response = auth_client.post(
        URL, {"age": 30, "gender": "M", "occupation": "engineer", "limit": 3}, format="json"
    )
    assert response.status_code == 200
    titles = response.json()
    assert len(titles) == 3
    assert set(titles) <= set(ACTION)


def test_if_same_input_twice_then_same_answer(
    trained: ModelVersion, auth_client: APIClient
) -> None:
    first = auth_client.post(URL, GOOD, format="json").json()
    assert auth_client.post(URL, GOOD, format="json").json() == first


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"age": 30, "gender": "X", "occupation": "writer"},
            {"gender": ['"X" is not a valid choice.']},
        ),
        (
            {"age": 30, "gender": "f", "occupation": "writer"},
            {"gender": ['"f" is not a valid choice.']},
        ),
        (
            {"age": 30, "gender": "F", "occupation": "Writer"},
            {"occupation": ['"Writer" is not a valid choice.']},
        ),
        (
            {"age": 30, "gender": "F", "occupation": "pilot"},
            {"occupation": ['"pilot" is not a valid choice.']},
        ),
        (
            {"age": 30, "gender": 1, "occupation": "writer"},
            {"gender": ['"1" is not a valid choice.']},
        ),
        (
            {"age": "30", "gender": "F", "occupation": "writer"},
            {"age": ["A valid integer is required."]},
        ),
        (
            {"age": 30.0, "gender": "F", "occupation": "writer"},
            {"age": ["A valid integer is required."]},
        ),
        (
            {"age": 30.5, "gender": "F", "occupation": "writer"},
            {"age": ["A valid integer is required."]},
        ),
        (
            {"age": True, "gender": "F", "occupation": "writer"},
            {"age": ["A valid integer is required."]},
        ),
        (
            {"age": None, "gender": "F", "occupation": "writer"},
            {"age": ["This field may not be null."]},
        ),
        (
            {"age": 0, "gender": "F", "occupation": "writer"},
            {"age": ["Ensure this value is greater than or equal to 1."]},
        ),
        (
            {"age": 121, "gender": "F", "occupation": "writer"},
            {"age": ["Ensure this value is less than or equal to 120."]},
        ),
        ({"gender": "F", "occupation": "writer"}, {"age": ["This field is required."]}),
        ({"age": 30, "occupation": "writer"}, {"gender": ["This field is required."]}),
        ({"age": 30, "gender": "F"}, {"occupation": ["This field is required."]}),
        ({**GOOD, "limit": 0}, {"limit": ["Ensure this value is greater than or equal to 1."]}),
        ({**GOOD, "limit": 101}, {"limit": ["Ensure this value is less than or equal to 100."]}),
        ({**GOOD, "limit": "5"}, {"limit": ["A valid integer is required."]}),
        ([GOOD], {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
        ("F", {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}),
        (5, {"non_field_errors": ["Invalid data. Expected a dictionary, but got int."]}),
    ],
)
def test_if_body_invalid_then_400_naming_the_field(
    trained: ModelVersion, auth_client: APIClient, body: Any, errors: dict[str, list[str]]
) -> None:
    response = auth_client.post(URL, json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert response.json() == _invalid(**errors)


def test_if_body_empty_then_400_naming_every_field(
    trained: ModelVersion, auth_client: APIClient
) -> None:
    response = auth_client.post(URL, "", content_type="application/json")
    assert response.status_code == 400
    required = ["This field is required."]
    assert response.json() == _invalid(age=required, gender=required, occupation=required)


@pytest.mark.parametrize("raw", ['{"age": 30,', "{'age': 30}", "NaN", '{"age": NaN}', "\xff"])
def test_if_json_malformed_then_400_parse_error(
    trained: ModelVersion, auth_client: APIClient, raw: str
) -> None:
    response = auth_client.post(URL, raw, content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "parse_error"
    assert body["detail"].startswith("JSON parse error - ")


def test_if_body_too_large_then_413(
    trained: ModelVersion, auth_client: APIClient, settings: Any
) -> None:
    body = json.dumps({**GOOD, "padding": "x" * settings.API_MAX_BODY_BYTES})
    response = auth_client.post(URL, body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {
        "detail": f"Request body is larger than {settings.API_MAX_BODY_BYTES} bytes.",
        "code": "request_too_large",
    }


def test_if_not_json_then_415(trained: ModelVersion, auth_client: APIClient) -> None:
    response = auth_client.post(URL, "age=30", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json() == {
        "detail": 'Unsupported media type "application/x-www-form-urlencoded" in request.',
        "code": "unsupported_media_type",
    }


def test_if_no_token_then_401_before_the_body_is_read(
    trained: ModelVersion, api_client: APIClient
) -> None:
    response = api_client.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json() == {
        "detail": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }


def test_if_token_invalid_then_401(trained: ModelVersion, api_client: APIClient) -> None:
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    response = api_client.post(URL, GOOD, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["code"] in {"token_not_valid", "authentication_failed"}


def test_if_no_model_active_then_503(catalogue: None, auth_client: APIClient) -> None:
    response = auth_client.post(URL, GOOD, format="json")
    assert response.status_code == 503
    assert response.json() == {
        "detail": "No model version is active: train one with `python manage.py train_model`.",
        "code": "model_not_ready",
    }


def test_if_active_artifact_tampered_then_503_not_500(
    trained: ModelVersion, auth_client: APIClient
) -> None:
    ModelVersion.objects.filter(pk=trained.pk).update(artifact=b"tampered")
    response = auth_client.post(URL, GOOD, format="json")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "model_not_ready"
    assert body["detail"].startswith("Model version 1 cannot be loaded: ")


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_if_not_post_then_405_with_allow(
    trained: ModelVersion, auth_client: APIClient, method: str
) -> None:
    response = getattr(auth_client, method)(URL)
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json() == {
        "detail": f'Method "{method.upper()}" not allowed.',
        "code": "method_not_allowed",
    }


def test_if_requests_served_then_declared_fields_stay_unbound(
    trained: ModelVersion, auth_client: APIClient
) -> None:
    # The input serializer shallow-copies its fields per request; the class's own
    # declared fields must never be bound to (or changed by) a request.
    auth_client.post(URL, GOOD, format="json")
    auth_client.post(URL, {**GOOD, "age": "x"}, format="json")
    declared = RecommendView.InputSerializer._declared_fields
    assert all(field.parent is None for field in declared.values())
    assert declared["limit"].default == 10
