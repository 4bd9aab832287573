"""Evaluation layer (Django-free): cold-start protocol, metrics, baselines and gate.

Protocol: raters are split into folds; for each fold the model is trained on the
other folds' ratings, and every held-out rater is known only by (age, gender,
occupation). Every catalogue movie is a candidate; the relevant set of a held-out
rater is the movies they rated ``like_threshold`` stars or more (raters with none are
skipped). Metrics are averaged over raters, then over folds. The popularity baselines
are evaluated on the same folds in the same run, so the gate compares like with like.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from threadpoolctl import threadpool_limits

from recommender.ml.features import age_bucket, encode_raters, genre_matrix
from recommender.ml.scoring import Scorer, rank_positions
from recommender.ml.training import DEFAULT_PARAMS, TrainParams, train

# Shrinkage (in pseudo-ratings at the global mean) of the movie-mean rating baseline.
MOVIE_MEAN_DAMPING = 2.0


def rater_folds(
    rater_ids: Iterable[int] | np.ndarray, n_folds: int = 5, seed: int = 42
) -> list[np.ndarray]:
    """Unique rater ids split into n_folds disjoint sorted folds; a seed fixes it."""
    ids = np.unique(np.fromiter(rater_ids, dtype=np.int64))
    if not 2 <= n_folds <= len(ids):
        raise ValueError(f"need 2 <= n_folds <= {len(ids)} raters, got {n_folds}")
    shuffled = np.random.default_rng(seed).permutation(ids)
    return [np.sort(fold) for fold in np.array_split(shuffled, n_folds)]


def ndcg_at_k(ranked: Sequence[int], relevant: Collection[int], k: int) -> float:
    """Binary-relevance NDCG@k; the ideal DCG puts min(|relevant|, k) hits first."""
    if not relevant:
        raise ValueError("NDCG is undefined for an empty relevant set")
    if k > len(_DISCOUNTS):
        return _ndcg_at_k(ranked, relevant, k)
    dcg = sum(_DISCOUNTS[rank] for rank, item in enumerate(ranked[:k]) if item in relevant)
    return dcg / _IDEAL_DCG[min(len(relevant), k)]


def _ndcg_at_k(ranked: Sequence[int], relevant: Collection[int], k: int) -> float:
    dcg = sum(1.0 / math.log2(rank + 2) for rank, item in enumerate(ranked[:k]) if item in relevant)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(len(relevant), k)))
    return dcg / ideal


# The same terms, summed in the same order, as ``_ndcg_at_k`` (evaluations call
# ndcg_at_k millions of times at 100x ml-100k).
_DISCOUNTS = tuple(1.0 / math.log2(rank + 2) for rank in range(100))
_IDEAL_DCG = tuple(sum(_DISCOUNTS[rank] for rank in range(m)) for m in range(101))


def precision_at_k(ranked: Sequence[int], relevant: Collection[int], k: int) -> float:
    """Hits among the first k, divided by k (a short list counts its gaps as misses)."""
    if k <= 0:
        raise ValueError("k must be positive")
    return sum(1 for item in ranked[:k] if item in relevant) / k


def rmse(y_true: Sequence[float] | np.ndarray, y_pred: Sequence[float] | np.ndarray) -> float:
    error = np.asarray(y_true, dtype=np.float64) - np.asarray(y_pred, dtype=np.float64)
    if not error.size:
        raise ValueError("rmse of nothing")
    return float(np.sqrt(np.mean(error**2)))


def mae(y_true: Sequence[float] | np.ndarray, y_pred: Sequence[float] | np.ndarray) -> float:
    error = np.asarray(y_true, dtype=np.float64) - np.asarray(y_pred, dtype=np.float64)
    if not error.size:
        raise ValueError("mae of nothing")
    return float(np.mean(np.abs(error)))


def jaccard_distance(a: Collection[int], b: Collection[int]) -> float:
    union = len(set(a) | set(b))
    return 0.0 if union == 0 else 1.0 - len(set(a) & set(b)) / union


def popularity_scores(
    ratings: pd.DataFrame, movie_ids: np.ndarray, *, min_rating: int = 1
) -> np.ndarray:
    """Number of ratings with at least ``min_rating`` stars, per movie of movie_ids."""
    counted = ratings.loc[ratings["rating"] >= min_rating, "movie_id"]
    counts = counted.value_counts()
    return counts.reindex(movie_ids, fill_value=0).to_numpy(dtype=np.float64)


def damped_movie_means(
    ratings: pd.DataFrame, damping: float = MOVIE_MEAN_DAMPING
) -> tuple[float, pd.Series]:
    """(global mean, per-movie mean shrunk towards it by ``damping`` pseudo-ratings)."""
    global_mean = float(ratings["rating"].mean())
    grouped = ratings.groupby("movie_id")["rating"].agg(["sum", "count"])
    means = (grouped["sum"] + damping * global_mean) / (grouped["count"] + damping)
    return global_mean, means


@dataclass(frozen=True)
class RankingMetrics:
    """Top-k quality of one ranker over the held-out raters of all folds."""

    ndcg_at_k: float
    precision_at_k: float
    distinct_lists: int
    mean_jaccard_distance: float
    coverage: float
    per_fold_ndcg: list[float]
    per_fold_precision: list[float]

    def to_dict(self, k: int) -> dict[str, Any]:
        return {
            f"ndcg_at_{k}": self.ndcg_at_k,
            f"precision_at_{k}": self.precision_at_k,
            "distinct_lists": self.distinct_lists,
            "mean_jaccard_distance": self.mean_jaccard_distance,
            "coverage": self.coverage,
            f"per_fold_ndcg_at_{k}": list(self.per_fold_ndcg),
            f"per_fold_precision_at_{k}": list(self.per_fold_precision),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], k: int) -> RankingMetrics:
        return cls(
            ndcg_at_k=float(data[f"ndcg_at_{k}"]),
            precision_at_k=float(data[f"precision_at_{k}"]),
            distinct_lists=int(data["distinct_lists"]),
            mean_jaccard_distance=float(data["mean_jaccard_distance"]),
            coverage=float(data["coverage"]),
            per_fold_ndcg=[float(v) for v in data[f"per_fold_ndcg_at_{k}"]],
            per_fold_precision=[float(v) for v in data[f"per_fold_precision_at_{k}"]],
        )


@dataclass(frozen=True)
class EvaluationReport:
    """Everything one evaluation run measured; ``to_dict`` is JSON-ready.

    ``rmse`` is None: the model ranks by like probability and makes no rating
    estimate. Rating baselines (global mean, damped movie mean) are reported under
    ``rating_baselines`` for reference.
    """

    k: int
    n_folds: int
    seed: int
    n_raters_evaluated: int
    model: RankingMetrics
    baselines: dict[str, RankingMetrics]
    rating_baselines: dict[str, dict[str, float]]
    segment_ndcg: dict[str, float]
    params: dict[str, Any]
    elapsed_seconds: float
    rmse: float | None = None
    distinct_profiles: int = 0
    # Held-out raters behind each segment's NDCG (a figure over a handful of raters is noise).
    segment_raters: dict[str, int] = field(default_factory=dict)

    @property
    def ndcg(self) -> float:
        return self.model.ndcg_at_k

    @property
    def precision(self) -> float:
        return self.model.precision_at_k

    def to_dict(self) -> dict[str, Any]:
        k = self.k
        return {
            "k": k,
            "n_folds": self.n_folds,
            "seed": self.seed,
            "n_raters_evaluated": self.n_raters_evaluated,
            "distinct_profiles": self.distinct_profiles,
            **self.model.to_dict(k),
            "rmse": self.rmse,
            "segment_ndcg": dict(self.segment_ndcg),
            "segment_raters": dict(self.segment_raters),
            "baselines": {name: metrics.to_dict(k) for name, metrics in self.baselines.items()},
            "rating_baselines": {
                name: dict(values) for name, values in self.rating_baselines.items()
            },
            "params": dict(self.params),
            "elapsed_seconds": self.elapsed_seconds,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvaluationReport:
        k = int(data["k"])
        rmse_value = data.get("rmse")
        return cls(
            k=k,
            n_folds=int(data["n_folds"]),
            seed=int(data["seed"]),
            n_raters_evaluated=int(data["n_raters_evaluated"]),
            distinct_profiles=int(data.get("distinct_profiles", 0)),
            model=RankingMetrics.from_dict(data, k),
            rmse=None if rmse_value is None else float(rmse_value),
            segment_ndcg={str(s): float(v) for s, v in data["segment_ndcg"].items()},
            segment_raters={str(s): int(v) for s, v in data.get("segment_raters", {}).items()},
            baselines={
                str(name): RankingMetrics.from_dict(values, k)
                for name, values in data["baselines"].items()
            },
            rating_baselines={
                str(name): {str(m): float(v) for m, v in values.items()}
                for name, values in data["rating_baselines"].items()
            },
            params=dict(data["params"]),
            elapsed_seconds=float(data["elapsed_seconds"]),
        )


@dataclass(frozen=True)
class GateDecision:
    passed: bool
    reasons: list[str]


LIKE_POPULARITY = "popularity_likes"
COUNT_POPULARITY = "popularity_count"


def passes_gate(
    candidate: EvaluationReport,
    *,
    champion_ndcg: float | None,
    margin: float,
    tolerance: float,
) -> GateDecision:
    """Accept a candidate only if it beats like-popularity of the same run by
    ``margin`` and is no worse than the champion's NDCG minus ``tolerance``."""
    k = candidate.k
    ndcg = candidate.model.ndcg_at_k
    reasons: list[str] = []
    passed = True
    baseline = candidate.baselines.get(LIKE_POPULARITY)
    if baseline is None:
        passed = False
        reasons.append(f"the report has no {LIKE_POPULARITY} baseline to compare NDCG@{k} with")
    else:
        needed = baseline.ndcg_at_k + margin
        if ndcg >= needed:
            reasons.append(
                f"NDCG@{k} {ndcg:.4f} beats like-popularity {baseline.ndcg_at_k:.4f} "
                f"by at least the margin {margin:.4f}"
            )
        else:
            passed = False
            reasons.append(
                f"NDCG@{k} {ndcg:.4f} is below like-popularity "
                f"{baseline.ndcg_at_k:.4f} + margin {margin:.4f} = {needed:.4f}"
            )
    if champion_ndcg is None:
        reasons.append("there is no champion model to compare with")
    else:
        floor = champion_ndcg - tolerance
        if ndcg >= floor:
            reasons.append(
                f"NDCG@{k} {ndcg:.4f} is within tolerance {tolerance:.4f} of the "
                f"champion's {champion_ndcg:.4f} (floor {floor:.4f})"
            )
        else:
            passed = False
            reasons.append(
                f"NDCG@{k} {ndcg:.4f} is below the champion's {champion_ndcg:.4f} "
                f"- tolerance {tolerance:.4f} = {floor:.4f}"
            )
    return GateDecision(passed=passed, reasons=reasons)


class _RankerTally:
    """Collects per-fold, per-rater results of one ranker, as arrays."""

    def __init__(self, n_movies: int) -> None:
        self.fold_ndcg: list[np.ndarray] = []
        self.fold_precision: list[np.ndarray] = []
        self.lists: set[tuple[int, ...]] = set()
        self.fold_jaccard: list[float] = []
        self.shown = np.zeros(n_movies, dtype=bool)

    def add_fold(self, lists: list[list[int]], ndcg: np.ndarray, precision: np.ndarray) -> None:
        """``lists``: the distinct top-k lists shown in the fold; ``ndcg``/``precision``: one
        value per held-out rater with a relevant movie, in rater order."""
        for top in lists:
            self.lists.add(tuple(top))
            self.shown[top] = True
        self.fold_ndcg.append(ndcg)
        self.fold_precision.append(precision)

    def add_profile_lists(self, lists: list[list[int]]) -> None:
        if len(lists) < 2:
            return
        self.fold_jaccard.append(_mean_pairwise_jaccard(lists, len(self.shown)))

    def metrics(self) -> RankingMetrics:
        ndcg = [float(np.mean(v)) if len(v) else 0.0 for v in self.fold_ndcg]
        precision = [float(np.mean(v)) if len(v) else 0.0 for v in self.fold_precision]
        return RankingMetrics(
            ndcg_at_k=float(np.mean(ndcg)),
            precision_at_k=float(np.mean(precision)),
            distinct_lists=len(self.lists),
            mean_jaccard_distance=(float(np.mean(self.fold_jaccard)) if self.fold_jaccard else 0.0),
            coverage=float(self.shown.mean()) if len(self.shown) else 0.0,
            per_fold_ndcg=ndcg,
            per_fold_precision=precision,
        )


def _mean_pairwise_jaccard(lists: list[list[int]], n_movies: int) -> float:
    """The mean Jaccard distance over all pairs of lists (``jaccard_distance`` for each
    pair, in ``combinations`` order), from one sparse product instead of a loop over pairs."""
    lengths = np.array([len(top) for top in lists], dtype=np.int64)
    incidence = sparse.csr_matrix(
        (
            np.ones(int(lengths.sum())),
            np.concatenate([np.asarray(top, dtype=np.int64) for top in lists]),
            np.concatenate([[0], np.cumsum(lengths)]),
        ),
        shape=(len(lists), n_movies),
    )
    first, second = np.triu_indices(len(lists), 1)
    shared = np.asarray((incidence @ incidence.T).todense())[first, second]
    union = lengths[first] + lengths[second] - shared
    distances = np.where(union == 0, 0.0, 1.0 - shared / np.maximum(union, 1))
    return float(np.mean(distances))


class _Likes:
    """Which (rater row, catalogue position) pairs are liked: sorted keys, for lookups."""

    def __init__(self, rows: np.ndarray, positions: np.ndarray, n_rows: int, n_movies: int):
        self.n_movies = max(n_movies, 1)
        keys = np.sort(rows * self.n_movies + positions)
        self.keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])] if len(keys) else keys
        self.count = np.bincount(self.keys // self.n_movies, minlength=n_rows)

    def hits(self, rows: np.ndarray, tops: np.ndarray) -> np.ndarray:
        """(len(rows), k) bool: whether each listed position (-1 = none) is liked by the row."""
        wanted = rows[:, None] * self.n_movies + tops
        at = np.minimum(np.searchsorted(self.keys, wanted), max(len(self.keys) - 1, 0))
        found = self.keys[at] == wanted if len(self.keys) else np.zeros(wanted.shape, bool)
        return found & (tops >= 0)


def _ranking_metrics(
    hits: np.ndarray, n_relevant: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """(NDCG@k, P@k) per row from the hit matrix; ``ndcg_at_k``/``precision_at_k``, vectorised.
    Rows must all have at least one relevant movie."""
    discount = 1.0 / np.log2(np.arange(k) + 2)
    ideal = np.cumsum(discount)[np.minimum(n_relevant, k) - 1]
    dcg = np.where(hits, discount[: hits.shape[1]], 0.0).sum(axis=1)
    return dcg / ideal, hits.sum(axis=1) / k


def _padded(lists: list[list[int]], k: int) -> np.ndarray:
    """Top-k lists as a (n, k) array, -1 where a list is shorter than k."""
    out = np.full((len(lists), k), -1, dtype=np.int64)
    for i, top in enumerate(lists):
        out[i, : len(top)] = top
    return out


# Profiles scored per matrix product in the evaluation: bounds its memory at
# _SCORE_BATCH x n_movies floats (40 MB at 17,000 movies).
_SCORE_BATCH = 256


def evaluate(
    ratings: pd.DataFrame,
    raters: pd.DataFrame,
    movies: pd.DataFrame,
    *,
    params: TrainParams = DEFAULT_PARAMS,
    seed: int = 42,
    n_folds: int = 5,
    k: int = 10,
    progress: Callable[[str], None] | None = None,
    train_only: Iterable[int] = (),
) -> EvaluationReport:
    """Run the demographic cold-start protocol for the model and both popularity
    baselines. Raises ValueError on frames that cannot be evaluated.

    Raters in ``train_only`` (feedback people) are in every fold's training data and never
    held out, so the test set, and the folds, are those of the other raters alone.

    Distinct lists and coverage are counted over every held-out rater of every fold;
    the Jaccard distance is the mean over pairs of distinct (age, gender, occupation)
    profiles held out in the same fold (so both lists come from the same model),
    averaged over folds.
    """
    # One BLAS thread: the products here are thin (x 36 features); see ridge_from_gram.
    with threadpool_limits(limits=1, user_api="blas"):
        return _evaluate(
            ratings,
            raters,
            movies,
            params=params,
            seed=seed,
            n_folds=n_folds,
            k=k,
            progress=progress,
            train_only=train_only,
        )


def _evaluate(
    ratings: pd.DataFrame,
    raters: pd.DataFrame,
    movies: pd.DataFrame,
    *,
    params: TrainParams,
    seed: int,
    n_folds: int,
    k: int,
    progress: Callable[[str], None] | None,
    train_only: Iterable[int],
) -> EvaluationReport:
    started = time.perf_counter()
    say = progress or (lambda message: None)
    if k <= 0:
        raise ValueError("k must be positive")
    movie_ids, genres, _ = genre_matrix(movies)
    rater_ids, features = encode_raters(raters)
    rated_ids = np.intersect1d(rater_ids, ratings["rater_id"].unique())
    rated_ids = np.setdiff1d(rated_ids, np.fromiter(train_only, dtype=np.int64))
    folds = rater_folds(rated_ids, n_folds=n_folds, seed=seed)
    row_of = pd.Index(rater_ids)
    position_of = pd.Index(movie_ids)
    # Relevant sets: the (rater row, catalogue position) pairs liked, as sorted keys.
    liked = ratings[ratings["rating"] >= params.like_threshold]
    liked_rows = row_of.get_indexer(liked["rater_id"].to_numpy())
    liked_positions = position_of.get_indexer(liked["movie_id"].to_numpy())
    known = (liked_rows >= 0) & (liked_positions >= 0)
    likes = _Likes(liked_rows[known], liked_positions[known], len(rater_ids), len(movie_ids))
    # One code per distinct (age, gender, occupation): equal profiles get equal lists.
    profile_code = (
        raters.groupby(["age", "gender", "occupation"], sort=False).ngroup().to_numpy(np.int64)
    )
    ages = raters["age"].to_numpy()
    bucket_of_age = {int(age): age_bucket(int(age)) for age in np.unique(ages)}
    segment_triples = [
        (f"gender:{gender}", f"age:{bucket_of_age[int(age)]}", f"occupation:{occupation}")
        for age, gender, occupation in zip(
            ages.tolist(),
            raters["gender"].to_numpy().tolist(),
            raters["occupation"].to_numpy().tolist(),
            strict=True,
        )
    ]
    segment_code, segment_names = pd.factorize(pd.Series(segment_triples, dtype=object))

    model_tally = _RankerTally(len(movie_ids))
    baseline_tallies = {
        COUNT_POPULARITY: _RankerTally(len(movie_ids)),
        LIKE_POPULARITY: _RankerTally(len(movie_ids)),
    }
    segment_values: dict[str, list[np.ndarray]] = {}
    rating_errors: dict[str, list[np.ndarray]] = {
        "global_mean": [],
        "damped_movie_mean": [],
    }
    rating_truth: list[np.ndarray] = []
    n_evaluated = 0
    profiles_seen: set[int] = set()

    for fold_number, held_out in enumerate(folds, start=1):
        train_mask = ~ratings["rater_id"].isin(held_out)
        train_ratings = ratings[train_mask]
        test_ratings = ratings[~train_mask]
        model = train(
            train_ratings,
            raters[~raters["rater_id"].isin(held_out)],
            movies,
            params=params,
            seed=seed,
        )
        scorer = Scorer(model, movie_ids, genres)
        rows = row_of.get_indexer(held_out)
        # Score each distinct profile once, in the order the held-out raters first show it.
        codes, first, inverse = np.unique(
            profile_code[rows], return_index=True, return_inverse=True
        )
        order = np.argsort(first, kind="stable")
        rank_of = np.empty(len(order), dtype=np.int64)
        rank_of[order] = np.arange(len(order))
        profile_rows = rows[first[order]]
        profile_lists: list[list[int]] = []
        for start in range(0, len(profile_rows), _SCORE_BATCH):
            batch = scorer.scores_for_features(features[profile_rows[start : start + _SCORE_BATCH]])
            profile_lists.extend(rank_positions(scores, movie_ids, k) for scores in batch)
        rater_profile = rank_of[inverse.reshape(-1)]
        tops = _padded(profile_lists, k)[rater_profile]

        evaluated = likes.count[rows] > 0
        n_evaluated += int(evaluated.sum())
        hits = likes.hits(rows[evaluated], tops[evaluated])
        ndcg, precision = _ranking_metrics(hits, likes.count[rows[evaluated]], k)
        model_tally.add_fold(profile_lists, ndcg, precision)
        model_tally.add_profile_lists(profile_lists)
        profiles_seen.update(codes.tolist())
        fold_segments = segment_code[rows[evaluated]]
        for index, segments in enumerate(segment_names):
            value = ndcg[fold_segments == index]
            if len(value):
                for segment in segments:
                    segment_values.setdefault(segment, []).append(value)

        for name, min_rating in (
            (COUNT_POPULARITY, 1),
            (LIKE_POPULARITY, params.like_threshold),
        ):
            tally = baseline_tallies[name]
            popular = rank_positions(
                popularity_scores(train_ratings, movie_ids, min_rating=min_rating),
                movie_ids,
                k,
            )
            same = np.broadcast_to(_padded([popular], k), (int(evaluated.sum()), k))
            ndcg, precision = _ranking_metrics(
                likes.hits(rows[evaluated], same), likes.count[rows[evaluated]], k
            )
            tally.add_fold([popular], ndcg, precision)
            # Every profile gets the same list, so one pair gives the mean distance.
            tally.add_profile_lists([popular] * min(2, len(profile_lists)))

        global_mean, movie_means = damped_movie_means(train_ratings)
        truth = test_ratings["rating"].to_numpy(dtype=np.float64)
        rating_truth.append(truth)
        rating_errors["global_mean"].append(np.full(len(truth), global_mean))
        rating_errors["damped_movie_mean"].append(
            movie_means.reindex(test_ratings["movie_id"].to_numpy())
            .fillna(global_mean)
            .to_numpy(dtype=np.float64)
        )
        fold_model = model_tally.metrics().per_fold_ndcg[-1]
        say(f"fold {fold_number}/{n_folds}: NDCG@{k} {fold_model:.4f}")

    truth_all = np.concatenate(rating_truth)
    rating_baselines = {
        name: {
            "rmse": rmse(truth_all, np.concatenate(predictions)),
            "mae": mae(truth_all, np.concatenate(predictions)),
        }
        for name, predictions in rating_errors.items()
    }
    report = EvaluationReport(
        k=k,
        n_folds=n_folds,
        seed=seed,
        n_raters_evaluated=n_evaluated,
        distinct_profiles=len(profiles_seen),
        model=model_tally.metrics(),
        baselines={name: t.metrics() for name, t in baseline_tallies.items()},
        rating_baselines=rating_baselines,
        segment_ndcg={
            segment: float(np.mean(np.concatenate(values)))
            for segment, values in sorted(segment_values.items())
        },
        segment_raters={
            segment: sum(len(part) for part in values)
            for segment, values in sorted(segment_values.items())
        },
        params=params.to_dict(),
        elapsed_seconds=time.perf_counter() - started,
        rmse=None,
    )
    say(
        f"done in {report.elapsed_seconds:.1f}s: NDCG@{k} {report.ndcg:.4f}, "
        f"like-popularity {report.baselines[LIKE_POPULARITY].ndcg_at_k:.4f}"
    )
    return report
