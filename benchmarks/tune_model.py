"""Bench script: nested cross-validation of the TrainParams defaults on ml-100k.

For each outer fold (seed 42, the protocol's split) a small grid is scored by an inner
4-fold evaluation (seed 7) on the outer training raters only; the winner is then
scored on the outer held-out raters. The nested mean is an honest figure for "tune,
then evaluate", and the winners show whether the defaults are stable choices.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.evaluate_ml100k import load
from recommender.ml.evaluation import evaluate, rater_folds
from recommender.ml.training import TrainParams

GRID: dict[str, tuple[Any, ...]] = {
    "alpha": (50.0, 100.0, 200.0, 400.0, 800.0),
    "occupation_scale": (0.3, 0.5, 1.0),
}


def main() -> None:
    default_dir = Path(__file__).resolve().parents[2] / "shared/data/ml-100k"
    ratings, raters, movies = load(Path(os.environ.get("MOVIELENS_DIR", default_dir)))
    candidates = [
        TrainParams(**dict(zip(GRID, values, strict=True)))
        for values in itertools.product(*GRID.values())
    ]
    outer = rater_folds(ratings["rater_id"].unique(), n_folds=5, seed=42)
    nested = []
    for number, held_out in enumerate(outer, start=1):
        inner_ratings = ratings[~ratings["rater_id"].isin(held_out)]
        inner_raters = raters[~raters["rater_id"].isin(held_out)]
        inner = [
            evaluate(inner_ratings, inner_raters, movies, params=p, seed=7, n_folds=4)
            for p in candidates
        ]
        best = max(range(len(candidates)), key=lambda i: inner[i].ndcg)
        # Score the winner on this outer fold: evaluate the full protocol and read
        # this fold's value (the same training set as the outer split).
        full = evaluate(ratings, raters, movies, params=candidates[best], seed=42)
        nested.append(full.model.per_fold_ndcg[number - 1])
        grid_text = ", ".join(
            f"a={p.alpha:g}/o={p.occupation_scale:g}:{r.ndcg:.4f}"
            for p, r in zip(candidates, inner, strict=True)
        )
        print(f"outer {number}: inner {grid_text}")
        print(
            f"outer {number}: picked alpha={candidates[best].alpha:g} "
            f"occupation_scale={candidates[best].occupation_scale:g}, "
            f"outer NDCG@10 {nested[-1]:.4f}"
        )
    print(f"nested 5-fold NDCG@10: {np.mean(nested):.4f}")


if __name__ == "__main__":
    main()
