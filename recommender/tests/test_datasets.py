"""recommender.datasets: the training-data fingerprint describes content, not database rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.models import Genre, Movie, Rater, Rating
from catalog.services import movielens_ingest
from recommender.datasets import training_frames

pytestmark = pytest.mark.django_db


def _wipe() -> None:
    Rating.objects.all().delete()
    Movie.objects.all().delete()
    Rater.objects.all().delete()
    Genre.objects.all().delete()


def test_if_same_data_after_id_sequences_moved_then_same_fingerprint(movielens_tiny: Path) -> None:
    movielens_ingest(source=movielens_tiny)
    first = training_frames()
    first_pks = set(Movie.objects.values_list("pk", flat=True))
    _wipe()
    # What killed ingests leave behind: sequences advanced past rows that no longer exist.
    Movie.objects.bulk_create(Movie(ml_id=10_000 + i, title=f"gone {i}") for i in range(7))
    Rater.objects.bulk_create(
        Rater(ml_id=10_000 + i, age=30, gender="F", occupation="writer", zip_code="0")
        for i in range(5)
    )
    _wipe()

    movielens_ingest(source=movielens_tiny)
    second = training_frames()

    assert first_pks.isdisjoint(Movie.objects.values_list("pk", flat=True))
    assert not first.ratings.equals(second.ratings)  # other primary keys...
    assert second.fingerprint() == first.fingerprint()  # ...same data


def test_if_a_rating_changes_then_the_fingerprint_changes(movielens_tiny: Path) -> None:
    movielens_ingest(source=movielens_tiny)
    before = training_frames().fingerprint()
    rating = Rating.objects.order_by("pk").first()
    assert rating is not None
    Rating.objects.filter(pk=rating.pk).update(rating=1 if rating.rating != 1 else 5)

    assert training_frames().fingerprint() != before


def test_if_a_raters_occupation_changes_then_the_fingerprint_changes(movielens_tiny: Path) -> None:
    movielens_ingest(source=movielens_tiny)
    before = training_frames().fingerprint()
    rater = Rater.objects.order_by("pk").first()
    assert rater is not None
    Rater.objects.filter(pk=rater.pk).update(
        occupation="doctor" if rater.occupation != "doctor" else "writer"
    )

    assert training_frames().fingerprint() != before


def test_if_two_movies_swap_ml_ids_then_the_fingerprint_changes(movielens_tiny: Path) -> None:
    movielens_ingest(source=movielens_tiny)
    before = training_frames().fingerprint()
    first, second = Movie.objects.order_by("pk")[:2]
    Movie.objects.filter(pk=first.pk).update(ml_id=99_999)
    Movie.objects.filter(pk=second.pk).update(ml_id=first.ml_id)
    Movie.objects.filter(pk=first.pk).update(ml_id=second.ml_id)

    assert training_frames().fingerprint() != before
