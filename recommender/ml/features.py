"""Feature layer (Django-free): demographic encoding, like matrix and genre flags.

Frame shapes the rest of the package expects (the Django side builds them):

- ``ratings``: columns ``rater_id``, ``movie_id``, ``rating`` (integers, stars 1-5).
- ``raters``: columns ``rater_id``, ``age``, ``gender``, ``occupation``.
- ``movies``: column ``movie_id`` plus one boolean (or 0/1) column per genre; every
  column other than ``movie_id`` is read as a genre flag, in frame order. ``GENRES``
  lists the ml-100k genre names, which is what the catalogue uses.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from recommender.ml.profile import GENDERS, MAX_AGE, MIN_AGE, OCCUPATIONS, Profile

GENRES: tuple[str, ...] = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)

# The MovieLens-1M age groups; ml-100k itself spans 7-73, so the outer buckets are
# where ages 1-6 and 74-120 land.
AGE_BUCKET_STARTS: tuple[int, ...] = (MIN_AGE, 18, 25, 35, 45, 50, 56)
AGE_BUCKETS: tuple[str, ...] = tuple(
    f"{start}-{end - 1}"
    for start, end in zip(AGE_BUCKET_STARTS, (*AGE_BUCKET_STARTS[1:], MAX_AGE + 1), strict=True)
)
# The smooth age terms are clamped to the ages seen in ml-100k so that a 120-year-old
# is not extrapolated along a parabola fitted on 7-73.
SMOOTH_AGE_RANGE: tuple[int, int] = (7, 73)
SMOOTH_AGE_CENTRE = 35.0
SMOOTH_AGE_SCALE = 15.0


def _feature_layout() -> tuple[tuple[str, ...], tuple[str, ...]]:
    names: list[str] = []
    groups: list[str] = []
    for bucket in AGE_BUCKETS:
        names.append(f"age:{bucket}")
        groups.append("age")
    for gender in ("M", "F"):
        names.append(f"gender:{gender}")
        groups.append("gender")
    for occupation in OCCUPATIONS:
        names.append(f"occupation:{occupation}")
        groups.append("occupation")
    for gender in ("M", "F"):
        for bucket in AGE_BUCKETS:
            names.append(f"age:{bucket}*gender:{gender}")
            groups.append("age_gender")
    names.extend(("age_smooth", "age_smooth_squared"))
    groups.extend(("age_smooth", "age_smooth"))
    return tuple(names), tuple(groups)


FEATURE_NAMES, FEATURE_GROUPS = _feature_layout()
N_FEATURES = len(FEATURE_NAMES)

_N_BUCKETS = len(AGE_BUCKETS)
_GENDER_AT = FEATURE_NAMES.index("gender:M")
_OCCUPATION_AT = FEATURE_NAMES.index(f"occupation:{OCCUPATIONS[0]}")
_AGE_GENDER_AT = FEATURE_NAMES.index(f"age:{AGE_BUCKETS[0]}*gender:M")
_SMOOTH_AT = FEATURE_NAMES.index("age_smooth")
_OCCUPATION_INDEX = {name: i for i, name in enumerate(OCCUPATIONS)}
# Gender "O" does not occur in ml-100k: it gets half of each, so it sits between the
# M and F predictions instead of being assumed to be either.
_GENDER_WEIGHTS: dict[str, tuple[float, float]] = {
    "M": (1.0, 0.0),
    "F": (0.0, 1.0),
    "O": (0.5, 0.5),
}


def age_bucket(age: int) -> str:
    """The label (e.g. ``"18-24"``) of the age bucket an age falls in."""
    if not MIN_AGE <= age <= MAX_AGE:
        raise ValueError(f"age must be between {MIN_AGE} and {MAX_AGE}, got {age}")
    return AGE_BUCKETS[int(np.searchsorted(AGE_BUCKET_STARTS, age, side="right")) - 1]


def encode_profiles(
    ages: Sequence[int] | np.ndarray,
    genders: Sequence[str] | np.ndarray,
    occupations: Sequence[str] | np.ndarray,
) -> np.ndarray:
    """One feature row (``FEATURE_NAMES`` order) per person; raises ValueError."""
    age = np.asarray(ages)
    gender = np.asarray(genders, dtype=object)
    occupation = np.asarray(occupations, dtype=object)
    n = len(age)
    if not len(gender) == len(occupation) == n:
        raise ValueError("ages, genders and occupations must have the same length")
    if n and not np.issubdtype(age.dtype, np.integer):
        raise ValueError("ages must be integers")
    age = age.astype(np.int64)
    if n and (age.min() < MIN_AGE or age.max() > MAX_AGE):
        raise ValueError(f"ages must be between {MIN_AGE} and {MAX_AGE}")
    unknown_genders = set(gender.tolist()) - set(GENDERS)
    if unknown_genders:
        raise ValueError(f"unknown gender(s) {sorted(map(str, unknown_genders))}")
    unknown_occupations = set(occupation.tolist()) - set(OCCUPATIONS)
    if unknown_occupations:
        raise ValueError(f"unknown occupation(s) {sorted(map(str, unknown_occupations))}")

    rows = np.arange(n)
    x = np.zeros((n, N_FEATURES))
    bucket = np.searchsorted(AGE_BUCKET_STARTS, age, side="right") - 1
    x[rows, bucket] = 1.0
    male = np.array([_GENDER_WEIGHTS[g][0] for g in gender.tolist()])
    female = np.array([_GENDER_WEIGHTS[g][1] for g in gender.tolist()])
    x[:, _GENDER_AT] = male
    x[:, _GENDER_AT + 1] = female
    occupation_index = np.array([_OCCUPATION_INDEX[o] for o in occupation.tolist()], dtype=np.int64)
    x[rows, _OCCUPATION_AT + occupation_index] = 1.0
    x[rows, _AGE_GENDER_AT + bucket] = male
    x[rows, _AGE_GENDER_AT + _N_BUCKETS + bucket] = female
    smooth = (np.clip(age, *SMOOTH_AGE_RANGE) - SMOOTH_AGE_CENTRE) / SMOOTH_AGE_SCALE
    x[:, _SMOOTH_AT] = smooth
    x[:, _SMOOTH_AT + 1] = smooth**2
    return x


def encode_profile(profile: Profile) -> np.ndarray:
    """The feature row of one (validated) profile, as encode_profiles makes it."""
    x = np.zeros(N_FEATURES)
    bucket = int(np.searchsorted(AGE_BUCKET_STARTS, profile.age, side="right")) - 1
    male, female = _GENDER_WEIGHTS[profile.gender]
    x[bucket] = 1.0
    x[_GENDER_AT] = male
    x[_GENDER_AT + 1] = female
    x[_OCCUPATION_AT + _OCCUPATION_INDEX[profile.occupation]] = 1.0
    x[_AGE_GENDER_AT + bucket] = male
    x[_AGE_GENDER_AT + _N_BUCKETS + bucket] = female
    low, high = SMOOTH_AGE_RANGE
    smooth = (min(max(profile.age, low), high) - SMOOTH_AGE_CENTRE) / SMOOTH_AGE_SCALE
    x[_SMOOTH_AT] = smooth
    x[_SMOOTH_AT + 1] = smooth * smooth
    return x


def encode_raters(raters: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(rater ids, feature rows) for a ``raters`` frame, in frame order."""
    _require_columns(raters, ("rater_id", "age", "gender", "occupation"), "raters")
    ids = raters["rater_id"].to_numpy(dtype=np.int64)
    x = encode_profiles(
        raters["age"].to_numpy(dtype=np.int64),
        raters["gender"].to_numpy(dtype=object),
        raters["occupation"].to_numpy(dtype=object),
    )
    return ids, x


def sparse_like_matrix(
    ratings: pd.DataFrame,
    rater_ids: np.ndarray,
    movie_ids: np.ndarray,
    threshold: int = 4,
) -> sparse.csr_matrix:
    """1.0 where the rater gave the movie at least ``threshold`` stars, as a CSR matrix.

    Rows follow ``rater_ids`` and columns ``movie_ids``; an unrated pair is 0 (the
    target is "rated it and liked it"). Ratings of raters or movies not listed are
    ignored. Memory grows with the number of likes, not raters x movies (at 94,000
    raters and 17,000 movies a dense matrix would take 12.8 GB).
    """
    _require_columns(ratings, ("rater_id", "movie_id", "rating"), "ratings")
    rows = pd.Index(rater_ids).get_indexer(ratings["rater_id"].to_numpy())
    cols = pd.Index(movie_ids).get_indexer(ratings["movie_id"].to_numpy())
    liked = (ratings["rating"].to_numpy() >= threshold) & (rows >= 0) & (cols >= 0)
    y = sparse.csr_matrix(
        (np.ones(int(liked.sum())), (rows[liked], cols[liked])),
        shape=(len(rater_ids), len(movie_ids)),
    )
    # A pair rated twice is still one like (COO -> CSR would add them up).
    y.data[:] = 1.0
    return y


def like_matrix(
    ratings: pd.DataFrame,
    rater_ids: np.ndarray,
    movie_ids: np.ndarray,
    threshold: int = 4,
) -> np.ndarray:
    """``sparse_like_matrix`` as a dense array; only for small data (tests, inspection)."""
    return sparse_like_matrix(ratings, rater_ids, movie_ids, threshold).toarray()


def genre_matrix(
    movies: pd.DataFrame,
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """(movie ids, boolean genre flags of shape (n_movies, n_genres), genre names)."""
    _require_columns(movies, ("movie_id",), "movies")
    names = tuple(str(c) for c in movies.columns if c != "movie_id")
    ids = movies["movie_id"].to_numpy(dtype=np.int64)
    if len(np.unique(ids)) != len(ids):
        raise ValueError("movies has duplicate movie_id values")
    flags = movies[list(names)].to_numpy()
    if flags.size and not np.isin(flags, (0, 1)).all():
        raise ValueError("genre columns must hold booleans or 0/1")
    return ids, flags.astype(bool), names


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} frame lacks column(s) {missing}")
