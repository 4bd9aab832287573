"""Training layer (Django-free): multi-output ridge regression of likes on demographics.

For every rater x movie pair the target is 1 if the rater gave the movie 4-5 stars and
0 otherwise (unrated pairs included). All movies share the same user features, so the
fit is one multi-output ridge (``ridge_from_gram``, sklearn's answer from XᵀX and XᵀY with Y
sparse): X holds one demographic row per rater, Y one column
per movie, and each movie gets its own weight vector. That per-movie weight vector is
the demographic x movie interaction, so the ranking changes with the profile; the
intercept is the movie's overall like rate. Serving a profile is ``x @ W + b``.

Movies that were never rated in training are scored by a genre prior: a second ridge
maps genre flags to a movie's (intercept, weights), shrunk by ``unseen_prior_scale``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import linalg, sparse
from sklearn.linear_model import Ridge
from threadpoolctl import threadpool_limits

from recommender.ml.features import (
    FEATURE_GROUPS,
    FEATURE_NAMES,
    encode_raters,
    genre_matrix,
    sparse_like_matrix,
)
from recommender.ml.segments import SegmentCounts, segment_counts

if TYPE_CHECKING:
    from recommender.ml.warm import WarmModel


@dataclass(frozen=True)
class TrainParams:
    """Hyper-parameters; the defaults were chosen once, by nested cross-validation on
    ml-100k (``benchmarks/tune_model.py``). Inner folds preferred alpha 200 and
    occupation_scale 0.3, but NDCG@10 is flat (within 0.002) from alpha 100 to 200
    while top-10 lists of different profiles overlap much more at 200 (mean Jaccard
    distance 0.42 against 0.50), so alpha is 100."""

    # Ridge penalty on the demographic weights of each movie (likes are 0/1).
    alpha: float = 100.0
    # Stars needed for a rating to count as a "like".
    like_threshold: int = 4
    # Feature-group column scales: a scale s multiplies that group's penalty by 1/s**2.
    # Occupation groups are small (as few as 7 raters), so they are shrunk harder.
    occupation_scale: float = 0.3
    age_gender_scale: float = 1.0
    # Ridge penalty of the genre -> (intercept, weights) prior for unseen movies.
    genre_alpha: float = 10.0
    # The prior is multiplied by this, so a new movie ranks below the established
    # movies of its genres rather than among them.
    unseen_prior_scale: float = 0.5

    def __post_init__(self) -> None:
        for name in ("alpha", "genre_alpha"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        for name in ("occupation_scale", "age_gender_scale"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if not 0 <= self.unseen_prior_scale <= 1:
            raise ValueError("unseen_prior_scale must be within [0, 1]")
        if not 1 <= self.like_threshold <= 5:
            raise ValueError("like_threshold must be between 1 and 5")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainParams:
        return cls(**data)


@dataclass(frozen=True, eq=False)
class RecommenderModel:
    """A trained model as plain arrays (see ``recommender.ml.artifacts`` for storage).

    - ``movie_ids`` (n_movies,): the movies seen in training, ascending.
    - ``weights`` (n_features, n_movies) and ``intercept`` (n_movies,): the score of
      movie j for feature row x is ``x @ weights[:, j] + intercept[j]``.
    - ``genre_prior_coef`` (n_genres, 1 + n_features) and ``genre_prior_bias``
      (1 + n_features,): an unseen movie with genre flags g gets
      ``bias + g @ coef`` as its (intercept, weights...) column.
    - ``warm``: the item-to-item models for requests that name liked movies
      (``recommender.ml.warm``), or None when the model has none (artifact format 1).
    """

    movie_ids: np.ndarray
    weights: np.ndarray
    intercept: np.ndarray
    genre_prior_coef: np.ndarray
    genre_prior_bias: np.ndarray
    feature_names: tuple[str, ...]
    genre_names: tuple[str, ...]
    params: TrainParams
    # Raters and likes per demographic segment and movie, for explanations: counted by
    # `with_segments` for the model that serves (not for every evaluation fold); None in
    # artifacts written before they were counted.
    segments: SegmentCounts | None = None
    warm: WarmModel | None = None

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def prior_columns(self, genre_flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(weights (n_features, n), intercept (n,)) for movies given by genre flags."""
        flags = np.asarray(genre_flags, dtype=np.float64).reshape(-1, len(self.genre_names))
        columns = self.genre_prior_bias + flags @ self.genre_prior_coef
        return columns[:, 1:].T, columns[:, 0]


DEFAULT_PARAMS = TrainParams()


def column_scales(params: TrainParams) -> np.ndarray:
    """Per-feature multipliers applied before the fit (see TrainParams)."""
    by_group = {
        "occupation": params.occupation_scale,
        "age_gender": params.age_gender_scale,
    }
    return np.array([by_group.get(group, 1.0) for group in FEATURE_GROUPS])


def ridge_from_gram(
    x: np.ndarray, y: sparse.spmatrix | np.ndarray, *, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """Multi-output ridge with an intercept, from XᵀX and XᵀY only: (coef (p, m), intercept (m,)).

    The answer of sklearn's ``Ridge(alpha).fit(x, y)`` (its cholesky solver: centre X and
    Y, solve (XcᵀXc + alpha I) W = XcᵀYc, intercept = ȳ - x̄ W), without ever centring or
    densifying Y: Xc's columns sum to zero, so XcᵀYc = XcᵀY, which a sparse Y gives
    in O(likes x features). X is the small demographic design matrix (raters x 36).

    BLAS runs on one thread: for matrices this thin, threads cost more in hand-offs than
    they save (40x slower on a busy 2-core machine).
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _ridge_from_gram(np.asarray(x, dtype=np.float64), y, alpha=alpha)


def _ridge_from_gram(
    x: np.ndarray, y: sparse.spmatrix | np.ndarray, *, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    x_mean = x.mean(axis=0)
    xc = x - x_mean
    gram = xc.T @ xc
    gram.flat[:: gram.shape[0] + 1] += alpha
    if sparse.issparse(y):
        xty = np.asarray((y.T @ xc).T)  # sparse (m, n) @ dense (n, p): stays O(nnz p)
        y_mean = np.asarray(y.mean(axis=0), dtype=np.float64).reshape(-1)
    else:
        y = np.asarray(y, dtype=np.float64)
        xty = xc.T @ y
        y_mean = y.mean(axis=0)
    coef = linalg.solve(gram, xty, assume_a="pos", overwrite_a=True)
    intercept = y_mean - x_mean @ coef
    return coef, intercept


def train(
    ratings: pd.DataFrame,
    raters: pd.DataFrame,
    movies: pd.DataFrame,
    *,
    params: TrainParams = DEFAULT_PARAMS,
    seed: int = 42,
) -> RecommenderModel:
    """Fit the model; raises ValueError when the frames hold nothing to learn from.

    Raters are those of ``raters`` with at least one rating; movies are those of
    ``movies`` with at least one rating by such a rater. Ratings of other raters or
    movies are ignored. The fit is closed-form, so ``seed`` only matters to solvers
    that randomise (it is passed on as ``random_state``).
    """
    # One BLAS thread for the whole fit (see ridge_from_gram).
    with threadpool_limits(limits=1, user_api="blas"):
        return _train(ratings, raters, movies, params=params, seed=seed)


def _train(
    ratings: pd.DataFrame,
    raters: pd.DataFrame,
    movies: pd.DataFrame,
    *,
    params: TrainParams,
    seed: int,
) -> RecommenderModel:
    rater_ids, x = encode_raters(raters)
    if len(np.unique(rater_ids)) != len(rater_ids):
        raise ValueError("raters has duplicate rater_id values")
    all_movie_ids, all_flags, genre_names = genre_matrix(movies)

    known = ratings[ratings["rater_id"].isin(rater_ids) & ratings["movie_id"].isin(all_movie_ids)]
    if known.empty:
        raise ValueError("no ratings link the given raters and movies")
    rated_by = np.isin(rater_ids, known["rater_id"].to_numpy())
    rater_ids, x = rater_ids[rated_by], x[rated_by]
    movie_order = np.argsort(all_movie_ids)
    rated = np.isin(all_movie_ids[movie_order], known["movie_id"].to_numpy())
    movie_ids = all_movie_ids[movie_order][rated]
    flags = all_flags[movie_order][rated]

    y = sparse_like_matrix(known, rater_ids, movie_ids, threshold=params.like_threshold)
    scales = column_scales(params)
    coef, intercept = ridge_from_gram(x * scales, y, alpha=params.alpha)
    # Fold the scales back in so the stored weights apply to unscaled features.
    weights = np.ascontiguousarray(coef * scales[:, None])

    columns = np.column_stack([intercept, weights.T])
    if len(genre_names):
        prior = Ridge(alpha=params.genre_alpha, random_state=seed)
        prior.fit(flags.astype(np.float64), columns)
        prior_coef = np.asarray(prior.coef_).T
        prior_bias = np.asarray(prior.intercept_, dtype=np.float64)
    else:
        prior_coef = np.zeros((0, columns.shape[1]))
        prior_bias = columns.mean(axis=0)
    return RecommenderModel(
        movie_ids=movie_ids.astype(np.int64),
        weights=weights,
        intercept=intercept,
        genre_prior_coef=prior_coef * params.unseen_prior_scale,
        genre_prior_bias=prior_bias * params.unseen_prior_scale,
        feature_names=FEATURE_NAMES,
        genre_names=genre_names,
        params=params,
    )


def with_segments(
    model: RecommenderModel, ratings: pd.DataFrame, raters: pd.DataFrame
) -> RecommenderModel:
    """The model with its training data's segment counts attached (see ml.segments)."""
    counts = segment_counts(ratings, raters, model.movie_ids, threshold=model.params.like_threshold)
    return replace(model, segments=counts)
