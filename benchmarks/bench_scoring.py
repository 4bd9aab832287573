"""Bench script: per-profile scoring latency of Scorer on the ml-100k catalogue, or (with
``--movies N``) on a catalogue of N movies. Prints the best and the median (p50) of 25 runs."""

from __future__ import annotations

import argparse
import dataclasses
import os
import timeit
from pathlib import Path

import numpy as np

from benchmarks.evaluate_ml100k import load
from recommender.ml.features import GENRES, encode_profile
from recommender.ml.profile import Profile
from recommender.ml.scoring import Scorer
from recommender.ml.training import RecommenderModel, train


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
    ratings, raters, movies = load(Path(os.environ.get("MOVIELENS_DIR", default_dir)))
    model = train(ratings, raters, movies)
    ids, flags = movies["movie_id"].to_numpy(), movies[list(GENRES)].to_numpy()
    if args.movies:
        model, ids, flags = _grown(model, flags, args.movies)
    scorer = Scorer(model, ids, flags)
    print(f"catalogue: {len(scorer)} movies")
    profile = Profile(age=29, gender="F", occupation="engineer")
    keys = [str(i % (len(scorer) * 1664 // 1682)) for i in range(len(scorer))]
    cases = {
        "encode_profile": lambda: encode_profile(profile),
        "scores": lambda: scorer.scores(profile),
        "top_k(10)": lambda: scorer.top_k(profile, 10),
        "top_k(10, dedupe_keys)": lambda: scorer.top_k(profile, 10, dedupe_keys=keys),
        "top_k(100)": lambda: scorer.top_k(profile, 100),
    }
    for name, call in cases.items():
        runs = 200
        times = sorted(t / runs for t in timeit.repeat(call, number=runs, repeat=25))
        best, median = times[0], times[len(times) // 2]
        print(f"{name:>24}: {best * 1e6:7.1f} us best, {median * 1e6:7.1f} us p50")


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
