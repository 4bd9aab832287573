"""The default answer of POST /api/recommend (no options) for a fixed set of profiles, on the
real ml-100k: byte for byte what the committed golden file says.

Request options must never change the answer to a request that does not use them. When a
change to the model is meant to change default answers, regenerate the file on purpose with
``GOLDEN_UPDATE=1 pytest recommender/tests/test_golden_default.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from catalog.services import movielens_ingest

pytestmark = [pytest.mark.dataset, pytest.mark.django_db]

GOLDEN = Path(__file__).parent / "golden" / "recommend_default.json"
AGES = (1, 5, 7, 10, 12, 13, 15, 17, 18, 21, 24, 25, 30, 34, 35, 40, 45, 49, 50, 55, 56, 60, 73, 90)
GENDERS = ("M", "F", "O")
OCCUPATIONS = ("student", "engineer", "writer", "retired", "homemaker", "none", "doctor")


def _profiles() -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = []
    for i, age in enumerate(AGES):
        for j, gender in enumerate(GENDERS):
            body: dict[str, Any] = {
                "age": age,
                "gender": gender,
                "occupation": OCCUPATIONS[(i + j) % len(OCCUPATIONS)],
            }
            if (i + j) % 4 == 1:
                body["limit"] = 100
            elif (i + j) % 4 == 2:
                body["limit"] = 3
            bodies.append(body)
    return bodies


@pytest.fixture(scope="module")
def real_model(django_db_setup: Any, django_db_blocker: Any, movielens_dir: Path) -> Iterator[int]:
    """ml-100k ingested and a model trained on it (seed 42), rolled back after the module."""
    from recommender.services import model_train

    with django_db_blocker.unblock(), transaction.atomic():
        movielens_ingest(source=movielens_dir)
        connection.check_constraints()
        outcome = model_train(seed=42)
        assert outcome.activated, outcome.gate
        yield outcome.version.version
        transaction.set_rollback(True)


def test_if_no_options_then_answer_is_the_golden_one(
    real_model: int, auth_client: APIClient
) -> None:
    answers = []
    for body in _profiles():
        response = auth_client.post("/api/recommend", body, format="json")
        assert response.status_code == 200, response.content
        answers.append({"request": body, "response": response.content.decode("utf-8")})
    if os.environ.get("GOLDEN_UPDATE") == "1":
        GOLDEN.write_text(json.dumps(answers, indent=1, ensure_ascii=False) + "\n", "utf-8")
    expected = json.loads(GOLDEN.read_text("utf-8"))
    assert len(answers) == len(expected)
    for got, want in zip(answers, expected, strict=True):
        assert got == want
