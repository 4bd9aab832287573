"""Warm-start layer (Django-free): item-to-item evidence from liked movies, blended with
the demographic prior.

A person who says "I liked these" gets a ranking that mixes three per-request
standardised score vectors over the catalogue:

- the demographic prior: the ridge model of ``recommender.ml.training`` (x @ W + b);
- cosine item-kNN on the like matrix (ratings >= ``like_threshold``), with shrinkage:
  sim(j, i) = co(j, i) / (sqrt(n_j n_i) + shrinkage);
- RP3beta on the same matrix: the two-step random walk movie -> rater -> movie,
  p(j -> i) ** alpha, divided by the target's like count ** beta (a popularity penalty).

Each item score is the sum, over the liked movies, of their similarity rows. Both
similarity matrices are kept only as the top ``neighbours`` entries of every row, and
they are fitted from scipy.sparse products in row blocks, so memory stays bounded by
``n_movies x neighbours`` plus one block (never a dense n_movies x n_movies matrix).

The blend: with k liked movies the prior weighs ``c / (k + c)`` and the item evidence
``k / (k + c)``, split between the two item models as ``mix`` and ``1 - mix``. Every
vector is divided by its own standard deviation over the catalogue first, so the
weights do not depend on score scales. ``c`` and ``mix`` are chosen by validation on
inner splits of the training raters (never hand-set); with k = 0 the ranking is
exactly the demographic model's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recommender.ml.evaluation import ndcg_at_k, rater_folds
from recommender.ml.features import encode_raters
from recommender.ml.scoring import rank_positions
from recommender.ml.training import DEFAULT_PARAMS, RecommenderModel, TrainParams, train

# The item models, in the order their neighbour tables are stored.
COMPONENTS: tuple[str, ...] = ("cosine", "rp3beta")
# Entries of one dense block while fitting neighbours (16 MB of float64; the top-N
# selection needs about three times that at its peak), per thread. Twice as many were no
# faster (8.6-8.9 s against 9.1-9.2 s for both tables at 16,820 movies) and cost 100 MB
# more of peak memory with two threads.
_BLOCK_ENTRIES = 2_000_000
# Seed offset of the revealed likes, shared with the evaluation protocol.
REVEAL_SEED_OFFSET = 1000
# Threads fitting row blocks: scipy's sparse product and numpy's selection release the GIL.
_FIT_THREADS = max(1, min(4, len(os.sched_getaffinity(0))))
# Co-occurrence counts are exact in float32 below 2**24 raters (and the product is faster).
_FLOAT32_EXACT = 2**24


@dataclass(frozen=True)
class WarmParams:
    """Hyper-parameters of the item models and of the blend search.

    The item-model defaults (neighbours, shrinkage, alpha, beta) were chosen on ml-100k
    with the warm-start protocol (``benchmarks/evaluate_warm.py``); the blend weights
    themselves are never set here: ``fit_warm`` picks them from the grids by validation.
    """

    # Neighbours kept per movie in each item model (the sparse, top-N form).
    neighbours: int = 400
    cosine_shrinkage: float = 20.0
    rp3_alpha: float = 0.5
    rp3_beta: float = 0.3
    # Blend search: prior weight c / (k + c), item mix between cosine and RP3beta. The
    # large c let validation all but ignore likes where they say little beyond the
    # demographics (the synthetic data sets of benchmarks/synth_movielens.py); on
    # ml-100k they lose to c = 0.3-0.6, so its figures are unchanged.
    prior_grid: tuple[float, ...] = (0.15, 0.3, 0.6, 1.2, 2.5, 5.0, 10.0)
    mix_grid: tuple[float, ...] = (0.3, 0.5, 0.7)
    # Inner validation: folds of the training raters and the numbers of likes revealed.
    inner_folds: int = 3
    inner_seed: int = 7
    validation_ks: tuple[int, ...] = (1, 3, 5, 10)
    # At most this many held-out raters of each inner fold are ranked (a seeded sample;
    # the fold's other raters stay out of its fit). Above ml-100k's folds (315 raters),
    # so there every one is ranked; it bounds the validation's cost at 100x the data.
    validation_raters: int = 400
    # The same bound on the raters ranked per fold of the warm-start protocol
    # (``recommender.ml.warm_evaluation``); ml-100k's folds hold 189, scale 10's 1,886.
    evaluated_raters: int = 2000

    def __post_init__(self) -> None:
        if self.neighbours < 1:
            raise ValueError("neighbours must be at least 1")
        if self.cosine_shrinkage < 0:
            raise ValueError("cosine_shrinkage must not be negative")
        if not self.rp3_alpha > 0 or self.rp3_beta < 0:
            raise ValueError("rp3_alpha must be positive and rp3_beta not negative")
        if not self.prior_grid or min(self.prior_grid) <= 0:
            raise ValueError("prior_grid must hold positive values")
        if not self.mix_grid or not all(0 <= m <= 1 for m in self.mix_grid):
            raise ValueError("mix_grid values must be within [0, 1]")
        if self.inner_folds < 2:
            raise ValueError("inner_folds must be at least 2")
        if not self.validation_ks or min(self.validation_ks) < 1:
            raise ValueError("validation_ks must hold positive numbers of likes")
        if self.validation_raters < 2 or self.evaluated_raters < 2:
            raise ValueError("validation_raters and evaluated_raters must be at least 2")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WarmParams:
        values = dict(data)
        for name in ("prior_grid", "mix_grid", "validation_ks"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)


DEFAULT_WARM_PARAMS = WarmParams()


@dataclass(frozen=True, eq=False)
class Neighbours:
    """A sparse item-to-item model: the top-N similarities of every movie.

    ``index[j]`` holds positions (into the owning model's ``movie_ids``) of movie j's
    neighbours and ``weight[j]`` their similarities; unused slots have weight 0.
    """

    index: np.ndarray  # (n_movies, n_neighbours) int32
    weight: np.ndarray  # (n_movies, n_neighbours) float32

    def scores(self, rows: np.ndarray, n: int) -> np.ndarray:
        """Sum of the similarity rows of ``rows``, as a dense vector of length n."""
        return np.bincount(self.index[rows].ravel(), weights=self.weight[rows].ravel(), minlength=n)


@dataclass(frozen=True, eq=False)
class WarmModel:
    """The item models and the chosen blend (see ``recommender.ml.artifacts``)."""

    movie_ids: np.ndarray  # (n_movies,) ascending, the movies the item models know
    components: dict[str, Neighbours]
    prior_c: float
    mix: float
    params: WarmParams
    # What the inner validation measured for every (c, mix) on the grid.
    validation: dict[str, float] = field(default_factory=dict)

    def item_weight(self, k: int) -> float:
        """The weight of the item evidence with k liked movies (0 for k = 0)."""
        return k / (k + self.prior_c) if k > 0 else 0.0

    def blend(self, prior: np.ndarray, item_scores: Sequence[np.ndarray], k: int) -> np.ndarray:
        """The blended score vector; ``prior`` itself when k = 0."""
        return blend_scores(prior, item_scores, k=k, prior_c=self.prior_c, mix=self.mix)


def blend_scores(
    prior: np.ndarray,
    item_scores: Sequence[np.ndarray],
    *,
    k: int,
    prior_c: float,
    mix: float,
) -> np.ndarray:
    """``c/(k+c) * prior/sd + k/(k+c) * (mix * cos/sd + (1 - mix) * rp3/sd)``.

    Dividing by each vector's standard deviation (over the catalogue) puts the models on
    one scale per request; a constant vector contributes nothing. With k = 0 the prior is
    returned unchanged, so the ranking equals the demographic model's exactly.
    """
    if k <= 0:
        return prior
    return blend_standardised(
        standardised(np.asarray(prior, dtype=np.float64)),
        [standardised(scores) for scores in item_scores],
        k=k,
        prior_c=prior_c,
        mix=mix,
    )


def blend_standardised(
    prior: np.ndarray,
    item_scores: Sequence[np.ndarray],
    *,
    k: int,
    prior_c: float,
    mix: float,
    columns: np.ndarray | None = None,
) -> np.ndarray:
    """``blend_scores`` (k > 0) of vectors already standardised, at ``columns`` only if
    given (the same values as the full vector there: the sums run element by element)."""
    w_item = k / (k + prior_c)
    if columns is not None:
        prior = prior[columns]
        item_scores = [scores[columns] for scores in item_scores]
    total = prior * (1.0 - w_item)
    for share, scores in zip((mix, 1.0 - mix), item_scores, strict=True):
        if share:
            total += scores * (w_item * share)
    return total


def standardised(scores: np.ndarray) -> np.ndarray:
    n = len(scores)
    if not n:
        return np.zeros(0)
    # The one-pass variance (mean of squares minus squared mean) is 3-4x faster than
    # ndarray.std at catalogue sizes and exact enough for scores of this range.
    mean = float(scores.sum()) / n
    variance = float(np.dot(scores, scores)) / n - mean * mean
    if not variance > 1e-24:
        return np.zeros(n)
    return scores * (1.0 / np.sqrt(variance))


def liked_matrix(
    ratings: pd.DataFrame, rater_ids: np.ndarray, movie_ids: np.ndarray, *, threshold: int
) -> sp.csr_matrix:
    """Sparse 0/1 matrix (raters x movies): 1 where the rater gave >= threshold stars."""
    rows = pd.Index(rater_ids).get_indexer(ratings["rater_id"].to_numpy())
    cols = pd.Index(movie_ids).get_indexer(ratings["movie_id"].to_numpy())
    keep = (ratings["rating"].to_numpy() >= threshold) & (rows >= 0) & (cols >= 0)
    matrix = sp.csr_matrix(
        (np.ones(int(keep.sum())), (rows[keep], cols[keep])),
        shape=(len(rater_ids), len(movie_ids)),
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def cosine_neighbours(
    likes: sp.csr_matrix,
    *,
    shrinkage: float,
    neighbours: int,
    rows: np.ndarray | None = None,
) -> Neighbours:
    """Top-N cosine similarities (with shrinkage) of every movie, from sparse blocks;
    only of the movies at ``rows`` if given (``fit_rows``)."""
    return cosine_neighbours_grid(likes, shrinkages=(shrinkage,), neighbours=neighbours, rows=rows)[
        0
    ]


def cosine_neighbours_grid(
    likes: sp.csr_matrix,
    *,
    shrinkages: Sequence[float],
    neighbours: int,
    rows: np.ndarray | None = None,
) -> list[Neighbours]:
    """``cosine_neighbours`` for several shrinkages, sharing the co-occurrence blocks."""
    every = np.arange(likes.shape[1]) if rows is None else np.asarray(rows, dtype=np.int64)
    view = CosineView(rows=every, shrinkages=tuple(float(s) for s in shrinkages))
    tables = cosine_views(likes, neighbours=neighbours, views=[view])[0]
    return [tables[float(s)] for s in shrinkages]


@dataclass(frozen=True, eq=False)
class CosineView:
    """Cosine tables wanted of some of a like matrix's movies: ``columns`` (ascending
    positions in the matrix; None for all of them), the ``rows`` to fit (positions
    among those movies) and the shrinkages."""

    rows: np.ndarray
    shrinkages: tuple[float, ...]
    columns: np.ndarray | None = None


def cosine_views(
    likes: sp.csr_matrix, *, neighbours: int, views: Sequence[CosineView]
) -> list[dict[float, Neighbours]]:
    """Per view, its tables by shrinkage, from one co-occurrence pass over ``likes``.

    A view's tables are those of the matrix cut to its columns (the co-occurrence of two
    movies and their like counts do not depend on the other movies), so two validations
    that index the same raters' likes by different movie lists share the pass.
    """
    # Counts are whole numbers, so float32 gives the same values as float64, faster.
    dtype = np.float32 if likes.shape[0] < _FLOAT32_EXACT else np.float64
    x = sp.csr_matrix(likes, dtype=dtype)
    norms = np.sqrt(np.asarray(x.sum(axis=0), dtype=np.float64).ravel())
    xt = x.T.tocsr()
    n = len(norms)
    # Each view's rows as matrix positions, and its tables on its own movies.
    wanted = [
        np.unique(np.asarray(v.rows if v.columns is None else v.columns[v.rows], dtype=np.int64))
        for v in views
    ]
    tables = [
        [_empty_table(n if v.columns is None else len(v.columns), neighbours) for _ in v.shrinkages]
        for v in views
    ]

    def fit(block: np.ndarray) -> None:
        co = (xt[block] @ x).toarray().astype(np.float32, copy=False)
        for view, rows, view_tables in zip(views, wanted, tables, strict=True):
            inside = np.isin(block, rows)
            if not inside.any():
                continue
            every = bool(inside.all())
            matrix_rows = block if every else block[inside]
            if view.columns is None:
                values, view_rows, view_norms = co if every else co[inside], matrix_rows, norms
            else:
                values = (co if every else co[inside])[:, view.columns]
                view_rows = np.searchsorted(view.columns, matrix_rows)
                view_norms = norms[view.columns]
            product = (norms[matrix_rows, None] * view_norms[None, :]).astype(np.float32)
            for table, shrinkage in zip(view_tables, view.shrinkages, strict=True):
                _keep_top(table, view_rows, values / (product + np.float32(shrinkage + 1e-12)))

    _fit_blocks(fit, n, np.unique(np.concatenate(wanted)) if wanted else np.zeros(0, dtype=int))
    return [dict(zip(v.shrinkages, t, strict=True)) for v, t in zip(views, tables, strict=True)]


def rp3_neighbours(
    likes: sp.csr_matrix,
    *,
    alpha: float,
    beta: float,
    neighbours: int,
    rows: np.ndarray | None = None,
) -> Neighbours:
    """Top-N RP3beta weights: (P(movie -> rater) P(rater -> movie)) ** alpha / pop ** beta;
    only of the movies at ``rows`` if given (``fit_rows``)."""
    x = sp.csr_matrix(likes, dtype=np.float64)
    rater_degree = np.asarray(x.sum(axis=1)).ravel()
    movie_degree = np.asarray(x.sum(axis=0)).ravel()
    rater_to_movie = sp.diags(1.0 / np.maximum(rater_degree, 1.0)) @ x
    movie_to_rater = (sp.diags(1.0 / np.maximum(movie_degree, 1.0)) @ x.T.tocsr()).tocsr()
    penalty = np.maximum(movie_degree, 1.0) ** beta
    n = len(movie_degree)
    table = _empty_table(n, neighbours)

    def fit(block: np.ndarray) -> None:
        walk = np.asarray((movie_to_rater[block] @ rater_to_movie).todense())
        _keep_top(table, block, walk**alpha / penalty[None, :])

    _fit_blocks(fit, n, rows)
    return table


def _empty_table(n: int, neighbours: int) -> Neighbours:
    width = max(1, min(neighbours, n - 1))
    return Neighbours(
        index=np.zeros((n, width), dtype=np.int32), weight=np.zeros((n, width), dtype=np.float32)
    )


def _fit_blocks(fit: Callable[[np.ndarray], None], n: int, rows: np.ndarray | None) -> None:
    """``fit`` every block of the rows (all n when None), on ``_FIT_THREADS`` threads.

    Blocks write disjoint rows of their tables, so the result is the same in any order.
    Rows left out keep an empty entry: weight 0 at every slot.
    """
    wanted = np.arange(n) if rows is None else np.unique(np.asarray(rows, dtype=np.int64))
    step = max(1, _BLOCK_ENTRIES // max(n, 1))
    blocks = [wanted[start : start + step] for start in range(0, len(wanted), step)]
    if _FIT_THREADS == 1 or len(blocks) < 2:
        for block in blocks:
            fit(block)
        return
    with ThreadPoolExecutor(max_workers=_FIT_THREADS) as pool:
        for _ in pool.map(fit, blocks):
            pass


def _keep_top(table: Neighbours, rows: np.ndarray, dense: np.ndarray) -> None:
    """Store the best ``width`` positive entries of each row of ``dense`` (one block)."""
    width = table.index.shape[1]
    # float32 is what the table stores, and selecting on it is several times faster.
    dense = dense.astype(np.float32, copy=False)
    dense[np.arange(len(rows)), rows] = -np.inf  # a movie is not its own neighbour
    if width < dense.shape[1]:
        top = np.argpartition(-dense, width - 1, axis=1)[:, :width]
    else:
        top = np.argsort(-dense, axis=1)[:, :width]
    values = np.take_along_axis(dense, top, axis=1)
    keep = np.isfinite(values) & (values > 0)
    table.index[rows] = np.where(keep, top, rows[:, None]).astype(np.int32)
    table.weight[rows] = np.where(keep, values, np.float32(0.0))


def fit_item_models(
    likes: sp.csr_matrix, params: WarmParams = DEFAULT_WARM_PARAMS
) -> dict[str, Neighbours]:
    """Both item models (``COMPONENTS`` order) from a raters x movies like matrix."""
    return {
        "cosine": cosine_neighbours(
            likes, shrinkage=params.cosine_shrinkage, neighbours=params.neighbours
        ),
        "rp3beta": rp3_neighbours(
            likes, alpha=params.rp3_alpha, beta=params.rp3_beta, neighbours=params.neighbours
        ),
    }


def reveal_order(liked_ids: Iterable[int], rater_id: int) -> np.ndarray:
    """The order in which the protocol reveals one rater's likes: sorted, then permuted
    by ``np.random.default_rng(1000 + rater_id)``. Revealing k takes the first k."""
    ordered = np.sort(np.fromiter(liked_ids, dtype=np.int64))
    return np.random.default_rng(REVEAL_SEED_OFFSET + int(rater_id)).permutation(ordered)


def liked_positions(
    ratings: pd.DataFrame, movie_ids: np.ndarray, *, threshold: int
) -> dict[int, np.ndarray]:
    """Every rater's liked movies (>= threshold stars) as positions in ``movie_ids``,
    raters ascending; movies not there are left out, and so are raters left with none."""
    liked = ratings[ratings["rating"].to_numpy() >= threshold]
    rows = pd.Index(movie_ids).get_indexer(liked["movie_id"].to_numpy())
    rater_ids = liked["rater_id"].to_numpy()[rows >= 0]
    rows = rows[rows >= 0]
    if not len(rows):
        return {}
    order = np.argsort(rater_ids, kind="stable")
    rater_ids, rows = rater_ids[order], rows[order]
    starts = np.flatnonzero(np.r_[True, rater_ids[1:] != rater_ids[:-1]])
    return dict(zip(rater_ids[starts].tolist(), np.split(rows, starts[1:]), strict=True))


def reveal_orders(
    ratings: pd.DataFrame, movie_ids: np.ndarray, *, threshold: int
) -> dict[int, np.ndarray]:
    """Every rater's ``reveal_order`` of the liked movies (``liked_positions``)."""
    return {
        rid: reveal_order(rows, rid)
        for rid, rows in liked_positions(ratings, movie_ids, threshold=threshold).items()
    }


def revealed_rows(orders: Iterable[np.ndarray], k: int) -> np.ndarray:
    """The positions any of these reveal orders shows among its first k (sorted): the
    only neighbour rows that ranking with up to k revealed likes reads."""
    shown = [order[:k] for order in orders]
    return np.unique(np.concatenate(shown)) if shown else np.zeros(0, dtype=np.int64)


def ranked_sample(rater_ids: np.ndarray, cap: int, seed: Sequence[int]) -> np.ndarray:
    """``rater_ids`` when there are at most ``cap``, else a sorted sample of ``cap`` of
    them drawn by ``np.random.default_rng(seed)``: the raters a validation ranks."""
    ids = np.asarray(rater_ids, dtype=np.int64)
    if len(ids) <= cap:
        return ids
    return np.sort(np.random.default_rng(list(seed)).choice(ids, size=cap, replace=False))


def reveal(liked_ids: Iterable[int], rater_id: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(the k revealed likes, the others) of one rater, as the protocol draws them
    (``reveal_order``; so the reveal of k = 3 extends that of k = 1)."""
    order = reveal_order(liked_ids, rater_id)
    if not 0 <= k < len(order):
        raise ValueError(f"need more than k={k} likes, the rater has {len(order)}")
    return order[:k], order[k:]


def fit_warm(
    ratings: pd.DataFrame,
    raters: pd.DataFrame,
    movies: pd.DataFrame,
    *,
    demographic: RecommenderModel,
    params: TrainParams = DEFAULT_PARAMS,
    warm_params: WarmParams = DEFAULT_WARM_PARAMS,
    seed: int = 42,
    train_only: Iterable[int] = (),
) -> WarmModel:
    """Fit the item models on all these ratings and choose the blend by validation.

    ``demographic`` is the ridge model fitted on the same frames; the item models index
    the same movies (``demographic.movie_ids``). The blend weights (``prior_c``, ``mix``)
    are the grid point with the best mean NDCG@10 over ``validation_ks`` on inner
    splits of these raters (``inner_splits``), each inner split fitting its own models.
    Raters in ``train_only`` (feedback people) are in every split's training data and
    never ranked, as in the evaluations. Raises ValueError like ``train``.
    """
    likes, splits = inner_splits(
        ratings,
        warm_params,
        movie_ids=demographic.movie_ids,
        threshold=params.like_threshold,
        train_only=train_only,
    )
    blends = (
        prepare_blend(split, raters, movies, params=params, warm_params=warm_params, seed=seed)
        for split in splits
    )
    validation = blend_validation(
        [blend.values_on_its_own(raters, warm_params) for blend in blends], warm_params
    )
    return chosen_blend(
        demographic.movie_ids, fit_item_models(likes, warm_params), validation, warm_params
    )


def chosen_blend(
    movie_ids: np.ndarray,
    components: dict[str, Neighbours],
    validation: dict[str, float],
    warm_params: WarmParams,
) -> WarmModel:
    """The WarmModel of these item models with the validation's best grid point."""
    best = max(validation, key=lambda key: (validation[key], key))
    prior_c, mix = (float(v) for v in best.split("/"))
    return WarmModel(
        movie_ids=movie_ids,
        components=components,
        prior_c=prior_c,
        mix=mix,
        params=warm_params,
        validation=validation,
    )


@dataclass(frozen=True, eq=False)
class InnerSplit:
    """One inner split of a validation: its training raters' ratings and like matrix,
    and the ratings of the held-out raters it ranks (``validation_raters`` at most)."""

    held_out: np.ndarray  # the whole held-out fold (none of it is trained on)
    inner: pd.DataFrame
    ranked: pd.DataFrame
    # ``liked_matrix`` of ``inner``: its raters (ascending) x the caller's movie_ids.
    likes: sp.csr_matrix
    movie_ids: np.ndarray

    def likes_on(self, movie_ids: np.ndarray) -> sp.csr_matrix:
        """The like matrix on these movies (ascending, all among ``self.movie_ids``)."""
        if len(movie_ids) == len(self.movie_ids):
            return self.likes
        return self.likes[:, np.searchsorted(self.movie_ids, movie_ids)]


def inner_splits(
    ratings: pd.DataFrame,
    warm_params: WarmParams,
    *,
    movie_ids: np.ndarray,
    threshold: int,
    train_only: Iterable[int] = (),
) -> tuple[sp.csr_matrix, Iterator[InnerSplit]]:
    """(the like matrix of these ratings, their inner splits): the folds of the raters
    (``inner_folds``, ``inner_seed``) that every validation of a fit (the blend, the
    item-kNN baseline's shrinkage) uses. The matrix (raters ascending x ``movie_ids``) is
    ``liked_matrix``; each split's is its rows of it. Raters in ``train_only`` are never
    held out: every split trains on them."""
    rater_ids = np.unique(ratings["rater_id"].to_numpy())
    likes = liked_matrix(ratings, rater_ids, movie_ids, threshold=threshold)
    held_out_ids = np.setdiff1d(rater_ids, np.fromiter(train_only, dtype=np.int64))
    folds = rater_folds(held_out_ids, n_folds=warm_params.inner_folds, seed=warm_params.inner_seed)

    def splits() -> Iterator[InnerSplit]:
        raters_of = ratings["rater_id"]
        cap, seed = warm_params.validation_raters, warm_params.inner_seed
        for i, held_out in enumerate(folds):
            ranked = ranked_sample(held_out, cap, (seed, i))
            yield InnerSplit(
                held_out=held_out,
                inner=ratings[~raters_of.isin(held_out)],
                ranked=ratings[raters_of.isin(ranked)],
                likes=likes[np.flatnonzero(~np.isin(rater_ids, held_out))],
                movie_ids=movie_ids,
            )

    return likes, splits()


@dataclass(frozen=True, eq=False)
class BlendValidation:
    """One inner split's blend validation, ready for its item models: the ridge fitted on
    the split's training raters, the ranked raters' reveal orders and the rows those
    read (positions in the ridge's movies, which the split's raters rated)."""

    split: InnerSplit
    model: RecommenderModel
    orders: dict[int, np.ndarray]
    rows: np.ndarray

    def cosine_view(self, warm_params: WarmParams) -> CosineView:
        """The cosine table it needs, as a view of the split's like matrix."""
        same = len(self.model.movie_ids) == len(self.split.movie_ids)
        columns = None if same else np.searchsorted(self.split.movie_ids, self.model.movie_ids)
        return CosineView(
            rows=self.rows, shrinkages=(warm_params.cosine_shrinkage,), columns=columns
        )

    def values(
        self, cosine: Neighbours, raters: pd.DataFrame, warm_params: WarmParams
    ) -> list[dict[tuple[float, float], float]]:
        """Per validation k, the mean NDCG@10 of every grid point, with this cosine table
        (``cosine_view``) and an RP3beta table fitted here."""
        grid = [(c, m) for c in warm_params.prior_grid for m in warm_params.mix_grid]
        rp3 = rp3_neighbours(
            self.split.likes_on(self.model.movie_ids),
            alpha=warm_params.rp3_alpha,
            beta=warm_params.rp3_beta,
            neighbours=warm_params.neighbours,
            rows=self.rows,
        )
        components = {"cosine": cosine, "rp3beta": rp3}
        return _score_grid(self.model, components, self.orders, raters, grid, warm_params)

    def values_on_its_own(
        self, raters: pd.DataFrame, warm_params: WarmParams
    ) -> list[dict[tuple[float, float], float]]:
        """``values`` with a cosine table from a co-occurrence pass of its own."""
        view = self.cosine_view(warm_params)
        (cosine,) = cosine_views(self.split.likes, neighbours=warm_params.neighbours, views=[view])
        return self.values(cosine[warm_params.cosine_shrinkage], raters, warm_params)


def prepare_blend(
    split: InnerSplit,
    raters: pd.DataFrame,
    movies: pd.DataFrame,
    *,
    params: TrainParams,
    warm_params: WarmParams,
    seed: int,
) -> BlendValidation:
    """Fit the split's ridge and draw its ranked raters' reveals."""
    model = train(
        split.inner,
        raters[~raters["rater_id"].isin(split.held_out)],
        movies,
        params=params,
        seed=seed,
    )
    orders = reveal_orders(split.ranked, model.movie_ids, threshold=params.like_threshold)
    rows = revealed_rows(orders.values(), max(warm_params.validation_ks))
    return BlendValidation(split=split, model=model, orders=orders, rows=rows)


def blend_validation(
    split_values: Iterable[list[dict[tuple[float, float], float]]], warm_params: WarmParams
) -> dict[str, float]:
    """Mean NDCG@10 (over inner splits, then over validation_ks) of every grid point,
    keyed ``"c/mix"``. Ties go to the larger key, i.e. the stronger prior and cosine."""
    grid = [(c, m) for c in warm_params.prior_grid for m in warm_params.mix_grid]
    totals: dict[tuple[float, float], list[float]] = {point: [] for point in grid}
    for values in split_values:
        for value in values:
            for point, ndcg in value.items():
                totals[point].append(ndcg)
    return {f"{c:g}/{m:g}": float(np.mean(v)) if v else 0.0 for (c, m), v in totals.items()}


def _score_grid(
    model: RecommenderModel,
    components: dict[str, Neighbours],
    held_orders: dict[int, np.ndarray],
    raters: pd.DataFrame,
    grid: list[tuple[float, float]],
    warm_params: WarmParams,
) -> list[dict[tuple[float, float], float]]:
    """Per validation k, the mean NDCG@10 of every grid point on these held-out raters
    (their ``reveal_orders`` in the model's movie positions).

    Raters with the same features share one prior (computed once, and only while their
    group is scored: one dense vector per rater would be gigabytes at 100,000 raters);
    each ranking looks only at the movies the liked ones point to and the prior's best
    others (``top_rows_sparse``), which gives the same top 10 as sorting every movie.
    """
    n = len(model.movie_ids)
    ids, features = encode_raters(raters[raters["rater_id"].isin(list(held_orders))])
    feature_of = dict(zip(ids.tolist(), range(len(ids)), strict=True))
    tables = [components[name] for name in COMPONENTS]
    rater_ids = [rid for rid in held_orders if rid in feature_of]
    orders = [held_orders[rid] for rid in rater_ids]
    ks = warm_params.validation_ks
    # One row of coefficients (prior, cosine, RP3beta) per grid point, per k.
    coefficients = [
        np.array([[c / (k + c), k / (k + c) * m, k / (k + c) * (1.0 - m)] for c, m in grid])
        for k in ks
    ]
    # NDCG per (k, grid point, rater), NaN where the rater has too few likes; averaged in
    # rater order, as the ranking is done rater by rater.
    values = np.full((len(ks), len(grid), len(rater_ids)), np.nan)
    unique, group_of = np.unique(
        features[[feature_of[rid] for rid in rater_ids]], axis=0, return_inverse=True
    )
    members = np.argsort(group_of.reshape(-1), kind="stable")
    bounds = np.searchsorted(group_of.reshape(-1)[members], np.arange(len(unique) + 1))
    for group in range(len(unique)):
        prior = unique[group : group + 1] @ model.weights + model.intercept
        standard_prior = standardised(prior[0])
        base = RankedBase(standard_prior)
        for index in members[bounds[group] : bounds[group + 1]].tolist():
            order = orders[index]
            for at, k in enumerate(ks):
                if len(order) < k + 1:
                    continue
                revealed, relevant = order[:k], set(order[k:].tolist())
                items = [standardised(table.scores(revealed, n)) for table in tables]
                support = np.flatnonzero((items[0] != 0) | (items[1] != 0))
                parts = (standard_prior, *items)
                weights = coefficients[at]

                top = top_rows_sparse(
                    partial(_combined_columns, weights, parts), base, support, revealed, 10
                )
                for i, row in enumerate(top):
                    values[at, i, index] = ndcg_at_k(row, relevant, 10)
    results = []
    for at in range(len(ks)):
        results.append(
            {
                point: float(np.mean(row[~np.isnan(row)]))
                for point, row in zip(grid, values[at], strict=True)
                if not np.isnan(row).all()
            }
        )
    return results


def rank_sparse(
    values_at: Callable[[np.ndarray], np.ndarray],
    base: RankedBase,
    support: np.ndarray,
    excluded: np.ndarray,
    movie_ids: np.ndarray,
    k: int,
    *,
    pad: int = 8,
) -> list[int]:
    """``rank_positions(scores, movie_ids, k, exclude_positions=excluded)`` of a score
    vector that, outside ``support``, ranks as ``base`` does (a positive multiple of it),
    looking at the support and the base's best other positions only (as
    ``top_rows_sparse``; every position when those cannot settle it)."""
    n = len(base.base)
    excluded = np.asarray(excluded, dtype=np.int64)
    blocked = np.zeros(n, dtype=bool)
    blocked[excluded] = True
    inside = support[~blocked[support]]
    blocked[support] = True
    sparse = 2 * (len(inside) + k + pad) < n
    outside = base.prefix[~blocked[base.prefix]][: k + pad] if sparse else support[:0]
    if len(outside) == k + pad:
        candidates = np.concatenate((inside, outside))
        values = values_at(candidates)
        kth = -np.partition(-values, k - 1)[k - 1]
        if values[len(inside) + len(outside) - 1] < kth:
            picked = rank_positions(values, movie_ids[candidates], k)
            return candidates[picked].tolist()
    return rank_positions(values_at(np.arange(n)), movie_ids, k, exclude_positions=excluded)


def _combined_columns(
    weights: np.ndarray, parts: Sequence[np.ndarray], columns: np.ndarray
) -> np.ndarray:
    # Only the candidate columns of each vector are stacked (stacking whole vectors per
    # ranking cost more than the ranking).
    return weights @ np.vstack([part[columns] for part in parts])


def top_rows(scores: np.ndarray, excluded: np.ndarray, k: int) -> list[list[int]]:
    """The k best columns of every row of ``scores`` (2-D), excluded columns left out;
    exact ties go to the lower column."""
    masked = np.array(scores, dtype=np.float64, ndmin=2)
    masked[:, np.asarray(excluded, dtype=np.int64)] = -np.inf
    return _best_columns(masked, np.arange(masked.shape[1]), k)


def _best_columns(values: np.ndarray, columns: np.ndarray, k: int) -> list[list[int]]:
    """Per row of ``values`` (rows x candidates), the ``columns`` (ascending) of its k
    largest finite values, best first, ties to the lower column; one sort for all rows."""
    n_rows, width = values.shape
    if not width:
        return [[] for _ in range(n_rows)]
    negated = -values
    if k < width:
        # Everything at or better than each row's k-th value, then an exact sort of those.
        kth = np.partition(negated, k - 1, axis=1)[:, k - 1]
        # (flatnonzero: numpy's 2-D nonzero is ten times slower for a few hits.)
        rows, cols = np.divmod(np.flatnonzero(negated <= kth[:, None]), width)
    else:
        rows, cols = np.divmod(np.arange(n_rows * width), width)
    keys = negated[rows, cols]
    order = np.lexsort((cols, keys, rows))
    rows, cols, keys = rows[order], cols[order], keys[order]
    # Every row has at least min(k, width) entries: its first ones are its answer.
    take = np.searchsorted(rows, np.arange(n_rows))[:, None] + np.arange(min(k, width))
    picked, finite = columns[cols[take]], np.isfinite(keys[take])
    if finite.all():
        return picked.tolist()
    return [row[keep].tolist() for row, keep in zip(picked, finite, strict=True)]


class RankedBase:
    """A score vector's positions in descending order (ties: lower position first), for
    ranking vectors that are a positive multiple of it outside a small support.

    Only a prefix is sorted, about the ``length`` best positions; every position left out
    scores at most ``floor``, and every position in the prefix above it.
    """

    def __init__(self, base: np.ndarray, length: int = 1024) -> None:
        self.base = np.asarray(base, dtype=np.float64)
        self._length = length
        self._prefix: np.ndarray | None = None
        self.floor = -np.inf

    @property
    def prefix(self) -> np.ndarray:
        """Sorted on first use: small catalogues are ranked whole and never need it."""
        if self._prefix is None:
            n, length = len(self.base), self._length
            negated = -self.base
            if length < n:
                part = np.argpartition(negated, length)
                self.floor = float(self.base[part[length]])
                # Only positions strictly above the floor: a tie across the cut is unsorted.
                part = part[:length]
                part = part[self.base[part] > self.floor]
            else:
                part = np.arange(n)
            self._prefix = part[np.lexsort((part, negated[part]))]
        return self._prefix


def top_rows_sparse(
    values_at: Callable[[np.ndarray], np.ndarray],
    base: RankedBase,
    support: np.ndarray,
    excluded: np.ndarray,
    k: int,
    *,
    pad: int = 8,
) -> list[list[int]]:
    """``top_rows`` of a score matrix without building or sorting all of it.

    ``values_at(columns)`` gives the scores of those columns (rows x len(columns)). Outside
    the ``support`` positions every row must be a positive multiple of ``base.base`` (plus
    exact zeros), so there it ranks as the base does. The candidates are the support and
    the base's best positions outside it; if no position left out can reach a row's k-th
    value, their ranking is the full one, else every column is ranked. Either way the
    answer is ``top_rows`` of the full matrix.
    """
    n = len(base.base)
    excluded = np.asarray(excluded, dtype=np.int64)
    blocked = np.zeros(n, dtype=bool)
    blocked[excluded] = True
    inside = support[~blocked[support]]
    blocked[support] = True
    # When the support is most of the catalogue, ranking every column is cheaper.
    sparse = 2 * (len(inside) + k + pad) < n
    outside = base.prefix[~blocked[base.prefix]][: k + pad] if sparse else support[:0]
    if len(outside) == k + pad:
        candidates = np.concatenate((inside, outside))
        candidates.sort()
        values = values_at(candidates)
        if k <= len(candidates):
            kth = -np.partition(-values, k - 1, axis=1)[:, k - 1]
            # Positions not taken score at most what the last one taken scores (the base
            # is sorted down to its floor, and the rest is below it).
            last = values[:, np.searchsorted(candidates, outside[-1])]
            if bool((last < kth).all()):
                return _best_columns(values, candidates, k)
    every = np.arange(n)
    values = values_at(every)
    values[:, excluded] = -np.inf
    return _best_columns(values, every, k)


def to_catalogue(
    table: Neighbours, model_movie_ids: np.ndarray, catalogue_movie_ids: np.ndarray
) -> tuple[np.ndarray, Neighbours]:
    """(model row of every catalogue position or -1, the table on catalogue positions).

    Neighbours that are not in the catalogue point at a spare position n (one past the
    end), which callers cut off after summing (``scores(rows, n + 1)[:n]``).
    """
    ids = np.asarray(catalogue_movie_ids, dtype=np.int64).reshape(-1)
    n = len(ids)
    if np.array_equal(ids, model_movie_ids):
        return np.arange(n, dtype=np.int64), table  # the same movies: positions agree
    at = np.searchsorted(model_movie_ids, ids)
    at = np.minimum(at, max(len(model_movie_ids) - 1, 0))
    known = (model_movie_ids[at] == ids) if len(model_movie_ids) else np.zeros(n, dtype=bool)
    row_of = np.where(known, at, -1).astype(np.int64)
    to_position = np.full(len(model_movie_ids), n, dtype=np.int64)
    to_position[row_of[known]] = np.flatnonzero(known)
    return row_of, Neighbours(index=to_position[table.index].astype(np.int32), weight=table.weight)


class WarmScorer:
    """Serves a WarmModel against one catalogue (positions as in ``Scorer``).

    Neighbour positions are re-mapped to catalogue positions once, so a request is a
    gather and a ``bincount`` per item model over the liked movies' rows.
    """

    def __init__(self, model: WarmModel, catalogue_movie_ids: np.ndarray) -> None:
        self.model = model
        self.n = len(np.asarray(catalogue_movie_ids).reshape(-1))
        self.tables: list[Neighbours] = []
        self.row_of = np.zeros(0, dtype=np.int64)
        for name in COMPONENTS:
            self.row_of, table = to_catalogue(
                model.components[name], model.movie_ids, catalogue_movie_ids
            )
            # Native index and float64 weights spare bincount a conversion per request.
            self.tables.append(
                Neighbours(
                    index=table.index.astype(np.intp), weight=table.weight.astype(np.float64)
                )
            )

    def known(self, liked_positions: np.ndarray) -> np.ndarray:
        """The model rows of those liked catalogue positions the item models know."""
        rows = self.row_of[np.asarray(liked_positions, dtype=np.int64)]
        return rows[rows >= 0]

    def item_scores(self, rows: np.ndarray) -> list[np.ndarray]:
        """Each item model's summed similarity rows of these model ``rows``, on catalogue
        positions."""
        return [table.scores(rows, self.n + 1)[: self.n] for table in self.tables]

    def scores(self, prior: np.ndarray, liked_positions: np.ndarray) -> np.ndarray:
        """The blended scores for this prior (demographic scores of the catalogue) and
        these liked catalogue positions; ``prior`` itself when none is known."""
        rows = self.known(liked_positions)
        if not len(rows):
            return prior
        return self.model.blend(prior, self.item_scores(rows), len(rows))
