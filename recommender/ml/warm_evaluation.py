"""Warm-start evaluation (Django-free): the protocol, its baselines and its gate.

Protocol: the raters are split into the cold-start protocol's folds (``rater_folds``,
same seed). For each fold every model is fitted on the other folds. For each held-out
rater with at least k + 1 movies rated ``like_threshold`` stars or more, k of those
likes are revealed (``recommender.ml.warm.reveal``: a permutation drawn by
``np.random.default_rng(1000 + rater id)``, the first k); the ranker gets the rater's
age, gender and occupation and those k movies. Candidates are every catalogue movie
but the k revealed; relevant = the rater's other likes. NDCG@10 (binary gain) and P@10
are averaged over the evaluated raters of a fold, then over folds.

Rankers, all fitted in the same run on the same folds:

- ``model``: the served blend (``recommender.ml.warm``); at k = 0 it is the
  demographic model itself.
- ``demographic``: the ridge model alone (ignores the liked movies).
- ``item_knn``: cosine item-kNN on the like matrix, using only the liked movies; its
  shrinkage is tuned on inner splits of each fold's training raters. Movies no liked
  movie points to (and every movie at k = 0) are ordered by like-popularity.
- ``popularity_likes``: number of 4-5 star ratings in the training folds.

At ``GATE_K`` the model is compared with the demographic model and item-kNN rater by
rater: the paired difference of NDCG@10, its mean and 95 % t-interval, per fold.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from recommender.ml.evaluation import (
    LIKE_POPULARITY,
    GateDecision,
    ndcg_at_k,
    popularity_scores,
    precision_at_k,
    rater_folds,
)
from recommender.ml.features import encode_raters, genre_matrix
from recommender.ml.scoring import Scorer
from recommender.ml.training import DEFAULT_PARAMS, RecommenderModel, TrainParams, train
from recommender.ml.warm import (
    DEFAULT_WARM_PARAMS,
    CosineView,
    InnerSplit,
    Neighbours,
    RankedBase,
    WarmModel,
    WarmParams,
    WarmScorer,
    blend_standardised,
    blend_validation,
    chosen_blend,
    cosine_neighbours_grid,
    cosine_views,
    inner_splits,
    liked_positions,
    prepare_blend,
    rank_sparse,
    ranked_sample,
    reveal_order,
    reveal_orders,
    revealed_rows,
    rp3_neighbours,
    standardised,
    to_catalogue,
    top_rows_sparse,
)

WARM_KS: tuple[int, ...] = (0, 1, 3, 5, 10)
GATE_K = 5
MODEL = "model"
DEMOGRAPHIC = "demographic"
ITEM_KNN = "item_knn"
RANKERS: tuple[str, ...] = (MODEL, DEMOGRAPHIC, ITEM_KNN, LIKE_POPULARITY)
# Shrinkage values the item-kNN baseline chooses from, on inner splits.
KNN_SHRINKAGE_GRID: tuple[float, ...] = (0.0, 5.0, 10.0, 20.0, 50.0, 100.0)
# Like-popularity breaks ties of the item-kNN scores (it never outweighs a similarity).
_TIE_BREAK = 1e-9


@dataclass(frozen=True)
class WarmFigures:
    """One ranker at one k: means over folds, and per fold."""

    ndcg: float
    precision: float
    per_fold_ndcg: list[float]
    per_fold_precision: list[float]
    n_raters: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "ndcg_at_10": self.ndcg,
            "precision_at_10": self.precision,
            "per_fold_ndcg_at_10": list(self.per_fold_ndcg),
            "per_fold_precision_at_10": list(self.per_fold_precision),
            "n_raters": self.n_raters,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WarmFigures:
        return cls(
            ndcg=float(data["ndcg_at_10"]),
            precision=float(data["precision_at_10"]),
            per_fold_ndcg=[float(v) for v in data["per_fold_ndcg_at_10"]],
            per_fold_precision=[float(v) for v in data["per_fold_precision_at_10"]],
            n_raters=int(data["n_raters"]),
        )


@dataclass(frozen=True)
class PairedDifference:
    """Model minus a baseline, rater by rater, in one fold: mean and 95 % t-interval."""

    mean: float
    low: float
    high: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "low": self.low, "high": self.high, "n": self.n}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PairedDifference:
        return cls(
            mean=float(data["mean"]),
            low=float(data["low"]),
            high=float(data["high"]),
            n=int(data["n"]),
        )


def paired_difference(differences: Sequence[float] | np.ndarray) -> PairedDifference:
    """Mean and two-sided 95 % Student-t interval of paired differences."""
    values = np.asarray(differences, dtype=np.float64)
    n = len(values)
    if n < 2:
        raise ValueError("a paired interval needs at least two pairs")
    mean = float(values.mean())
    half = float(stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / np.sqrt(n))
    return PairedDifference(mean=mean, low=mean - half, high=mean + half, n=n)


@dataclass(frozen=True)
class WarmReport:
    """Everything one warm-start evaluation measured; ``to_dict`` is JSON-ready."""

    ks: tuple[int, ...]
    n_folds: int
    seed: int
    figures: dict[str, dict[int, WarmFigures]]
    # At GATE_K, per baseline name, one PairedDifference per fold that had two or more
    # raters to compare.
    paired: dict[str, list[PairedDifference]]
    # Per fold: the blend the model chose and the baseline's tuned shrinkage.
    chosen: list[dict[str, float]]
    params: dict[str, Any]
    elapsed_seconds: float

    def ndcg(self, k: int = GATE_K, ranker: str = MODEL) -> float:
        return self.figures[ranker][k].ndcg

    def beats_baselines(self) -> bool:
        """At GATE_K, the model beats each baseline of ``paired`` on every fold, with the
        lower end of the 95 % interval above zero."""
        return bool(self.paired) and all(
            len(folds) == self.n_folds and all(diff.low > 0 for diff in folds)
            for folds in self.paired.values()
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ks": list(self.ks),
            "gate_k": GATE_K,
            "n_folds": self.n_folds,
            "seed": self.seed,
            "figures": {
                name: {str(k): figures.to_dict() for k, figures in by_k.items()}
                for name, by_k in self.figures.items()
            },
            "paired": {name: [d.to_dict() for d in diffs] for name, diffs in self.paired.items()},
            "chosen": [dict(c) for c in self.chosen],
            "params": dict(self.params),
            "elapsed_seconds": self.elapsed_seconds,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WarmReport:
        return cls(
            ks=tuple(int(k) for k in data["ks"]),
            n_folds=int(data["n_folds"]),
            seed=int(data["seed"]),
            figures={
                str(name): {int(k): WarmFigures.from_dict(v) for k, v in by_k.items()}
                for name, by_k in data["figures"].items()
            },
            paired={
                str(name): [PairedDifference.from_dict(d) for d in diffs]
                for name, diffs in data["paired"].items()
            },
            chosen=[{str(k): float(v) for k, v in c.items()} for c in data["chosen"]],
            params=dict(data["params"]),
            elapsed_seconds=float(data["elapsed_seconds"]),
        )


def passes_warm_gate(
    candidate: WarmReport, *, champion_ndcg: float | None, tolerance: float
) -> GateDecision:
    """Refuse a candidate whose NDCG@10 at GATE_K is more than ``tolerance`` below the
    champion's (the same rule as the cold-start gate applies at k = 0)."""
    ndcg = candidate.ndcg(GATE_K)
    if champion_ndcg is None:
        return GateDecision(
            passed=True,
            reasons=[f"warm start: there is no champion figure at k={GATE_K} to compare with"],
        )
    floor = champion_ndcg - tolerance
    if ndcg >= floor:
        return GateDecision(
            passed=True,
            reasons=[
                f"warm start: NDCG@10 at k={GATE_K} {ndcg:.4f} is within tolerance "
                f"{tolerance:.4f} of the champion's {champion_ndcg:.4f} (floor {floor:.4f})"
            ],
        )
    return GateDecision(
        passed=False,
        reasons=[
            f"warm start: NDCG@10 at k={GATE_K} {ndcg:.4f} is below the champion's "
            f"{champion_ndcg:.4f} - tolerance {tolerance:.4f} = {floor:.4f}"
        ],
    )


def best_shrinkage(split_values: Sequence[dict[float, list[float]]]) -> float:
    """The shrinkage with the best mean of ``KnnValidation.values`` over the splits
    (ties go to the larger shrinkage)."""
    totals: dict[float, list[float]] = {}
    for values in split_values:
        for shrinkage, means in values.items():
            totals.setdefault(shrinkage, []).extend(means)
    return max(totals, key=lambda s: (float(np.mean(totals[s])) if totals[s] else 0.0, s))


@dataclass(frozen=True, eq=False)
class KnnValidation:
    """One inner split's validation of the item-kNN baseline's shrinkage: the ranked
    raters' reveal orders, the rows they read and the like-popularity tie-break, on the
    split's movies."""

    orders: list[np.ndarray]
    rows: np.ndarray
    tie: np.ndarray
    shrinkages: tuple[float, ...]

    @classmethod
    def prepare(
        cls,
        split: InnerSplit,
        *,
        params: TrainParams,
        warm_params: WarmParams,
        grid: Sequence[float] = KNN_SHRINKAGE_GRID,
    ) -> KnnValidation:
        pop = np.asarray(split.likes.sum(axis=0)).ravel()
        orders = reveal_orders(split.ranked, split.movie_ids, threshold=params.like_threshold)
        return cls(
            orders=list(orders.values()),
            rows=revealed_rows(orders.values(), max(warm_params.validation_ks)),
            tie=_TIE_BREAK * pop / max(float(pop.max()), 1.0),
            shrinkages=tuple(float(s) for s in grid),
        )

    def cosine_view(self) -> CosineView:
        return CosineView(rows=self.rows, shrinkages=self.shrinkages)

    def values(
        self, fitted: dict[float, Neighbours], warm_params: WarmParams
    ) -> dict[float, list[float]]:
        """Per shrinkage, the mean NDCG@10 at each validation k, with these tables."""
        tables = [fitted[s] for s in self.shrinkages]
        n, tie = len(self.tie), self.tie
        # Outside the movies the revealed ones point to, every score is the tie-break
        # alone: only those movies and the most popular others need ranking.
        base = RankedBase(tie)
        result: dict[float, list[float]] = {s: [] for s in self.shrinkages}
        for k in warm_params.validation_ks:
            values: list[list[float]] = [[] for _ in tables]
            for order in self.orders:
                if len(order) < k + 1:
                    continue
                revealed, relevant = order[:k], set(order[k:].tolist())
                items = [t.scores(revealed, n) for t in tables]
                support = np.flatnonzero(np.logical_or.reduce([item != 0 for item in items]))
                top = top_rows_sparse(
                    partial(_tied_columns, items, tie), base, support, revealed, 10
                )
                for i, row in enumerate(top):
                    values[i].append(ndcg_at_k(row, relevant, 10))
            for shrinkage, v in zip(self.shrinkages, values, strict=True):
                if v:
                    result[shrinkage].append(float(np.mean(v)))
        return result


def _tied_columns(items: list[np.ndarray], tie: np.ndarray, columns: np.ndarray) -> np.ndarray:
    return np.vstack([item[columns] + tie[columns] for item in items])


class _Tally:
    def __init__(self) -> None:
        self.ndcg: dict[int, list[list[float]]] = {}
        self.precision: dict[int, list[list[float]]] = {}
        self.by_rater: dict[int, dict[int, float]] = {}

    def start_fold(self, ks: Sequence[int]) -> None:
        for k in ks:
            self.ndcg.setdefault(k, []).append([])
            self.precision.setdefault(k, []).append([])
            self.by_rater[k] = {}

    def add(self, k: int, rater: int, top: list[int], relevant: set[int]) -> None:
        value = ndcg_at_k(top, relevant, 10)
        self.ndcg[k][-1].append(value)
        self.precision[k][-1].append(precision_at_k(top, relevant, 10))
        self.by_rater[k][rater] = value

    def figures(self) -> dict[int, WarmFigures]:
        result = {}
        for k, folds in self.ndcg.items():
            ndcg = [float(np.mean(v)) if v else 0.0 for v in folds]
            precision = [float(np.mean(v)) if v else 0.0 for v in self.precision[k]]
            result[k] = WarmFigures(
                ndcg=float(np.mean(ndcg)),
                precision=float(np.mean(precision)),
                per_fold_ndcg=ndcg,
                per_fold_precision=precision,
                n_raters=sum(len(v) for v in folds),
            )
        return result


def evaluate_warm(
    ratings: pd.DataFrame,
    raters: pd.DataFrame,
    movies: pd.DataFrame,
    *,
    params: TrainParams = DEFAULT_PARAMS,
    warm_params: WarmParams = DEFAULT_WARM_PARAMS,
    seed: int = 42,
    n_folds: int = 5,
    ks: Sequence[int] = WARM_KS,
    progress: Callable[[str], None] | None = None,
    train_only: Iterable[int] = (),
) -> WarmReport:
    """Run the warm-start protocol for the model and the three baselines (see the module
    docstring). Raters in ``train_only`` (feedback people) are in every fold's training
    data and never evaluated, as in ``evaluate``. Raises ValueError on frames that cannot
    be evaluated."""
    started = time.perf_counter()
    say = progress or (lambda message: None)
    ks = tuple(sorted(set(int(k) for k in ks)))
    if not ks or ks[0] < 0:
        raise ValueError("ks must be numbers of liked movies, 0 or more")
    movie_ids, genres, _ = genre_matrix(movies)
    rater_ids, features = encode_raters(raters)
    rated_ids = np.intersect1d(rater_ids, ratings["rater_id"].unique())
    train_only = np.fromiter(train_only, dtype=np.int64)  # read twice
    rated_ids = np.setdiff1d(rated_ids, train_only)
    folds = rater_folds(rated_ids, n_folds=n_folds, seed=seed)
    row_of = pd.Index(rater_ids)
    likes_of = liked_positions(ratings, movie_ids, threshold=params.like_threshold)
    tallies = {name: _Tally() for name in RANKERS}
    paired: dict[str, list[PairedDifference]] = {DEMOGRAPHIC: [], ITEM_KNN: []}
    chosen: list[dict[str, float]] = []

    for number, held_out in enumerate(folds, start=1):
        train_ratings = ratings[~ratings["rater_id"].isin(held_out)]
        train_raters = raters[~raters["rater_id"].isin(held_out)]
        demographic = train(train_ratings, train_raters, movies, params=params, seed=seed)
        scorer = Scorer(demographic, movie_ids, genres)
        # The raters ranked: all held-out raters with likes, or a seeded sample of
        # ``evaluated_raters`` of them; the tables fit only the rows their reveals read.
        evaluated = ranked_sample(
            np.array([rid for rid in held_out.tolist() if rid in likes_of], dtype=np.int64),
            warm_params.evaluated_raters,
            (seed, number),
        ).tolist()
        orders = {rid: reveal_order(likes_of[rid], rid) for rid in evaluated}
        needed = _model_rows(
            movie_ids[revealed_rows(orders.values(), max(ks))], demographic.movie_ids
        )
        warm, knn_table, shrinkage = _fit_fold(
            train_ratings,
            train_raters,
            movies,
            demographic=demographic,
            rows=needed,
            params=params,
            warm_params=warm_params,
            seed=seed,
            train_only=train_only,
        )
        warm_scorer = WarmScorer(warm, movie_ids)
        knn_rows, knn = to_catalogue(knn_table, demographic.movie_ids, movie_ids)
        chosen.append({"prior_c": warm.prior_c, "mix": warm.mix, "knn_shrinkage": shrinkage})
        popular = popularity_scores(train_ratings, movie_ids, min_rating=params.like_threshold)
        tie = _TIE_BREAK * popular / max(float(popular.max()), 1.0)
        # One prior per distinct profile (a dense vector per rater would be gigabytes at
        # 100,000 raters), and each ranking looks only at the movies that can reach its
        # top 10 (``rank_sparse``): the same answers as ranking every movie.
        unique, group_of = np.unique(
            features[row_of.get_indexer(evaluated)], axis=0, return_inverse=True
        )
        priors = scorer.scores_for_features(unique)
        prior_bases: dict[int, RankedBase] = {}
        popular_base, tie_base = RankedBase(popular), RankedBase(tie)
        for tally in tallies.values():
            tally.start_fold(ks)
        for rid, group in zip(evaluated, group_of.reshape(-1).tolist(), strict=True):
            prior = priors[group]
            base = prior_bases.get(group)
            if base is None:
                base = prior_bases[group] = RankedBase(prior)
            standard_prior = standardised(prior)
            order = orders[rid]
            for k in ks:
                if len(order) < k + 1:
                    continue
                revealed, relevant = order[:k], set(order[k:].tolist())
                rows = knn_rows[revealed]
                knn_scores = _knn_scores(knn, rows[rows >= 0], len(movie_ids))
                rankings = {
                    MODEL: _model_top(
                        warm_scorer, prior, standard_prior, base, revealed, movie_ids
                    ),
                    DEMOGRAPHIC: rank_sparse(
                        prior.__getitem__, base, _NONE, revealed, movie_ids, 10
                    ),
                    ITEM_KNN: rank_sparse(
                        partial(_plus_columns, knn_scores, tie),
                        tie_base,
                        np.flatnonzero(knn_scores),
                        revealed,
                        movie_ids,
                        10,
                    ),
                    LIKE_POPULARITY: rank_sparse(
                        popular.__getitem__, popular_base, _NONE, revealed, movie_ids, 10
                    ),
                }
                for name, top in rankings.items():
                    tallies[name].add(k, rid, top, relevant)
        model_values = tallies[MODEL].by_rater.get(GATE_K, {})
        if len(model_values) >= 2:
            for name in paired:
                other = tallies[name].by_rater[GATE_K]
                paired[name].append(
                    paired_difference([model_values[r] - other[r] for r in model_values])
                )
        fold_ndcg = {k: tallies[MODEL].ndcg[k][-1] for k in ks}
        say(
            f"warm fold {number}/{n_folds}: NDCG@10 "
            + ", ".join(f"k={k} {np.mean(v):.4f}" for k, v in fold_ndcg.items() if v)
        )

    report = WarmReport(
        ks=ks,
        n_folds=n_folds,
        seed=seed,
        figures={name: tally.figures() for name, tally in tallies.items()},
        paired=paired,
        chosen=chosen,
        params=warm_params.to_dict(),
        elapsed_seconds=time.perf_counter() - started,
    )
    if GATE_K in ks:
        say(
            f"warm done in {report.elapsed_seconds:.1f}s: NDCG@10 at k={GATE_K} "
            f"{report.ndcg(GATE_K):.4f}, demographic {report.ndcg(GATE_K, DEMOGRAPHIC):.4f}, "
            f"item-kNN {report.ndcg(GATE_K, ITEM_KNN):.4f}"
        )
    return report


def _fit_fold(
    ratings: pd.DataFrame,
    raters: pd.DataFrame,
    movies: pd.DataFrame,
    *,
    demographic: RecommenderModel,
    rows: np.ndarray,
    params: TrainParams,
    warm_params: WarmParams,
    seed: int,
    train_only: np.ndarray,
) -> tuple[WarmModel, Neighbours, float]:
    """One fold's warm model, item-kNN table and its tuned shrinkage, fitted on the fold's
    training ratings at ``rows`` only (positions in ``demographic.movie_ids``: the rows
    the fold's reveals read). The blend's and the baseline's validations share the inner
    splits and one co-occurrence pass per split; the served cosine and the baseline's
    share one pass."""
    likes, splits = inner_splits(
        ratings,
        warm_params,
        movie_ids=demographic.movie_ids,
        threshold=params.like_threshold,
        train_only=train_only,
    )
    blend_values, knn_values = [], []
    for split in splits:
        blend = prepare_blend(
            split, raters, movies, params=params, warm_params=warm_params, seed=seed
        )
        knn_validation = KnnValidation.prepare(split, params=params, warm_params=warm_params)
        blend_cosine, knn_tables = cosine_views(
            split.likes,
            neighbours=warm_params.neighbours,
            views=[blend.cosine_view(warm_params), knn_validation.cosine_view()],
        )
        blend_values.append(
            blend.values(blend_cosine[warm_params.cosine_shrinkage], raters, warm_params)
        )
        knn_values.append(knn_validation.values(knn_tables, warm_params))
    shrinkage = best_shrinkage(knn_values)
    cosine, knn_table = cosine_neighbours_grid(
        likes,
        shrinkages=(warm_params.cosine_shrinkage, shrinkage),
        neighbours=warm_params.neighbours,
        rows=rows,
    )
    rp3 = rp3_neighbours(
        likes,
        alpha=warm_params.rp3_alpha,
        beta=warm_params.rp3_beta,
        neighbours=warm_params.neighbours,
        rows=rows,
    )
    warm = chosen_blend(
        demographic.movie_ids,
        {"cosine": cosine, "rp3beta": rp3},
        blend_validation(blend_values, warm_params),
        warm_params,
    )
    return warm, knn_table, shrinkage


_NONE = np.zeros(0, dtype=np.int64)


def _model_rows(ids: np.ndarray, model_movie_ids: np.ndarray) -> np.ndarray:
    """The positions in ``model_movie_ids`` (ascending) of those of ``ids`` it holds."""
    at = np.minimum(np.searchsorted(model_movie_ids, ids), max(len(model_movie_ids) - 1, 0))
    if not len(model_movie_ids):
        return _NONE
    return at[model_movie_ids[at] == ids]


def _plus_columns(scores: np.ndarray, tie: np.ndarray, columns: np.ndarray) -> np.ndarray:
    return scores[columns] + tie[columns]


def _model_top(
    warm_scorer: WarmScorer,
    prior: np.ndarray,
    standard_prior: np.ndarray,
    base: RankedBase,
    revealed: np.ndarray,
    movie_ids: np.ndarray,
) -> list[int]:
    """The served blend's top 10 (``WarmScorer.scores`` ranked by ``rank_positions``)."""
    rows = warm_scorer.known(revealed)
    if not len(rows):
        return rank_sparse(prior.__getitem__, base, _NONE, revealed, movie_ids, 10)
    items = [standardised(scores) for scores in warm_scorer.item_scores(rows)]
    warm = warm_scorer.model
    values_at = partial(
        _blend_columns, standard_prior, items, k=len(rows), prior_c=warm.prior_c, mix=warm.mix
    )
    support = np.flatnonzero((items[0] != 0) | (items[1] != 0))
    return rank_sparse(values_at, base, support, revealed, movie_ids, 10)


def _blend_columns(
    prior: np.ndarray,
    items: list[np.ndarray],
    columns: np.ndarray,
    *,
    k: int,
    prior_c: float,
    mix: float,
) -> np.ndarray:
    return blend_standardised(prior, items, k=k, prior_c=prior_c, mix=mix, columns=columns)


def _knn_scores(table: Neighbours, rows: np.ndarray, n: int) -> np.ndarray:
    return table.scores(rows, n + 1)[:n] if len(rows) else np.zeros(n)
