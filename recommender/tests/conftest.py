"""recommender test data: a small synthetic catalogue with a clear demographic signal.

Men love the action movies and women the romances; everyone likes the comedies a little;
"Twin Title (1990)" exists under two ids. Deterministic (fixed seed), never real data.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from catalog.models import Genre, Movie, Rater, Rating
from recommender import registry
from recommender.models import ModelVersion
from recommender.services import model_train

ACTION = [f"Action {i} (1990)" for i in range(1, 6)]
ROMANCE = [f"Romance {i} (1991)" for i in range(1, 6)]
COMEDY = [f"Comedy {i} (1992)" for i in range(1, 4)]
TWIN = "Twin Title (1990)"
OCCUPATIONS = ["student", "engineer", "writer", "retired", "educator"]


def build_catalogue(*, n_raters: int = 100, seed: int = 7) -> None:
    rng = random.Random(seed)
    genres = {
        name: Genre.objects.create(ml_id=i, name=name)
        for i, name in enumerate(["unknown", "Action", "Romance", "Comedy"])
    }
    movies: dict[str, list[Movie]] = {"Action": [], "Romance": [], "Comedy": []}
    ml_id = 0
    for genre, titles in (
        ("Action", ACTION),
        ("Romance", ROMANCE),
        ("Comedy", [*COMEDY, TWIN, TWIN]),
    ):
        for title in titles:
            ml_id += 1
            movie = Movie.objects.create(ml_id=ml_id, title=title)
            movie.genres.add(genres[genre])
            movies[genre].append(movie)
    when = datetime(1998, 1, 1, tzinfo=UTC)
    ratings = []
    for i in range(n_raters):
        gender = "M" if i % 2 == 0 else "F"
        rater = Rater.objects.create(
            ml_id=i + 1,
            age=18 + (i * 7) % 50,
            gender=gender,
            occupation=OCCUPATIONS[i % 5],
            zip_code="00000",
        )
        loved, disliked = ("Action", "Romance") if gender == "M" else ("Romance", "Action")
        for movie in movies[loved]:
            if rng.random() < 0.8:
                ratings.append(
                    Rating(rater=rater, movie=movie, rating=rng.choice([4, 5]), rated_at=when)
                )
        for movie in movies[disliked]:
            if rng.random() < 0.3:
                ratings.append(
                    Rating(rater=rater, movie=movie, rating=rng.choice([1, 2]), rated_at=when)
                )
        for movie in movies["Comedy"]:
            if rng.random() < 0.3:
                ratings.append(
                    Rating(rater=rater, movie=movie, rating=rng.choice([3, 4]), rated_at=when)
                )
    Rating.objects.bulk_create(ratings)


@pytest.fixture(autouse=True)
def _fresh_registry_state(settings: Any, tmp_path: Any) -> Iterator[None]:
    # Each test starts with no model loaded in this process, as a new worker would, and
    # sees activations at once (the polling interval has a test of its own). The committed
    # ml-100k reference figures do not describe synthetic data: tests that want a reference
    # file write their own.
    settings.RECOMMENDER_VERSION_CHECK_SECONDS = 0
    settings.RECOMMENDER_BASELINE_FILE = tmp_path / "no-baseline.json"
    registry.reset_process_cache()
    yield
    registry.reset_process_cache()


@pytest.fixture
def catalogue(db: None) -> None:
    build_catalogue()


@pytest.fixture
def trained(catalogue: None) -> ModelVersion:
    """Version 1, trained on the synthetic catalogue and active."""
    outcome = model_train(seed=42)
    assert outcome.activated, outcome.gate
    return outcome.version
