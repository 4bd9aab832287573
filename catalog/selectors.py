"""catalog: selectors (reads). What other apps may ask of the catalogue, in one or two queries each.

Movies and raters are identified by their database primary key, never by the MovieLens id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from django.core.cache import cache
from django.db.models import Count, Max

from catalog import bulk
from catalog.models import Genre, Movie, Rater, Rating

CATALOGUE_VERSION_KEY = "catalog:catalogue-version"
# How long a derived version may be served from the cache. Signals and the ingest refresh it at
# once; the timeout bounds staleness where the cache is per process (locmem, no REDIS_URL).
CATALOGUE_VERSION_TTL_SECONDS = 60


def rating_rows() -> list[tuple[int, int, int]]:
    """(rater pk, movie pk, rating) for every rating, in primary-key order."""
    return list(Rating.objects.order_by("pk").values_list("rater_id", "movie_id", "rating"))


def rating_columns() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rater pks, movie pks, ratings) of every rating as int64 arrays, in no particular order.

    For the whole rating log (training): streamed from the database into arrays, about 24
    bytes per rating where `rating_rows` costs a Python tuple each.
    """
    stored = bulk.read_ratings(with_times=False)
    return stored.rater_pk, stored.movie_pk, stored.rating


def rater_rows() -> list[tuple[int, int, str, str]]:
    """(rater pk, age, gender, occupation) for every rater, in primary-key order."""
    return list(Rater.objects.order_by("pk").values_list("pk", "age", "gender", "occupation"))


def movie_ml_ids() -> dict[int, int]:
    """Movie pk -> MovieLens id, for describing data by content rather than by row."""
    return dict(Movie.objects.values_list("pk", "ml_id"))


def rater_ml_ids() -> dict[int, int]:
    """Rater pk -> MovieLens id."""
    return dict(Rater.objects.values_list("pk", "ml_id"))


def genre_names() -> list[str]:
    """Every genre name, in MovieLens id order ("unknown" first)."""
    return list(Genre.objects.order_by("ml_id").values_list("name", flat=True))


def movie_rows() -> list[tuple[int, str, tuple[str, ...]]]:
    """(movie pk, title, genre names in MovieLens genre order) for every movie, by pk. 2 queries."""
    names: dict[int, list[str]] = {}
    links = Movie.genres.through.objects.order_by("movie_id", "genre__ml_id")
    for movie_pk, name in links.values_list("movie_id", "genre__name"):
        names.setdefault(movie_pk, []).append(name)
    return [
        (pk, title, tuple(names.get(pk, ())))
        for pk, title in Movie.objects.order_by("pk").values_list("pk", "title")
    ]


def movies_by_ids(ids: Sequence[int]) -> list[Movie]:
    """The movies with these primary keys, in the given order; unknown ids are skipped."""
    found = Movie.objects.in_bulk(list(dict.fromkeys(ids)))
    return [found[pk] for pk in ids if pk in found]


def catalogue_version() -> str:
    """A marker that changes whenever a movie, its genres or a genre changes.

    Workers poll it (one cache read) to know when to reload their in-memory title table.
    """
    version = cache.get(CATALOGUE_VERSION_KEY)
    if version is None:
        version = catalogue_version_refresh()
    return version


def catalogue_version_refresh() -> str:
    """Derive the version from the database and publish it in the cache. 3 small queries.

    Called after commit by the model signals and the ingest. Derived rather than random, so
    that processes without a shared cache still agree on the same value. Row counts with the
    highest primary key catch inserts and deletes (ids only grow), ``updated_at`` catches edits,
    and the genre links are counted the same way so that even a raw bulk write shows.
    """
    movies = Movie.objects.aggregate(count=Count("pk"), top=Max("pk"), changed=Max("updated_at"))
    links = Movie.genres.through.objects.aggregate(count=Count("pk"), top=Max("pk"))
    genres = list(Genre.objects.order_by("pk").values_list("pk", "ml_id", "name"))
    text = (
        f"{movies['count']}|{movies['top']}|{movies['changed']}|"
        f"{links['count']}|{links['top']}|{genres!r}"
    )
    version = hashlib.sha256(text.encode()).hexdigest()[:16]
    cache.set(CATALOGUE_VERSION_KEY, version, CATALOGUE_VERSION_TTL_SECONDS)
    return version


def movie_facts() -> dict[int, tuple[int, int | None, str]]:
    """movie pk -> (MovieLens id, release year or None, IMDb URL or "") for every movie. 1 query."""
    return {
        pk: (ml_id, released.year if released is not None else None, url)
        for pk, ml_id, released, url in Movie.objects.values_list(
            "pk", "ml_id", "release_date", "imdb_url"
        )
    }
