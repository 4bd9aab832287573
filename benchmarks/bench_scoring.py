"""Bench script: per-profile scoring latency of Scorer on the full ml-100k catalogue, or
(with ``--movies N``) on a catalogue of N movies.

Prints the default ranking and the same ranking with request filters (genres, excluded
genres, a year range, 50 excluded movies: what `POST /api/recommend` options do), so the
two can be compared; the filtered one must stay within 2x of the default one. Each figure
is the best and the median (p50) of 7 interleaved rounds. Then the same profile with 5
liked movies (the warm-start blend of ``recommender.ml.warm``), beside the demographic-only
scores; those figures are CPU time (``time.process_time``).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
import timeit
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.evaluate_ml100k import load
from catalog.movielens import parse_dataset
from recommender.ml.features import GENRES, encode_profile
from recommender.ml.filters import CatalogueMasks, effective_filters
from recommender.ml.profile import Profile
from recommender.ml.scoring import Scorer
from recommender.ml.training import RecommenderModel, train
from recommender.ml.warm import WarmScorer, fit_warm

# Star Wars, The Empire Strikes Back, Raiders of the Lost Ark, Return of the Jedi, Fargo.
LIKED_MOVIELENS_IDS = (50, 172, 174, 181, 100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--movies",
        type=int,
        default=None,
        help="score a catalogue this big: ml-100k's model repeated, with its columns jittered",
    )
    args = parser.parse_args()
    default_dir = Path(__file__).resolve().parents[2] / "shared/data/ml-100k"
    directory = Path(os.environ.get("MOVIELENS_DIR", default_dir))
    ratings, raters, movies = load(directory)
    data = parse_dataset(lambda file: (directory / file).read_bytes())
    years = [m.release_date.year if m.release_date else 0 for m in data.movies]
    model = train(ratings, raters, movies)
    ids, flags = movies["movie_id"].to_numpy(), movies[list(GENRES)].to_numpy()
    if args.movies:
        model, ids, flags = _grown(model, flags, args.movies)
    scorer = Scorer(model, ids, flags)
    print(f"catalogue: {len(scorer)} movies")
    profile = Profile(age=29, gender="F", occupation="engineer")
    keys = [str(i % (len(scorer) * 1664 // 1682)) for i in range(len(scorer))]
    slack = len(keys) - len(set(keys))
    masks = CatalogueMasks(
        movie_ids=ids,
        genre_flags=flags,
        genre_names=GENRES,
        years=[years[i % len(years)] for i in range(len(ids))],
    )
    filters = effective_filters(
        profile,
        exclude=movies["movie_id"].to_numpy()[:50].tolist(),
        genres=["Comedy", "Drama", "Romance"],
        exclude_genres=["Horror"],
        released_from=1990,
        released_to=1998,
    )
    child = Profile(age=9, gender="F", occupation="student")
    child_filters = effective_filters(child)

    def default(k: int) -> list[int]:
        return scorer.rank(scorer.scores(profile), k, dedupe_keys=keys, dedupe_slack=slack)

    def filtered(k: int) -> list[int]:
        allowed = masks.allowed(filters)
        return scorer.rank(
            scorer.scores(profile), k, dedupe_keys=keys, dedupe_slack=slack, allowed=allowed
        )

    def childrens_default(k: int) -> list[int]:
        allowed = masks.allowed(child_filters)
        return scorer.rank(
            scorer.scores(child), k, dedupe_keys=keys, dedupe_slack=slack, allowed=allowed
        )

    cases = {
        "encode_profile": lambda: encode_profile(profile),
        "scores": lambda: scorer.scores(profile),
        "top_k(10)": lambda: scorer.top_k(profile, 10),
        "top_k(10, dedupe_keys)": lambda: scorer.top_k(profile, 10, dedupe_keys=keys),
        "top_k(100)": lambda: scorer.top_k(profile, 100),
        "default top-100, dedupe": lambda: default(100),
        "filtered top-100, dedupe": lambda: filtered(100),
        "children's top-100": lambda: childrens_default(100),
        "default top-500, dedupe": lambda: default(500),
        "filtered top-500, dedupe": lambda: filtered(500),
        "masks.allowed(filters)": lambda: masks.allowed(filters),
    }
    # Rounds interleave the cases, so a busy machine slows them alike and the ratios hold.
    times: dict[str, list[float]] = {name: [] for name in cases}
    runs = 1000
    for _ in range(7):
        for name, call in cases.items():
            times[name].append(timeit.timeit(call, number=runs) / runs)
    figures = {name: min(values) for name, values in times.items()}
    for name, best in figures.items():
        median = sorted(times[name])[len(times[name]) // 2]
        print(f"{name:>26}: {best * 1e6:7.1f} us best, {median * 1e6:7.1f} us p50")
    for depth in ("100", "500"):
        ratio = figures[f"filtered top-{depth}, dedupe"] / figures[f"default top-{depth}, dedupe"]
        print(f"{'filtered / default @' + depth:>26}: {ratio:7.2f} x")
    warm_cases(ratings, raters, movies, model)


def warm_cases(
    ratings: pd.DataFrame, raters: pd.DataFrame, movies: pd.DataFrame, model: Any
) -> None:
    """Scoring with 5 liked movies beside the demographic-only scores, in CPU time."""
    started = time.process_time()
    warm = fit_warm(ratings, raters, movies, demographic=model)
    print(
        f"fit_warm on all of ml-100k: {time.process_time() - started:.1f} s CPU "
        f"({warm.params.neighbours} neighbours, c={warm.prior_c:g}, mix={warm.mix:g})",
        file=sys.stderr,
    )
    movie_ids = movies["movie_id"].to_numpy()
    scorer = Scorer(model, movie_ids, movies[list(GENRES)].to_numpy())
    warm_scorer = WarmScorer(warm, movie_ids)
    liked = np.searchsorted(movie_ids, LIKED_MOVIELENS_IDS)
    profile = Profile(age=29, gender="F", occupation="engineer")

    def warm_scores() -> np.ndarray:
        return warm_scorer.scores(scorer.scores(profile), liked)

    cases = {
        "scores (CPU)": lambda: scorer.scores(profile),
        "scores, 5 liked (CPU)": warm_scores,
        "top-10, 5 liked (CPU)": lambda: scorer.rank(warm_scores(), 10, exclude_positions=liked),
        "top-100, 5 liked (CPU)": lambda: scorer.rank(warm_scores(), 100, exclude_positions=liked),
    }
    for name, call in cases.items():
        runs = 2000
        best = min(timeit.repeat(call, number=runs, repeat=5, timer=time.process_time)) / runs
        print(f"{name:>26}: {best * 1e6:7.1f} us")


def _grown(
    model: RecommenderModel, flags: np.ndarray, n: int
) -> tuple[RecommenderModel, np.ndarray, np.ndarray]:
    """The model's columns repeated up to n movies, each copy jittered (so no ties)."""
    rng = np.random.default_rng(0)
    take = np.arange(n) % len(model.movie_ids)
    spread = model.weights.std(axis=1, keepdims=True)
    weights = model.weights[:, take] + 0.1 * spread * rng.standard_normal((model.n_features, n))
    intercept = model.intercept[take] + 0.01 * rng.standard_normal(n)
    ids = np.arange(1, n + 1, dtype=np.int64)
    grown = dataclasses.replace(
        model, movie_ids=ids, weights=np.ascontiguousarray(weights), intercept=intercept
    )
    return grown, ids, flags[take]


if __name__ == "__main__":
    main()
