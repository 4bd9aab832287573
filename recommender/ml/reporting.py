"""recommender (Django-free): the side-by-side table `make gate` and train_model print."""

from __future__ import annotations

from typing import Any

from recommender.ml.evaluation import COUNT_POPULARITY, LIKE_POPULARITY, EvaluationReport
from recommender.ml.warm_evaluation import DEMOGRAPHIC, GATE_K, ITEM_KNN, MODEL, WarmReport


def comparison_table(
    candidate: EvaluationReport,
    *,
    champion: EvaluationReport | None = None,
    reference: dict[str, Any] | None = None,
) -> str:
    """Candidate, champion, committed reference and the popularity baselines, side by side."""
    columns: list[tuple[str, dict[str, Any]]] = [("candidate", _figures(candidate))]
    if champion is not None:
        columns.append(("champion", _figures(champion)))
    if reference is not None:
        columns.append(("committed", dict(reference.get("metrics", {}))))
    for name, label in ((LIKE_POPULARITY, "pop-likes"), (COUNT_POPULARITY, "pop-count")):
        if name in candidate.baselines:
            columns.append((label, candidate.baselines[name].to_dict(candidate.k)))
    k = candidate.k
    rows = [
        (f"NDCG@{k}", f"ndcg_at_{k}", "{:.4f}"),
        (f"P@{k}", f"precision_at_{k}", "{:.4f}"),
        ("RMSE", "rmse", "{:.4f}"),
        ("distinct lists", "distinct_lists", "{:d}"),
        ("Jaccard dist.", "mean_jaccard_distance", "{:.3f}"),
        ("coverage", "coverage", "{:.3f}"),
    ]
    segments = sorted(set(candidate.segment_ndcg) | set(champion.segment_ndcg if champion else ()))
    rows += [(f"NDCG {segment}", f"segment:{segment}", "{:.4f}") for segment in segments]
    width = 30
    lines = ["metric".ljust(width) + "".join(name.rjust(12) for name, _ in columns)]
    for label, key, fmt in rows:
        cells = []
        for _, figures in columns:
            value = figures.get(key)
            cells.append((fmt.format(value) if value is not None else "-").rjust(12))
        lines.append(label.ljust(width) + "".join(cells))
    # The model ranks by like probability and makes no rating estimate; the rating
    # baselines of the same run are printed for reference.
    for name, values in sorted(candidate.rating_baselines.items()):
        if "rmse" in values:
            lines.append(f"baseline RMSE {name}".ljust(width) + f"{values['rmse']:.4f}".rjust(12))
    return "\n".join(lines)


def _figures(report: EvaluationReport) -> dict[str, Any]:
    figures = report.model.to_dict(report.k)
    figures["rmse"] = report.rmse
    figures.update({f"segment:{name}": value for name, value in report.segment_ndcg.items()})
    return figures


def warm_table(candidate: WarmReport, *, champion: WarmReport | None = None) -> str:
    """Warm start: NDCG@10 and P@10 per number of liked movies, with the baselines, and
    the per-fold paired differences at the gate's k."""
    columns: list[tuple[str, WarmReport, str]] = [("candidate", candidate, MODEL)]
    if champion is not None:
        columns.append(("champion", champion, MODEL))
    for name, label in ((DEMOGRAPHIC, "demographic"), (ITEM_KNN, "item-kNN")):
        columns.append((label, candidate, name))
    columns.append(("pop-likes", candidate, LIKE_POPULARITY))
    width = 30
    lines = ["warm start (k liked)".ljust(width) + "".join(n.rjust(12) for n, _, _ in columns)]
    for metric, label in (("ndcg", "NDCG@10"), ("precision", "P@10")):
        for k in candidate.ks:
            cells = []
            for _, report, ranker in columns:
                figures = report.figures.get(ranker, {}).get(k)
                value = getattr(figures, metric) if figures is not None else None
                cells.append(("-" if value is None else f"{value:.4f}").rjust(12))
            lines.append(f"{label} k={k}".ljust(width) + "".join(cells))
    for name, diffs in candidate.paired.items():
        label = "demographic" if name == DEMOGRAPHIC else "item-kNN"
        folds = "  ".join(f"{d.mean:+.4f} [{d.low:+.4f}, {d.high:+.4f}]" for d in diffs)
        lines.append(f"k={GATE_K} vs {label} per fold: {folds}")
    verdict = "met" if candidate.beats_baselines() else "NOT met"
    lines.append(f"k={GATE_K}: beats both baselines on every fold (95 % CI above zero): {verdict}")
    return "\n".join(lines)
