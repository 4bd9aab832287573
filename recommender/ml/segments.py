"""Explanation layer (Django-free): who rated and liked each movie, per demographic segment.

Counted once at training time over the training raters and stored with the model, so a
reason costs no query: "Liked by 78% of the 142 women aged 25-34 who rated it" uses the
profile's most specific segment with at least ``MIN_RATERS`` raters of that movie.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recommender.ml.features import AGE_BUCKET_STARTS, AGE_BUCKETS, age_bucket
from recommender.ml.profile import GENDERS, OCCUPATIONS, Profile

# No reason ever speaks of fewer raters than this.
MIN_RATERS = 20

# Most specific first; a profile falls back along this order.
SEGMENT_KINDS: tuple[str, ...] = ("gender_age", "gender", "age", "occupation", "all")


def _segment_names() -> tuple[str, ...]:
    names: list[str] = []
    names += [f"gender={g}&age={b}" for g in GENDERS for b in AGE_BUCKETS]
    names += [f"gender={g}" for g in GENDERS]
    names += [f"age={b}" for b in AGE_BUCKETS]
    names += [f"occupation={o}" for o in OCCUPATIONS]
    names.append("all")
    return tuple(names)


SEGMENT_NAMES = _segment_names()
_INDEX = {name: i for i, name in enumerate(SEGMENT_NAMES)}


@dataclass(frozen=True, eq=False)
class SegmentCounts:
    """``raters[s, j]``: training raters of segment ``names[s]`` who rated movie
    ``movie_ids[j]``; ``likes[s, j]``: how many of them gave it the like threshold or more.
    Columns follow the model's ``movie_ids``."""

    names: tuple[str, ...]
    raters: np.ndarray  # (n_segments, n_movies) int32
    likes: np.ndarray  # (n_segments, n_movies) int32

    def segments_of(self, profile: Profile) -> list[int]:
        """Row indices of the profile's segments, most specific first."""
        bucket = age_bucket(profile.age)
        wanted = (
            f"gender={profile.gender}&age={bucket}",
            f"gender={profile.gender}",
            f"age={bucket}",
            f"occupation={profile.occupation}",
            "all",
        )
        index = {name: i for i, name in enumerate(self.names)}
        return [index[name] for name in wanted if name in index]

    def reason(self, segments: list[int], column: int) -> str:
        """The sentence for movie ``column`` and a profile's ``segments``."""
        for s in segments:
            raters = int(self.raters[s, column])
            if raters >= MIN_RATERS:
                likes = int(self.likes[s, column])
                percent = round(100 * likes / raters)
                return f"Liked by {percent}% of the {raters} {describe(self.names[s])} who rated it"
        total = int(self.raters[segments[-1], column]) if segments else 0
        return (
            f"Rated by only {total} {'person' if total == 1 else 'people'} in the training "
            "data, too few to say who liked it; ranked by the model's estimate for this profile"
        )


def segment_counts(
    ratings: pd.DataFrame,
    raters: pd.DataFrame,
    movie_ids: np.ndarray,
    *,
    threshold: int = 4,
) -> SegmentCounts:
    """Count raters and likes per segment and movie; ratings of raters or movies that are
    not listed are ignored."""
    movie_ids = np.asarray(movie_ids, dtype=np.int64)
    rater_ids = raters["rater_id"].to_numpy(dtype=np.int64)
    row = pd.Index(rater_ids).get_indexer(ratings["rater_id"].to_numpy())
    col = pd.Index(movie_ids).get_indexer(ratings["movie_id"].to_numpy())
    known = (row >= 0) & (col >= 0)
    row, col = row[known], col[known]
    liked = ratings["rating"].to_numpy()[known] >= threshold

    ages = raters["age"].to_numpy(dtype=np.int64)
    bucket = np.searchsorted(AGE_BUCKET_STARTS, ages, side="right") - 1
    gender_code = pd.Index(GENDERS).get_indexer(raters["gender"].to_numpy(dtype=object))
    occupation_code = pd.Index(OCCUPATIONS).get_indexer(raters["occupation"].to_numpy(dtype=object))
    n_buckets = len(AGE_BUCKETS)
    gender_age_at = _INDEX[f"gender={GENDERS[0]}&age={AGE_BUCKETS[0]}"]
    gender_at = _INDEX[f"gender={GENDERS[0]}"]
    age_at = _INDEX[f"age={AGE_BUCKETS[0]}"]
    occupation_at = _INDEX[f"occupation={OCCUPATIONS[0]}"]
    per_rater = [
        np.where(gender_code >= 0, gender_age_at + gender_code * n_buckets + bucket, -1),
        np.where(gender_code >= 0, gender_at + gender_code, -1),
        age_at + bucket,
        np.where(occupation_code >= 0, occupation_at + occupation_code, -1),
        np.full(len(rater_ids), _INDEX["all"]),
    ]
    n_movies, n_segments = len(movie_ids), len(SEGMENT_NAMES)
    counted = np.zeros(n_segments * n_movies, dtype=np.int64)
    liked_counts = np.zeros(n_segments * n_movies, dtype=np.int64)
    for segment_of_rater in per_rater:
        segment = segment_of_rater[row]
        ok = segment >= 0
        cell = segment[ok] * n_movies + col[ok]
        counted += np.bincount(cell, minlength=n_segments * n_movies)
        liked_counts += np.bincount(cell[liked[ok]], minlength=n_segments * n_movies)
    return SegmentCounts(
        names=SEGMENT_NAMES,
        raters=counted.reshape(n_segments, n_movies).astype(np.int32),
        likes=liked_counts.reshape(n_segments, n_movies).astype(np.int32),
    )


_GENDER_WORDS = {"M": "men", "F": "women", "O": "people of another gender"}
_OCCUPATION_WORDS = {
    "entertainment": "people in entertainment",
    "healthcare": "people in healthcare",
    "marketing": "people in marketing",
    "none": "people without an occupation",
    "other": "people with another occupation",
    "retired": "retired people",
    "salesman": "salespeople",
}


def _age_words(bucket: str) -> str:
    start, end = bucket.split("-")
    if start == str(AGE_BUCKET_STARTS[0]):
        return f"under {int(end) + 1}"
    if bucket == AGE_BUCKETS[-1]:
        return f"aged {start} or over"
    return f"aged {start}-{end}"


def describe(name: str) -> str:
    """Plural words for a segment name: "women aged 25-34", "students", "people"."""
    parts = dict(part.split("=", 1) for part in name.split("&") if "=" in part)
    if "gender" in parts and "age" in parts:
        return f"{_GENDER_WORDS[parts['gender']]} {_age_words(parts['age'])}"
    if "gender" in parts:
        return _GENDER_WORDS[parts["gender"]]
    if "age" in parts:
        return f"people {_age_words(parts['age'])}"
    if "occupation" in parts:
        occupation = parts["occupation"]
        return _OCCUPATION_WORDS.get(occupation, f"{occupation}s")
    return "people"
