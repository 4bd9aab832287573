"""Bench script: per-profile scoring latency on the full ml-100k catalogue (CPU time).

The demographic figures come first, then the same profile with 5 liked movies (the
warm-start blend of ``recommender.ml.warm``), so the two can be read side by side.
"""

from __future__ import annotations

import os
import sys
import time
import timeit
from pathlib import Path

import numpy as np

from benchmarks.evaluate_ml100k import load
from recommender.ml.features import GENRES, encode_profile
from recommender.ml.profile import Profile
from recommender.ml.scoring import Scorer
from recommender.ml.training import train
from recommender.ml.warm import WarmScorer, fit_warm

# Star Wars, The Empire Strikes Back, Raiders of the Lost Ark, Return of the Jedi, Fargo.
LIKED_MOVIELENS_IDS = (50, 172, 174, 181, 100)


def main() -> None:
    default_dir = Path(__file__).resolve().parents[2] / "shared/data/ml-100k"
    ratings, raters, movies = load(Path(os.environ.get("MOVIELENS_DIR", default_dir)))
    model = train(ratings, raters, movies)
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
    keys = [str(i % 1664) for i in range(len(scorer))]

    def warm_scores() -> np.ndarray:
        return warm_scorer.scores(scorer.scores(profile), liked)

    cases = {
        "encode_profile": lambda: encode_profile(profile),
        "scores": lambda: scorer.scores(profile),
        "top_k(10)": lambda: scorer.top_k(profile, 10),
        "top_k(10, dedupe_keys)": lambda: scorer.top_k(profile, 10, dedupe_keys=keys),
        "top_k(100)": lambda: scorer.top_k(profile, 100),
        "scores, 5 liked": warm_scores,
        "top_k(10), 5 liked": lambda: scorer.rank(warm_scores(), 10, exclude_positions=liked),
        "top_k(100), 5 liked": lambda: scorer.rank(warm_scores(), 100, exclude_positions=liked),
    }
    for name, call in cases.items():
        runs = 2000
        best = min(timeit.repeat(call, number=runs, repeat=5, timer=time.process_time)) / runs
        print(f"{name:>24}: {best * 1e6:7.1f} us CPU")


if __name__ == "__main__":
    main()
