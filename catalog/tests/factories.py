"""catalog test factories: plain functions, each row valid by default, any field overridable."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from typing import Any

from catalog.models import Genre, Movie, Rater, Rating

_ids = itertools.count(10_001)
_genre_ids = itertools.count(100)  # above ml-100k's 0-18, within a small integer


def make_genre(**overrides: Any) -> Genre:
    ml_id = overrides.pop("ml_id", next(_genre_ids))
    return Genre.objects.create(
        ml_id=ml_id, name=overrides.pop("name", f"Genre {ml_id}"), **overrides
    )


def make_movie(*, genres: list[Genre] | None = None, **overrides: Any) -> Movie:
    ml_id = overrides.pop("ml_id", next(_ids))
    fields: dict[str, Any] = {
        "title": f"Movie {ml_id} (1995)",
        "release_date": date(1995, 1, 1),
        "imdb_url": f"http://example.org/title?{ml_id}",
        **overrides,
    }
    movie = Movie.objects.create(ml_id=ml_id, **fields)
    if genres:
        movie.genres.set(genres)
    return movie


def make_rater(**overrides: Any) -> Rater:
    fields: dict[str, Any] = {
        "ml_id": next(_ids),
        "age": 30,
        "gender": "F",
        "occupation": "engineer",
        "zip_code": "12345",
        **overrides,
    }
    return Rater.objects.create(**fields)


def make_rating(
    *, rater: Rater | None = None, movie: Movie | None = None, **overrides: Any
) -> Rating:
    fields: dict[str, Any] = {
        "rating": 4,
        "rated_at": datetime(1998, 1, 1, tzinfo=UTC),
        **overrides,
    }
    return Rating.objects.create(rater=rater or make_rater(), movie=movie or make_movie(), **fields)
