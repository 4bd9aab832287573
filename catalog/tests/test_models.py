"""The database enforces the catalogue's invariants, and the parser agrees with the models."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, transaction

from catalog import movielens
from catalog.models import Gender, Genre, Movie, Occupation, Rater, Rating
from catalog.tests.factories import make_movie, make_rater, make_rating

pytestmark = pytest.mark.django_db

WHEN = datetime(1998, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("value", [0, 6, -1])
def test_rating_outside_1_to_5_is_refused_by_the_database(value: int) -> None:
    rater, movie = make_rater(), make_movie()
    with pytest.raises(IntegrityError), transaction.atomic():
        Rating.objects.create(rater=rater, movie=movie, rating=value, rated_at=WHEN)
    assert Rating.objects.count() == 0


def test_second_rating_of_the_same_movie_by_the_same_rater_is_refused() -> None:
    first = make_rating()
    with pytest.raises(IntegrityError), transaction.atomic():
        Rating.objects.create(rater=first.rater, movie=first.movie, rating=1, rated_at=WHEN)
    assert list(Rating.objects.values_list("rating", flat=True)) == [4]


def test_movielens_ids_are_unique() -> None:
    make_movie(ml_id=7)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_movie(ml_id=7)
    assert Movie.objects.filter(ml_id=7).count() == 1


def test_rater_gender_and_occupation_are_checked_by_the_database() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        make_rater(gender="X")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_rater(occupation="astronaut")
    assert Rater.objects.count() == 0


def test_parser_vocabulary_matches_the_model_choices() -> None:
    assert tuple(Occupation.values) == movielens.OCCUPATIONS
    assert len(Occupation.values) == 21
    assert tuple(Gender.values) == movielens.GENDERS


def test_parser_length_limits_match_the_columns() -> None:
    assert Movie._meta.get_field("title").max_length == movielens.MAX_TITLE_LENGTH
    assert Movie._meta.get_field("imdb_url").max_length == movielens.MAX_URL_LENGTH
    assert Rater._meta.get_field("zip_code").max_length == movielens.MAX_ZIP_LENGTH
    assert Genre._meta.get_field("name").max_length == movielens.MAX_GENRE_NAME_LENGTH


def test_next_ml_id_is_one_past_the_highest() -> None:
    assert Movie.objects.next_ml_id() == 1
    make_movie(ml_id=41)
    make_movie(ml_id=7)
    assert Movie.objects.next_ml_id() == 42


def test_string_forms_name_the_row() -> None:
    rating = make_rating(
        rater=make_rater(ml_id=196), movie=make_movie(title="Café (1995)"), rating=3
    )
    assert str(rating) == "Rater 196 → Café (1995): 3"
