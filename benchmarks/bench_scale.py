"""Benchmark: the whole pipeline on synthetic data at growing scales; time and memory per step.

    python benchmarks/bench_scale.py [--scales 1 10 100] [--seed 0] [--database-url URL]

For every scale: generate the data set (benchmarks/synth_movielens.py) into a temporary
folder, create an empty Postgres database ``movierec_scale_<scale>_<pid>`` on the server of
DATABASE_URL, migrate, ingest, ingest again (no change), train (the 5-fold evaluation, the
baselines, the fit and the registry, as `train_model` does), load the artifact into a fresh
worker process, and score. Each step runs in its own process, so its peak RSS (VmHWM) is its
own. The database and the folder are removed afterwards, also on failure. Then a table, and
per step the growth exponent b of time ~ scale^b (least squares on log-log).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import timeit
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
STEPS = ("generate", "ingest", "ingest_again", "train", "load", "score")


def peak_rss_mb() -> float:
    """This process's peak resident set size (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _django() -> None:
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movierec.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    import django

    django.setup()


def run_step(step: str, *, scale: float, seed: int, folder: Path) -> dict[str, Any]:
    """One step in this process; returns its figures."""
    if step != "generate":
        _django()  # not timed: every step's process pays it once, whatever the scale
    started = time.perf_counter()
    result: dict[str, Any] = {}
    if step == "generate":
        sys.path.insert(0, str(REPO))
        from benchmarks.synth_movielens import generate, write

        data = generate(scale=scale, seed=seed)
        write(data, folder)
        result.update(raters=data.n_raters, movies=data.n_movies, ratings=len(data.rater))
    elif step == "migrate":
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
    elif step in ("ingest", "ingest_again"):
        from catalog.services import movielens_ingest

        ingested = movielens_ingest(source=folder)
        result.update(changed=ingested.changed, summary=ingested.summary())
    elif step == "train":
        from recommender.ml.warm_evaluation import DEMOGRAPHIC, GATE_K, ITEM_KNN
        from recommender.services import evaluation_report, model_train, warm_report

        outcome = model_train(seed=42)
        evaluation = evaluation_report(outcome.version)
        warm = warm_report(outcome.version)
        result.update(
            ndcg=round(evaluation.ndcg, 4),
            like_popularity=round(evaluation.baselines["popularity_likes"].ndcg_at_k, 4),
            gate_passed=outcome.gate["passed"],
            artifact_bytes=len(bytes(outcome.version.artifact)),
        )
        if warm is not None:
            result.update(
                warm_k=GATE_K,
                warm_ndcg=round(warm.ndcg(GATE_K), 4),
                warm_demographic=round(warm.ndcg(GATE_K, DEMOGRAPHIC), 4),
                warm_item_knn=round(warm.ndcg(GATE_K, ITEM_KNN), 4),
                warm_raters=warm.figures["model"][GATE_K].n_raters,
            )
    elif step in ("load", "score"):
        from recommender import registry
        from recommender.ml.profile import Profile

        loaded = registry.active_model()
        result.update(movies=len(loaded.catalogue.titles))
        if step == "score":
            started = time.perf_counter()
            profiles = [
                Profile(age=29, gender="F", occupation="engineer"),
                Profile(age=52, gender="M", occupation="retired"),
                Profile(age=19, gender="O", occupation="student"),
            ]
            scorer = loaded.scorer

            def top10(profile: Profile) -> None:
                scorer.top_k(profile, 10)

            def served(profile: Profile) -> None:
                scorer.top_k(
                    profile, 100, dedupe_keys=loaded.dedupe_keys, dedupe_slack=loaded.dedupe_slack
                )

            top10_us = [
                t / 200 * 1e6
                for p in profiles
                for t in timeit.repeat(partial(top10, p), number=200, repeat=7)
            ]
            served_us = [
                t / 50 * 1e6
                for p in profiles
                for t in timeit.repeat(partial(served, p), number=50, repeat=5)
            ]
            result.update(
                top10_p50_us=round(_median(top10_us), 1),
                top10_best_us=round(min(top10_us), 1),
                top100_dedupe_p50_us=round(_median(served_us), 1),
                **_answer_costs(loaded, profiles),
            )
    else:
        raise ValueError(step)
    result.update(seconds=round(time.perf_counter() - started, 2), peak_rss_mb=peak_rss_mb())
    return result


def _answer_costs(loaded: Any, profiles: list[Any]) -> dict[str, float]:
    """p50 µs of a whole uncached answer (``LoadedModel.ranked``, what a request that
    misses the cache computes): no options, request filters, and 5 liked movies."""
    from recommender import registry
    from recommender.ml.filters import effective_filters

    # A copy whose answer cache keeps nothing: every call computes its answer.
    loaded = dataclasses.replace(loaded, _ranked=registry._LRU(0))
    ids = loaded.catalogue.movie_ids
    cases: dict[str, list[float]] = {"plain": [], "filtered": [], "liked": []}
    for profile in profiles:
        plain = effective_filters(profile)
        filtered = effective_filters(
            profile,
            exclude=ids[:50].tolist(),
            genres=["Drama", "Comedy", "Action"],
            exclude_genres=["Horror"],
            released_from=1980,
            released_to=1998,
        )
        best = list(loaded.ranked(profile, plain, 5).positions[:5])
        liked = tuple(sorted(int(i) for i in ids[best]))
        for name, filters, likes in (
            ("plain", plain, ()),
            ("filtered", filtered, ()),
            ("liked", plain, liked),
        ):

            def answer(
                profile: Any = profile, filters: Any = filters, likes: tuple[int, ...] = likes
            ) -> None:
                loaded.ranked(profile, filters, 10, liked=likes)

            cases[name] += [t / 50 * 1e6 for t in timeit.repeat(answer, number=50, repeat=5)]
    return {f"answer_{name}_p50_us": round(_median(v), 1) for name, v in cases.items()}


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _child(step: str, *, scale: float, seed: int, folder: Path, url: str) -> dict[str, Any]:
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_DEBUG": "1"}
    env.pop("REDIS_URL", None)  # a per-process cache: nothing shared with other runs
    completed = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--step",
            step,
            "--scale",
            str(scale),
            "--seed",
            str(seed),
            "--folder",
            str(folder),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"step {step} at scale {scale} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def growth_exponent(scales: list[float], seconds: list[float]) -> float | None:
    """b in seconds ~ scale^b, least squares on log-log; None with fewer than two scales."""
    points = [(math.log(s), math.log(max(t, 1e-6))) for s, t in zip(scales, seconds, strict=True)]
    if len(points) < 2:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or DEFAULT_SERVER,
        help="any database on the Postgres server to use (a scratch one is made beside it)",
    )
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(run_step(args.step, scale=args.scale, seed=args.seed, folder=args.folder)))
        return 0

    parsed = urlparse(args.database_url)
    if parsed.scheme not in ("postgres", "postgresql", "pgsql"):
        print("bench_scale needs a Postgres DATABASE_URL", file=sys.stderr)
        return 2
    import psycopg2

    results: dict[float, dict[str, dict[str, Any]]] = {}
    for scale in args.scales:
        name = f"movierec_scale_{str(scale).replace('.', '_')}_{os.getpid()}"
        folder = Path(tempfile.mkdtemp(prefix=f"movierec-scale-{scale}-"))
        admin = psycopg2.connect(urlunparse(parsed._replace(path="/postgres")))
        admin.autocommit = True
        try:
            with admin.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
            url = urlunparse(parsed._replace(path=f"/{name}"))
            figures: dict[str, dict[str, Any]] = {}
            for step in ("generate", "migrate", *STEPS[1:]):
                figures[step] = _child(step, scale=scale, seed=args.seed, folder=folder, url=url)
                print(f"scale {scale:g} {step}: {json.dumps(figures[step])}", flush=True)
                if step == "generate":
                    size = sum(f.stat().st_size for f in folder.iterdir())
                    figures[step]["megabytes"] = round(size / 1e6, 1)
            if figures["ingest_again"]["changed"]:
                print("FAIL: the no-change ingest changed rows", file=sys.stderr)
                return 1
            results[scale] = figures
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            with admin.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()
    _print_table(args.scales, results)
    return 0


def _print_table(scales: list[float], results: dict[float, dict[str, dict[str, Any]]]) -> None:
    print()
    sizes = " · ".join(
        f"scale {s:g}: {results[s]['generate']['raters']} raters, "
        f"{results[s]['generate']['movies']} movies, {results[s]['generate']['ratings']} ratings"
        for s in scales
    )
    print(sizes)
    header = "| step | " + " | ".join(f"scale {s:g}" for s in scales) + " | b |"
    print(header)
    print("|" + " --- |" * (len(scales) + 2))
    for step in STEPS[:-1]:
        seconds = [float(results[s][step]["seconds"]) for s in scales]
        b = growth_exponent(scales, seconds)
        cells = [
            f"{results[s][step]['seconds']:.2f} s, {results[s][step]['peak_rss_mb']:.0f} MB"
            for s in scales
        ]
        print(f"| {step} | " + " | ".join(cells) + f" | {'' if b is None else f'{b:.2f}'} |")
    for label, key, unit in (
        ("score: top-10 p50", "top10_p50_us", "µs"),
        ("score: top-10 best run", "top10_best_us", "µs"),
        ("score: top-100 deduped p50", "top100_dedupe_p50_us", "µs"),
        ("answer, uncached, p50", "answer_plain_p50_us", "µs"),
        ("answer with filters, p50", "answer_filtered_p50_us", "µs"),
        ("answer with 5 liked movies, p50", "answer_liked_p50_us", "µs"),
    ):
        cells = [f"{results[s]['score'][key]} {unit}" for s in scales]
        b = growth_exponent(scales, [float(results[s]["score"][key]) for s in scales])
        print(f"| {label} | " + " | ".join(cells) + f" | {'' if b is None else f'{b:.2f}'} |")
    cells = [f"{results[s]['train']['artifact_bytes'] / 1e6:.2f} MB" for s in scales]
    print("| artifact | " + " | ".join(cells) + " | |")
    cells = [
        f"{results[s]['train']['ndcg']} vs {results[s]['train']['like_popularity']}" for s in scales
    ]
    print("| NDCG@10 model vs like-popularity | " + " | ".join(cells) + " | |")
    if all("warm_ndcg" in results[s]["train"] for s in scales):
        cells = [
            f"{t['warm_ndcg']} vs {t['warm_demographic']} vs {t['warm_item_knn']} "
            f"({t['warm_raters']} raters)"
            for t in (results[s]["train"] for s in scales)
        ]
        print(
            "| NDCG@10 with 5 liked: model vs demographic vs item-kNN | "
            + " | ".join(cells)
            + " | |"
        )


if __name__ == "__main__":
    sys.exit(main())
