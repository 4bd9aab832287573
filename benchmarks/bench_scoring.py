"""Bench script: per-profile scoring latency of Scorer on the full ml-100k catalogue.

Prints the default ranking and the same ranking with request filters (genres, excluded
genres, a year range, 50 excluded movies: what `POST /api/recommend` options do), so the
two can be compared; the filtered one must stay within 2x of the default one.
"""

from __future__ import annotations

import os
import timeit
from pathlib import Path

from benchmarks.evaluate_ml100k import load
from catalog.movielens import parse_dataset
from recommender.ml.features import GENRES, encode_profile
from recommender.ml.filters import CatalogueMasks, effective_filters
from recommender.ml.profile import Profile
from recommender.ml.scoring import Scorer
from recommender.ml.training import train


def main() -> None:
    default_dir = Path(__file__).resolve().parents[2] / "shared/data/ml-100k"
    directory = Path(os.environ.get("MOVIELENS_DIR", default_dir))
    ratings, raters, movies = load(directory)
    data = parse_dataset(lambda file: (directory / file).read_bytes())
    years = [m.release_date.year if m.release_date else 0 for m in data.movies]
    model = train(ratings, raters, movies)
    scorer = Scorer(model, movies["movie_id"].to_numpy(), movies[list(GENRES)].to_numpy())
    profile = Profile(age=29, gender="F", occupation="engineer")
    keys = [str(i % 1664) for i in range(len(scorer))]
    masks = CatalogueMasks(
        movie_ids=movies["movie_id"].to_numpy(),
        genre_flags=movies[list(GENRES)].to_numpy(),
        genre_names=GENRES,
        years=years,
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
        return scorer.rank(scorer.scores(profile), k, dedupe_keys=keys, dedupe_slack=18)

    def filtered(k: int) -> list[int]:
        allowed = masks.allowed(filters)
        return scorer.rank(
            scorer.scores(profile), k, dedupe_keys=keys, dedupe_slack=18, allowed=allowed
        )

    def childrens_default(k: int) -> list[int]:
        allowed = masks.allowed(child_filters)
        return scorer.rank(
            scorer.scores(child), k, dedupe_keys=keys, dedupe_slack=18, allowed=allowed
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
    figures = {name: float("inf") for name in cases}
    runs = 1000
    for _ in range(7):
        for name, call in cases.items():
            figures[name] = min(figures[name], timeit.timeit(call, number=runs) / runs)
    for name, best in figures.items():
        print(f"{name:>26}: {best * 1e6:7.1f} us")
    for depth in ("100", "500"):
        ratio = figures[f"filtered top-{depth}, dedupe"] / figures[f"default top-{depth}, dedupe"]
        print(f"{'filtered / default @' + depth:>26}: {ratio:7.2f} x")


if __name__ == "__main__":
    main()
