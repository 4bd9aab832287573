"""catalog selectors: the rows other apps read, in a fixed small number of queries."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from catalog import selectors
from catalog.models import Movie
from catalog.tests.factories import make_genre, make_movie, make_rater, make_rating

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue() -> dict[str, Any]:
    drama, action = make_genre(ml_id=2, name="Drama"), make_genre(ml_id=1, name="Action")
    unknown = make_genre(ml_id=0, name="unknown")
    heat = make_movie(title="Heat (1995)", genres=[drama, action])
    fargo = make_movie(title="Fargo (1996)", genres=[drama])
    blank = make_movie(title="unknown", genres=[unknown], release_date=None)
    ana = make_rater(age=24, gender="F", occupation="writer")
    bo = make_rater(age=53, gender="M", occupation="retired")
    make_rating(rater=ana, movie=heat, rating=5)
    make_rating(rater=bo, movie=heat, rating=2)
    make_rating(rater=bo, movie=fargo, rating=4)
    return {"heat": heat, "fargo": fargo, "blank": blank, "ana": ana, "bo": bo}


def test_rating_rows_are_primary_keys_and_values(catalogue: dict[str, Any]) -> None:
    heat, fargo, ana, bo = (catalogue[k] for k in ("heat", "fargo", "ana", "bo"))
    assert selectors.rating_rows() == [
        (ana.pk, heat.pk, 5),
        (bo.pk, heat.pk, 2),
        (bo.pk, fargo.pk, 4),
    ]


def test_rater_rows(catalogue: dict[str, Any]) -> None:
    ana, bo = catalogue["ana"], catalogue["bo"]
    assert selectors.rater_rows() == [(ana.pk, 24, "F", "writer"), (bo.pk, 53, "M", "retired")]


def test_genre_names_follow_movielens_ids(catalogue: dict[str, Any]) -> None:
    assert selectors.genre_names() == ["unknown", "Action", "Drama"]


def test_movie_rows_in_two_queries(
    catalogue: dict[str, Any], django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(2):
        rows = selectors.movie_rows()
    heat, fargo, blank = catalogue["heat"], catalogue["fargo"], catalogue["blank"]
    assert rows == [
        (heat.pk, "Heat (1995)", ("Action", "Drama")),
        (fargo.pk, "Fargo (1996)", ("Drama",)),
        (blank.pk, "unknown", ("unknown",)),
    ]


def test_movie_rows_include_movies_without_genres() -> None:
    lonely = make_movie(title="Lonely (1990)")
    assert selectors.movie_rows() == [(lonely.pk, "Lonely (1990)", ())]


def test_movies_by_ids_keep_order_and_skip_missing(
    catalogue: dict[str, Any], django_assert_num_queries: Any
) -> None:
    heat, fargo, blank = catalogue["heat"], catalogue["fargo"], catalogue["blank"]
    with django_assert_num_queries(1):
        movies = selectors.movies_by_ids([blank.pk, 999_999, heat.pk, fargo.pk])
    assert [movie.title for movie in movies] == ["unknown", "Heat (1995)", "Fargo (1996)"]
    assert selectors.movies_by_ids([]) == []


def test_catalogue_version_is_cached_and_stable(
    catalogue: dict[str, Any], django_assert_num_queries: Any
) -> None:
    first = selectors.catalogue_version()
    with django_assert_num_queries(0):
        assert selectors.catalogue_version() == first
    cache.clear()  # a restarted cache derives the same value from the same database
    assert selectors.catalogue_version() == first


@pytest.mark.parametrize(
    "change",
    [
        "rename_movie",
        "add_movie",
        "delete_movie",
        "add_genre_to_movie",
        "remove_genre_from_movie",
        "rename_genre",
    ],
)
def test_catalogue_version_changes_after_commit_of_any_movie_change(
    catalogue: dict[str, Any], change: str, django_capture_on_commit_callbacks: Any
) -> None:
    heat = catalogue["heat"]
    before = selectors.catalogue_version()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        if change == "rename_movie":
            heat.title = "Heat (1995, director's cut)"
            heat.save()
        elif change == "add_movie":
            make_movie()
        elif change == "delete_movie":
            catalogue["fargo"].delete()
        elif change == "add_genre_to_movie":
            heat.genres.add(make_genre(name="Crime"))
        elif change == "remove_genre_from_movie":
            heat.genres.remove(heat.genres.get(name="Action"))
        else:
            heat.genres.filter(name="Drama").update(name="Melodrama")
            heat.genres.get(name="Melodrama").save()
    # Not before commit: a worker reloading now would still read the old rows.
    assert selectors.catalogue_version() == before
    assert callbacks
    for callback in callbacks:
        callback()
    assert selectors.catalogue_version() != before


def test_catalogue_version_ignores_ratings(catalogue: dict[str, Any]) -> None:
    before = selectors.catalogue_version_refresh()
    make_rating(movie=catalogue["fargo"], rating=1)
    assert selectors.catalogue_version_refresh() == before
    assert Movie.objects.count() == 3
