"""catalog test helpers: zips of a data set, checksums, and snapshots of the catalogue."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from typing import Any

from catalog.models import Genre, Movie, Rater, Rating


def make_zip(folder: Path, target: Path, *, prefix: str = "ml-100k/") -> Path:
    """Pack ``folder``'s u.* files the way GroupLens does: one folder inside the zip."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(folder.glob("u.*")):
            archive.write(file, f"{prefix}{file.name}")
    return target


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def catalogue_snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every catalogue row (with primary keys and timestamps): equal means nothing changed."""
    through = Movie.genres.through
    return {
        "genres": list(Genre.objects.order_by("pk").values_list()),
        "movies": list(Movie.objects.order_by("pk").values_list()),
        "movie_genres": list(through.objects.order_by("pk").values_list()),
        "raters": list(Rater.objects.order_by("pk").values_list()),
        "ratings": list(Rating.objects.order_by("pk").values_list()),
    }


def catalogue_content() -> dict[str, list[tuple[Any, ...]]]:
    """The catalogue by MovieLens ids, without database keys: what two sources must agree on."""
    return {
        "genres": list(Genre.objects.order_by("ml_id").values_list("ml_id", "name")),
        "movies": _movies_by_ml_id(),
        "raters": list(
            Rater.objects.order_by("ml_id").values_list(
                "ml_id", "age", "gender", "occupation", "zip_code"
            )
        ),
        "ratings": list(
            Rating.objects.order_by("rater__ml_id", "movie__ml_id").values_list(
                "rater__ml_id", "movie__ml_id", "rating", "rated_at"
            )
        ),
    }


def _movies_by_ml_id() -> list[tuple[Any, ...]]:
    genres: dict[int, list[int]] = {}
    for movie, genre in Movie.genres.through.objects.values_list("movie__ml_id", "genre__ml_id"):
        genres.setdefault(movie, []).append(genre)
    return [
        (*values, tuple(sorted(genres.get(values[0], []))))
        for values in Movie.objects.order_by("ml_id").values_list(
            "ml_id", "title", "release_date", "video_release_date", "imdb_url"
        )
    ]
