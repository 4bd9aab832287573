"""Bench script: run the full 5-fold evaluation on the real ml-100k and print it."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pandas as pd

from recommender.evaluation import evaluate
from recommender.features import GENRES
from recommender.training import train


def load(directory: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    ratings = pd.read_csv(
        directory / "u.data",
        sep="\t",
        names=["rater_id", "movie_id", "rating", "timestamp"],
        usecols=["rater_id", "movie_id", "rating"],
    )
    raters = pd.read_csv(
        directory / "u.user",
        sep="|",
        names=["rater_id", "age", "gender", "occupation", "zip"],
        usecols=["rater_id", "age", "gender", "occupation"],
    )
    items = pd.read_csv(directory / "u.item", sep="|", header=None, encoding="latin-1")
    movies = pd.DataFrame({"movie_id": items[0].to_numpy()})
    for i, genre in enumerate(GENRES):
        movies[genre] = items[5 + i].astype(bool).to_numpy()
    return ratings, raters, movies


def main() -> None:
    directory = Path(
        os.environ.get("MOVIELENS_DIR", Path(__file__).resolve().parents[2] / "shared/data/ml-100k")
    )
    ratings, raters, movies = load(directory)
    started = time.perf_counter()
    train(ratings, raters, movies)
    print(f"train on all data: {time.perf_counter() - started:.3f}s", file=sys.stderr)
    report = evaluate(ratings, raters, movies, progress=lambda m: print(m, file=sys.stderr))
    print(json.dumps(report.to_dict(), indent=1))


if __name__ == "__main__":
    main()
