"""recommender: the ONLY ORM -> pandas adapter (reads through catalog.selectors)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from catalog import selectors


@dataclass(frozen=True)
class TrainingFrames:
    """The frames recommender.ml.training and recommender.ml.evaluation take."""

    ratings: pd.DataFrame  # rater_id, movie_id, rating
    raters: pd.DataFrame  # rater_id, age, gender, occupation
    movies: pd.DataFrame  # movie_id + one bool column per genre

    def fingerprint(self) -> str:
        """SHA-256 of the training data, independent of row order."""
        digest = hashlib.sha256()
        for frame, key in ((self.ratings, ["rater_id", "movie_id"]), (self.raters, ["rater_id"])):
            ordered = frame.sort_values(key, kind="stable").reset_index(drop=True)
            digest.update(pd.util.hash_pandas_object(ordered, index=False).to_numpy().tobytes())
        movies = self.movies.sort_values("movie_id", kind="stable").reset_index(drop=True)
        digest.update(",".join(map(str, movies.columns)).encode())
        digest.update(pd.util.hash_pandas_object(movies, index=False).to_numpy().tobytes())
        return digest.hexdigest()


@dataclass(frozen=True)
class Catalogue:
    """What serving needs of the catalogue, held in memory by each worker."""

    movie_ids: np.ndarray  # (n,) int64, ascending
    titles: tuple[str, ...]
    genre_flags: np.ndarray  # (n, n_genres) bool
    genre_names: tuple[str, ...]
    version: str


def training_frames() -> TrainingFrames:
    rater_pks, movie_pks, stars = selectors.rating_columns()
    ratings = pd.DataFrame({"rater_id": rater_pks, "movie_id": movie_pks, "rating": stars})
    del rater_pks, movie_pks, stars
    raters = pd.DataFrame.from_records(
        selectors.rater_rows(), columns=["rater_id", "age", "gender", "occupation"]
    )
    catalogue = catalogue_snapshot()
    movies = pd.DataFrame(catalogue.genre_flags, columns=list(catalogue.genre_names))
    movies.insert(0, "movie_id", catalogue.movie_ids)
    return TrainingFrames(
        ratings=ratings.astype({"rater_id": "int64", "movie_id": "int64", "rating": "int64"}),
        raters=raters.astype({"rater_id": "int64", "age": "int64"}),
        movies=movies,
    )


def catalogue_snapshot() -> Catalogue:
    # Read the version first: a change racing with the read leaves a stale marker,
    # so the next poll reloads rather than keeping a newer table under an old marker.
    version = selectors.catalogue_version()
    genre_names = tuple(selectors.genre_names())
    rows = selectors.movie_rows()
    column = {name: i for i, name in enumerate(genre_names)}
    flags = np.zeros((len(rows), len(genre_names)), dtype=bool)
    for i, (_, _, genres) in enumerate(rows):
        for genre in genres:
            flags[i, column[genre]] = True
    return Catalogue(
        movie_ids=np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows)),
        titles=tuple(row[1] for row in rows),
        genre_flags=flags,
        genre_names=genre_names,
        version=version,
    )
