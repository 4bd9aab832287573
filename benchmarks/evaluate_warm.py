"""Bench script: the warm-start protocol on the real ml-100k, printed as the gate table.

``--neighbours N`` and the other WarmParams fields can be overridden to compare item
models (e.g. ``--neighbours 100 --rp3-beta 0.2``); every choice is printed with its
5-fold figures and the per-fold paired intervals at k = 5.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import fields
from pathlib import Path

from benchmarks.evaluate_ml100k import load
from recommender.ml.reporting import warm_table
from recommender.ml.warm import WarmParams
from recommender.ml.warm_evaluation import evaluate_warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    for f in fields(WarmParams):
        if f.type in ("int", "float"):
            parser.add_argument("--" + f.name.replace("_", "-"), type=eval(f.type))  # noqa: S307
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    overrides = {
        f.name: getattr(args, f.name) for f in fields(WarmParams) if getattr(args, f.name, None)
    }
    default_dir = Path(__file__).resolve().parents[2] / "shared/data/ml-100k"
    ratings, raters, movies = load(Path(os.environ.get("MOVIELENS_DIR", default_dir)))
    report = evaluate_warm(
        ratings,
        raters,
        movies,
        warm_params=WarmParams(**overrides),
        progress=lambda m: print(m, file=sys.stderr),
    )
    print(json.dumps(report.to_dict(), indent=1) if args.json else warm_table(report))


if __name__ == "__main__":
    main()
