"""Bench script: run the full 5-fold evaluation on the real ml-100k and print it."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pandas as pd

from catalog.movielens import parse_dataset
from recommender.ml.evaluation import evaluate
from recommender.ml.training import train


def load(directory: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(ratings, raters, movies) frames of an ml-100k folder, keyed by MovieLens ids.

    Read with the project's own parser (Latin-1, checks), so benchmarks and the real-data
    accuracy test see exactly the rows the ingest would store.
    """
    data = parse_dataset(lambda file: (directory / file).read_bytes())
    ratings = pd.DataFrame(
        [(r.rater_id, r.movie_id, r.rating) for r in data.ratings],
        columns=["rater_id", "movie_id", "rating"],
    )
    raters = pd.DataFrame(
        [(r.ml_id, r.age, r.gender, r.occupation) for r in data.raters],
        columns=["rater_id", "age", "gender", "occupation"],
    )
    names = {genre.ml_id: genre.name for genre in data.genres}
    movies = pd.DataFrame({"movie_id": [movie.ml_id for movie in data.movies]})
    for genre_id, name in sorted(names.items()):
        movies[name] = [genre_id in movie.genre_ids for movie in data.movies]
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
