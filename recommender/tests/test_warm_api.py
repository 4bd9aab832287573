"""POST /api/recommend with `liked`: statuses and exact bodies (synthetic catalogue)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from recommender.models import ModelVersion
from recommender.tests.conftest import ACTION, COMEDY, ROMANCE, TWIN

pytestmark = pytest.mark.django_db

URL = "/api/recommend"
MAN = {"age": 30, "gender": "M", "occupation": "engineer"}


def _post(client: APIClient, body: Any) -> Any:
    return client.post(URL, json.dumps(body), content_type="application/json")


def _invalid(*messages: str) -> dict[str, Any]:
    return {"detail": "Invalid input.", "code": "invalid", "errors": {"liked": list(messages)}}


def test_if_liked_is_absent_or_empty_then_the_answer_is_todays(
    trained: ModelVersion, auth_client: APIClient
) -> None:
    plain = _post(auth_client, {**MAN, "limit": 20})
    empty = _post(auth_client, {**MAN, "limit": 20, "liked": []})
    assert plain.status_code == empty.status_code == 200
    assert empty.json() == plain.json()
    assert set(plain.json()[:5]) == set(ACTION)


def test_if_a_man_liked_romances_by_title_and_id_then_the_other_romances_lead(
    trained: ModelVersion, auth_client: APIClient
) -> None:
    # MovieLens ids 6 and 7 are the first two romances of the synthetic catalogue.
    response = _post(auth_client, {**MAN, "limit": 3, "liked": [ROMANCE[2], 6, 7]})
    assert response.status_code == 200
    assert response["X-Model-Version"] == "1"
    titles = response.json()
    assert len(titles) == 3
    assert set(titles[:2]) == set(ROMANCE[3:])
    assert not set(titles) & set(ROMANCE[:3])


def test_if_movies_are_liked_then_the_answer_never_contains_them(
    trained: ModelVersion, auth_client: APIClient
) -> None:
    liked = [*ACTION, COMEDY[0], TWIN]
    titles = _post(auth_client, {**MAN, "limit": 100, "liked": liked}).json()
    assert not set(titles) & set(liked)
    assert sorted(titles) == sorted(set(ROMANCE) | set(COMEDY[1:]))


def test_if_liked_names_the_same_movie_twice_then_it_counts_once(
    trained: ModelVersion, auth_client: APIClient
) -> None:
    once = _post(auth_client, {**MAN, "liked": [ROMANCE[0]]}).json()
    twice = _post(auth_client, {**MAN, "liked": [ROMANCE[0], 6, ROMANCE[0]]}).json()
    assert twice == once


@pytest.mark.parametrize(
    ("liked", "errors"),
    [
        (["Nope (1999)"], ['"Nope (1999)" is not a title in the catalogue.']),
        ([ROMANCE[0].lower()], [f'"{ROMANCE[0].lower()}" is not a title in the catalogue.']),
        (
            [99999, 0],
            [
                "99999 is not a MovieLens id in the catalogue.",
                "0 is not a MovieLens id in the catalogue.",
            ],
        ),
        (
            [6, "Nope", 99],
            [
                '"Nope" is not a title in the catalogue.',
                "99 is not a MovieLens id in the catalogue.",
            ],
        ),
        ([True], ["true is not a title (string) or a MovieLens id (integer)."]),
        (
            [6.0, None],
            [
                "6.0 is not a title (string) or a MovieLens id (integer).",
                "null is not a title (string) or a MovieLens id (integer).",
            ],
        ),
        ([["x"]], ['["x"] is not a title (string) or a MovieLens id (integer).']),
        ("Romance 1 (1991)", ['Expected a list of titles or MovieLens ids but got type "str".']),
        ({"id": 6}, ['Expected a list of titles or MovieLens ids but got type "dict".']),
        (None, ["This field may not be null."]),
        (list(range(1, 52)), ["Ensure this field has no more than 50 elements."]),
        (["x" * 200], [f'"{"x" * 78}… is not a title in the catalogue.']),
    ],
)
def test_if_liked_is_invalid_then_400_naming_the_bad_value(
    trained: ModelVersion, auth_client: APIClient, liked: Any, errors: list[str]
) -> None:
    response = _post(auth_client, {**MAN, "liked": liked})
    assert response.status_code == 400
    assert response.json() == _invalid(*errors)


def test_if_fifty_liked_movies_then_200(trained: ModelVersion, auth_client: APIClient) -> None:
    response = _post(auth_client, {**MAN, "limit": 100, "liked": [ACTION[0]] * 50})
    assert response.status_code == 200
    assert ACTION[0] not in response.json()


def test_if_no_model_then_liked_is_a_503(catalogue: None, auth_client: APIClient) -> None:
    response = _post(auth_client, {**MAN, "liked": [6]})
    assert response.status_code == 503
    assert response.json()["code"] == "model_not_ready"


def test_if_unauthenticated_then_401_before_liked_is_looked_at(
    trained: ModelVersion, api_client: APIClient
) -> None:
    response = _post(api_client, {**MAN, "liked": ["Nope"]})
    assert response.status_code == 401
