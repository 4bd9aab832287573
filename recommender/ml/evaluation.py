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
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

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
    dcg = sum(1.0 / math.log2(rank + 2) for rank, item in enumerate(ranked[:k]) if item in relevant)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(len(relevant), k)))
    return dcg / ideal


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
    """Collects per-fold, per-rater results of one ranker."""

    def __init__(self, n_movies: int) -> None:
        self.fold_ndcg: list[list[float]] = []
        self.fold_precision: list[list[float]] = []
        self.lists: set[tuple[int, ...]] = set()
        self.fold_jaccard: list[float] = []
        self.shown = np.zeros(n_movies, dtype=bool)

    def start_fold(self) -> None:
        self.fold_ndcg.append([])
        self.fold_precision.append([])

    def add(self, top: list[int], relevant: set[int] | None, k: int) -> None:
        self.lists.add(tuple(top))
        self.shown[top] = True
        if relevant:
            self.fold_ndcg[-1].append(ndcg_at_k(top, relevant, k))
            self.fold_precision[-1].append(precision_at_k(top, relevant, k))

    def add_profile_lists(self, lists: list[list[int]]) -> None:
        if len(lists) < 2:
            return
        distances = [jaccard_distance(a, b) for a, b in combinations(lists, 2)]
        self.fold_jaccard.append(float(np.mean(distances)))

    def metrics(self) -> RankingMetrics:
        ndcg = [float(np.mean(v)) if v else 0.0 for v in self.fold_ndcg]
        precision = [float(np.mean(v)) if v else 0.0 for v in self.fold_precision]
        return RankingMetrics(
            ndcg_at_k=float(np.mean(ndcg)),
            precision_at_k=float(np.mean(precision)),
            distinct_lists=len(self.lists),
            mean_jaccard_distance=(float(np.mean(self.fold_jaccard)) if self.fold_jaccard else 0.0),
            coverage=float(self.shown.mean()) if len(self.shown) else 0.0,
            per_fold_ndcg=ndcg,
            per_fold_precision=precision,
        )


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
    # Relevant sets as catalogue positions, per rater.
    liked = ratings[ratings["rating"] >= params.like_threshold]
    liked = liked[liked["movie_id"].isin(movie_ids)]
    relevant_sets: dict[int, set[int]] = {
        int(rater): set(position_of.get_indexer(group.to_numpy()).tolist())
        for rater, group in liked.groupby("rater_id")["movie_id"]
    }
    profile_keys = list(
        zip(
            raters["age"].to_numpy().tolist(),
            raters["gender"].to_numpy().tolist(),
            raters["occupation"].to_numpy().tolist(),
            strict=True,
        )
    )
    segment_of = {
        int(rid): (f"gender:{gender}", f"age:{age_bucket(int(age))}", f"occupation:{occupation}")
        for rid, (age, gender, occupation) in zip(rater_ids.tolist(), profile_keys, strict=True)
    }

    model_tally = _RankerTally(len(movie_ids))
    baseline_tallies = {
        COUNT_POPULARITY: _RankerTally(len(movie_ids)),
        LIKE_POPULARITY: _RankerTally(len(movie_ids)),
    }
    segment_values: dict[str, list[float]] = {}
    rating_errors: dict[str, list[np.ndarray]] = {
        "global_mean": [],
        "damped_movie_mean": [],
    }
    rating_truth: list[np.ndarray] = []
    n_evaluated = 0
    profiles_seen: set[tuple[Any, ...]] = set()

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
        all_scores = scorer.scores_for_features(features[rows])

        model_tally.start_fold()
        fold_profiles: dict[tuple[Any, ...], list[int]] = {}
        for rid, row, scores in zip(held_out.tolist(), rows, all_scores, strict=True):
            top = rank_positions(scores, movie_ids, k)
            relevant = relevant_sets.get(rid)
            model_tally.add(top, relevant, k)
            fold_profiles.setdefault(profile_keys[row], top)
            if relevant:
                n_evaluated += 1
                value = ndcg_at_k(top, relevant, k)
                for segment in segment_of[rid]:
                    segment_values.setdefault(segment, []).append(value)
        model_tally.add_profile_lists(list(fold_profiles.values()))
        profiles_seen.update(fold_profiles)

        for name, min_rating in (
            (COUNT_POPULARITY, 1),
            (LIKE_POPULARITY, params.like_threshold),
        ):
            tally = baseline_tallies[name]
            tally.start_fold()
            popular = rank_positions(
                popularity_scores(train_ratings, movie_ids, min_rating=min_rating),
                movie_ids,
                k,
            )
            for rid in held_out.tolist():
                tally.add(popular, relevant_sets.get(rid), k)
            # Every profile gets the same list, so one pair gives the mean distance.
            tally.add_profile_lists([popular] * min(2, len(fold_profiles)))

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
            segment: float(np.mean(values)) for segment, values in sorted(segment_values.items())
        },
        segment_raters={segment: len(values) for segment, values in sorted(segment_values.items())},
        params=params.to_dict(),
        elapsed_seconds=time.perf_counter() - started,
        rmse=None,
    )
    say(
        f"done in {report.elapsed_seconds:.1f}s: NDCG@{k} {report.ndcg:.4f}, "
        f"like-popularity {report.baselines[LIKE_POPULARITY].ndcg_at_k:.4f}"
    )
    return report
