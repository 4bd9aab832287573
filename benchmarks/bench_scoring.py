"""Bench script: per-profile scoring latency of Scorer on the full ml-100k catalogue."""

from __future__ import annotations

import os
import timeit
from pathlib import Path

from benchmarks.evaluate_ml100k import load
from recommender.ml.features import GENRES, encode_profile
from recommender.ml.profile import Profile
from recommender.ml.scoring import Scorer
from recommender.ml.training import train


def main() -> None:
    default_dir = Path(__file__).resolve().parents[2] / "shared/data/ml-100k"
    ratings, raters, movies = load(Path(os.environ.get("MOVIELENS_DIR", default_dir)))
    model = train(ratings, raters, movies)
    scorer = Scorer(model, movies["movie_id"].to_numpy(), movies[list(GENRES)].to_numpy())
    profile = Profile(age=29, gender="F", occupation="engineer")
    keys = [str(i % 1664) for i in range(len(scorer))]
    cases = {
        "encode_profile": lambda: encode_profile(profile),
        "scores": lambda: scorer.scores(profile),
        "top_k(10)": lambda: scorer.top_k(profile, 10),
        "top_k(10, dedupe_keys)": lambda: scorer.top_k(profile, 10, dedupe_keys=keys),
        "top_k(100)": lambda: scorer.top_k(profile, 100),
    }
    for name, call in cases.items():
        runs = 2000
        best = min(timeit.repeat(call, number=runs, repeat=5)) / runs
        print(f"{name:>24}: {best * 1e6:7.1f} us")


if __name__ == "__main__":
    main()
