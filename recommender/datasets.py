"""recommender: the ONLY ORM -> pandas adapter (reads through catalog.selectors)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from catalog import selectors


@dataclass(frozen=True)
class TrainingFrames:
    """The frames recommender.ml.training and recommender.ml.evaluation take.

    Movies and raters are identified by primary key, as everywhere in serving; the two
    maps give each one's MovieLens id, what the data set itself calls it.
    """

    ratings: pd.DataFrame  # rater_id, movie_id, rating
    raters: pd.DataFrame  # rater_id, age, gender, occupation
    movies: pd.DataFrame  # movie_id + one bool column per genre
    movie_ml_ids: dict[int, int] = field(default_factory=dict)  # movie pk -> ml_id
    rater_ml_ids: dict[int, int] = field(default_factory=dict)  # rater pk -> ml_id

    def fingerprint(self) -> str:
        """SHA-256 of the training data's content, independent of row order and of the
        database's primary keys: movies and raters are named by their MovieLens ids, so the
        same data set ingested again (after deleted rows or a failed ingest moved the id
        sequences) has the same fingerprint, and the gate recognises it."""
        ratings = self.ratings.assign(
            rater_id=self.ratings["rater_id"].map(self.rater_ml_ids),
            movie_id=self.ratings["movie_id"].map(self.movie_ml_ids),
        )
        raters = self.raters.assign(rater_id=self.raters["rater_id"].map(self.rater_ml_ids))
        movies = self.movies.assign(movie_id=self.movies["movie_id"].map(self.movie_ml_ids))
        digest = hashlib.sha256(b"movierec training data v2\0")
        for frame, key in (
            (ratings, ["rater_id", "movie_id"]),
            (raters, ["rater_id"]),
            (movies, ["movie_id"]),
        ):
            if frame[key].isna().to_numpy().any():
                raise ValueError("a row has no MovieLens id: the id maps are incomplete")
            ordered = frame.astype({column: "int64" for column in key})
            ordered = ordered.sort_values(key, kind="stable").reset_index(drop=True)
            digest.update(",".join(map(str, ordered.columns)).encode())
            digest.update(pd.util.hash_pandas_object(ordered, index=False).to_numpy().tobytes())
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
        movie_ml_ids=selectors.movie_ml_ids(),
        rater_ml_ids=selectors.rater_ml_ids(),
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


# Feedback people get negative rater ids, so they never collide with MovieLens raters.
def feedback_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ratings, raters) of the feedback people, in the shapes of TrainingFrames, leaving
    out everything sent with a revoked key. Rater ids are minus the person's primary key."""
    from recommender.models import FeedbackPerson, FeedbackRating

    people = FeedbackPerson.objects.filter(api_key__revoked=False).order_by("pk")
    raters = pd.DataFrame.from_records(
        [
            (-pk, age, g, o)
            for pk, age, g, o in people.values_list("pk", "age", "gender", "occupation")
        ],
        columns=["rater_id", "age", "gender", "occupation"],
    )
    rows = FeedbackRating.objects.filter(person__api_key__revoked=False).order_by("pk")
    ratings = pd.DataFrame.from_records(
        [(-p, m, r) for p, m, r in rows.values_list("person_id", "movie_id", "rating")],
        columns=["rater_id", "movie_id", "rating"],
    )
    return (
        ratings.astype({"rater_id": "int64", "movie_id": "int64", "rating": "int64"}),
        raters.astype({"rater_id": "int64", "age": "int64"}),
    )
