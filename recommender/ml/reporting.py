"""recommender (Django-free): the evaluation report: a text table, SVG charts and HTML.

`make gate` (train_model --report) prints the text table and writes the HTML document; the
model version page in admin shows the same HTML fragment. The charts are hand-built SVG:
two bar charts need a few dozen lines of it, with no dependency, no fonts turned into paths
(the labels stay text: selectable, searchable, printable) and the same bytes on every
machine. No JavaScript and nothing fetched from elsewhere: the document is self-contained.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from recommender.ml.evaluation import COUNT_POPULARITY, LIKE_POPULARITY, EvaluationReport
from recommender.ml.features import AGE_BUCKETS
from recommender.ml.profile import OCCUPATIONS
from recommender.ml.warm_evaluation import DEMOGRAPHIC, GATE_K, ITEM_KNN, MODEL, WarmReport

# Segments with fewer held-out raters are greyed out: their NDCG moves with a few people.
MIN_SEGMENT_RATERS = 20

# Colours that stay apart in print and for the common colour-vision deficiencies
# (Okabe-Ito blue and orange; the baselines in greys, so the models stand out).
CANDIDATE_COLOUR = "#0072b2"
CHAMPION_COLOUR = "#e69f00"
LIKE_POPULARITY_COLOUR = "#6e6e6e"
COUNT_POPULARITY_COLOUR = "#b4b4b4"
FADED_COLOUR = "#dddddd"
FADED_TEXT = "#9a9a9a"
FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif"


@dataclass(frozen=True)
class Column:
    """One column of the comparison: a name and its figures by metric key."""

    name: str
    figures: dict[str, Any]


def comparison_columns(
    candidate: EvaluationReport,
    *,
    champion: EvaluationReport | None = None,
    reference: dict[str, Any] | None = None,
    champion_name: str = "champion",
) -> list[Column]:
    """Candidate, champion, committed reference and the popularity baselines, in order."""
    columns = [Column("candidate", _figures(candidate))]
    if champion is not None:
        columns.append(Column(champion_name, _figures(champion)))
    if reference is not None:
        columns.append(Column("committed", dict(reference.get("metrics", {}))))
    for name, label in ((LIKE_POPULARITY, "pop-likes"), (COUNT_POPULARITY, "pop-count")):
        if name in candidate.baselines:
            columns.append(Column(label, candidate.baselines[name].to_dict(candidate.k)))
    return columns


def metric_rows(k: int) -> list[tuple[str, str, str]]:
    """(label, key, format) of the headline metrics, best known first."""
    return [
        (f"NDCG@{k}", f"ndcg_at_{k}", "{:.4f}"),
        (f"P@{k}", f"precision_at_{k}", "{:.4f}"),
        ("coverage", "coverage", "{:.3f}"),
        ("distinct lists", "distinct_lists", "{:d}"),
        ("personalization", "mean_jaccard_distance", "{:.3f}"),
    ]


def comparison_table(
    candidate: EvaluationReport,
    *,
    champion: EvaluationReport | None = None,
    reference: dict[str, Any] | None = None,
) -> str:
    """Candidate, champion, committed reference and the popularity baselines, side by side."""
    columns = comparison_columns(candidate, champion=champion, reference=reference)
    rows = metric_rows(candidate.k)
    rows.insert(2, ("RMSE", "rmse", "{:.4f}"))
    segments = _ordered_segments(
        set(candidate.segment_ndcg) | set(champion.segment_ndcg if champion else ())
    )
    rows += [(f"NDCG {segment}", f"segment:{segment}", "{:.4f}") for segment in segments]
    width = 30
    lines = ["metric".ljust(width) + "".join(column.name.rjust(12) for column in columns)]
    for label, key, fmt in rows:
        cells = [_format(column.figures.get(key), fmt).rjust(12) for column in columns]
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


def _format(value: Any, fmt: str) -> str:
    if value is None:
        return "-"
    if fmt == "{:d}":
        return fmt.format(int(value))
    return fmt.format(float(value))


def _ordered_segments(segments: set[str]) -> list[str]:
    """Gender, then age buckets youngest first, then occupations A-Z, then anything else."""
    order = (
        [f"gender:{g}" for g in ("F", "M", "O")]
        + [f"age:{bucket}" for bucket in AGE_BUCKETS]
        + [f"occupation:{name}" for name in sorted(OCCUPATIONS)]
    )
    known = [segment for segment in order if segment in segments]
    return known + sorted(segments - set(order))


# ---------------------------------------------------------------------------------- charts


def _axis_top(highest: float) -> float:
    """A round top for a 0-based axis, with head room for the value labels."""
    return max(0.1, math.ceil(highest * 1.15 * 10) / 10)


def _ticks(top: float) -> list[float]:
    step = 0.05 if top <= 0.3 else 0.1
    return [round(step * i, 2) for i in range(round(top / step) + 1)]


def _legend(series: Sequence[tuple[str, str]], *, x: float, y: float) -> list[str]:
    parts = []
    for name, colour in series:
        parts.append(f'<rect x="{x:.0f}" y="{y - 10:.0f}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{x + 17:.0f}" y="{y:.0f}">{escape(name)}</text>')
        x += 32 + 6.1 * len(name)
    return parts


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}" '
        f'style="{FONT};font-size:12px;max-width:100%;height:auto">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def fold_chart_svg(candidate: EvaluationReport, *, champion: EvaluationReport | None = None) -> str:
    """Grouped bars: NDCG@k per evaluation fold (and the mean) for the candidate, the
    champion when its folds line up, and both popularity baselines of the candidate's run."""
    k = candidate.k
    series: list[tuple[str, str, list[float]]] = [
        ("candidate", CANDIDATE_COLOUR, list(candidate.model.per_fold_ndcg))
    ]
    if champion is not None and len(champion.model.per_fold_ndcg) == candidate.n_folds:
        series.append(("champion", CHAMPION_COLOUR, list(champion.model.per_fold_ndcg)))
    for name, label, colour in (
        (LIKE_POPULARITY, "like-popularity", LIKE_POPULARITY_COLOUR),
        (COUNT_POPULARITY, "count-popularity", COUNT_POPULARITY_COLOUR),
    ):
        if name in candidate.baselines:
            series.append((label, colour, list(candidate.baselines[name].per_fold_ndcg)))
    groups = [f"fold {i}" for i in range(1, candidate.n_folds + 1)] + ["mean"]
    values = [[*v, sum(v) / len(v) if v else 0.0] for _, _, v in series]
    width, height = 760, 340
    left, right, top_margin, bottom = 64, 12, 44, 58
    plot_w, plot_h = width - left - right, height - top_margin - bottom
    top = _axis_top(max((max(v) for v in values if v), default=0.1))

    def y_of(value: float) -> float:
        return top_margin + plot_h * (1 - value / top)

    body = [f'<rect width="{width}" height="{height}" fill="#fff"/>']
    for tick in _ticks(top):
        y = y_of(tick)
        body.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e3e3"/>'
        )
        body.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:.2f}</text>')
    group_w = plot_w / len(groups)
    bar_w = min(26.0, (group_w - 14) / len(series))
    for g, group in enumerate(groups):
        start = left + g * group_w + (group_w - bar_w * len(series)) / 2
        for s, (name, colour, _) in enumerate(series):
            if g >= len(values[s]):
                continue
            value = values[s][g]
            x, y = start + s * bar_w, y_of(value)
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}" '
                f'height="{top_margin + plot_h - y:.1f}" fill="{colour}">'
                f"<title>{escape(name)}, {escape(group)}: {value:.4f}</title></rect>"
            )
            cx = x + (bar_w - 2) / 2
            body.append(
                f'<text x="{cx:.1f}" y="{y - 4:.1f}" font-size="10" '
                f'transform="rotate(-90 {cx:.1f} {y - 4:.1f})" dominant-baseline="middle">'
                f"{value:.3f}</text>"
            )
        body.append(
            f'<text x="{left + (g + 0.5) * group_w:.1f}" y="{top_margin + plot_h + 18}" '
            f'text-anchor="middle">{escape(group)}</text>'
        )
    body.append(
        f'<line x1="{left}" x2="{width - right}" y1="{top_margin + plot_h}" '
        f'y2="{top_margin + plot_h}" stroke="#333"/>'
    )
    body.append(
        f'<text x="{left + plot_w / 2:.0f}" y="{height - 10}" text-anchor="middle">'
        f"evaluation fold ({candidate.n_folds} folds of held-out raters; mean of the folds)"
        "</text>"
    )
    body.append(
        f'<text x="16" y="{top_margin + plot_h / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 16 {top_margin + plot_h / 2:.0f})">'
        f"NDCG@{k} (0 to 1, higher is better)</text>"
    )
    body += _legend([(name, colour) for name, colour, _ in series], x=left, y=20)
    return _svg(width, height, f"NDCG@{k} per evaluation fold", body)


def segment_chart_svg(
    candidate: EvaluationReport,
    *,
    champion: EvaluationReport | None = None,
    min_raters: int = MIN_SEGMENT_RATERS,
) -> str:
    """Horizontal bars: NDCG@k per rater segment (gender, age bucket, occupation) for the
    candidate beside the champion, with the held-out rater count of each segment; segments
    under ``min_raters`` raters are greyed out."""
    k = candidate.k
    segments = _ordered_segments(
        set(candidate.segment_ndcg) | set(champion.segment_ndcg if champion else ())
    )
    series = [("candidate", CANDIDATE_COLOUR, candidate.segment_ndcg)]
    if champion is not None:
        series.append(("champion", CHAMPION_COLOUR, champion.segment_ndcg))
    bar_h = 10
    row_h = bar_h * len(series) + 8
    heading_h = 22
    label_w, count_w, right = 150, 92, 60
    width = 760
    plot_w = width - label_w - count_w - right
    top_margin = 44
    highest = max((v for _, _, figures in series for v in figures.values()), default=0.1)
    top = _axis_top(highest)
    rows: list[tuple[str, str | None]] = []  # (kind, segment) with a heading before each kind
    for segment in segments:
        kind = segment.split(":", 1)[0]
        if not rows or rows[-1][0] != kind:
            rows.append((kind, None))
        rows.append((kind, segment))
    plot_h = sum(heading_h if segment is None else row_h for _, segment in rows)
    height = top_margin + plot_h + 56
    x0 = label_w + count_w

    def x_of(value: float) -> float:
        return x0 + plot_w * value / top

    body = [f'<rect width="{width}" height="{height}" fill="#fff"/>']
    for tick in _ticks(top):
        x = x_of(tick)
        body.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top_margin}" y2="{top_margin + plot_h}" '
            f'stroke="#e3e3e3"/>'
        )
        body.append(
            f'<text x="{x:.1f}" y="{top_margin + plot_h + 16}" text-anchor="middle">'
            f"{tick:.2f}</text>"
        )
    y = float(top_margin)
    for kind, row_segment in rows:
        if row_segment is None:
            body.append(
                f'<text x="4" y="{y + 16:.1f}" font-weight="bold">{escape(kind.title())}</text>'
            )
            y += heading_h
            continue
        segment = row_segment
        name = segment.split(":", 1)[1]
        raters = candidate.segment_raters.get(segment)
        faded = raters is not None and raters < min_raters
        text_colour = FADED_TEXT if faded else "#222"
        middle = y + row_h / 2 + 4
        body.append(
            f'<text x="16" y="{middle:.1f}" fill="{text_colour}">{escape(_segment_label(segment))}'
            "</text>"
        )
        count = "n = ?" if raters is None else f"n = {raters:,}"
        body.append(
            f'<text x="{x0 - 10}" y="{middle:.1f}" text-anchor="end" fill="{text_colour}">'
            f"{count}</text>"
        )
        for s, (series_name, colour, figures) in enumerate(series):
            value = figures.get(segment)
            bar_y = y + 4 + s * bar_h
            if value is None:
                continue
            fill = FADED_COLOUR if faded else colour
            body.append(
                f'<rect x="{x0}" y="{bar_y:.1f}" width="{x_of(value) - x0:.1f}" '
                f'height="{bar_h - 1}" fill="{fill}"><title>{escape(series_name)}, '
                f"{escape(name)}: {value:.4f}"
                f"{' (under ' + str(min_raters) + ' raters)' if faded else ''}</title></rect>"
            )
            body.append(
                f'<text x="{x_of(value) + 4:.1f}" y="{bar_y + bar_h - 1:.1f}" font-size="10" '
                f'fill="{text_colour}">{value:.3f}</text>'
            )
        y += row_h
    body.append(
        f'<line x1="{x0}" x2="{x0}" y1="{top_margin}" y2="{top_margin + plot_h}" stroke="#333"/>'
    )
    body.append(
        f'<text x="{x0 + plot_w / 2:.0f}" y="{top_margin + plot_h + 36}" text-anchor="middle">'
        f"NDCG@{k} of the held-out raters in the segment (0 to 1, higher is better)</text>"
    )
    body += _legend([(name, colour) for name, colour, _ in series], x=x0, y=20)
    body.append(
        f'<text x="{width - 8}" y="20" text-anchor="end" fill="{FADED_TEXT}">'
        f"grey: under {min_raters} raters, too few to read</text>"
    )
    return _svg(width, height, f"NDCG@{k} by rater segment", body)


def _segment_label(segment: str) -> str:
    kind, name = segment.split(":", 1)
    if kind == "gender":
        return {"F": "female", "M": "male", "O": "other"}.get(name, name)
    return name


# ------------------------------------------------------------------------------------ HTML

REPORT_CSS = """
.mr-report { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial,
  sans-serif; color: #222; max-width: 780px; }
.mr-report h2 { font-size: 18px; margin: 20px 0 8px; padding: 0; background: none;
  color: #222; text-transform: none; letter-spacing: 0; font-weight: 600; }
.mr-report table { border-collapse: collapse; margin: 6px 0 14px; }
.mr-report th, .mr-report td { padding: 4px 10px; border-bottom: 1px solid #ddd;
  text-align: right; font-variant-numeric: tabular-nums; }
.mr-report th:first-child, .mr-report td:first-child { text-align: left; }
.mr-report thead th { border-bottom: 2px solid #888; font-weight: 600; }
.mr-report .facts th { text-align: left; font-weight: normal; color: #555; }
.mr-report .facts td { text-align: left; }
.mr-report .verdict { font-size: 16px; font-weight: 600; margin: 4px 0; }
.mr-report .passed { color: #116329; }
.mr-report .refused { color: #b0161b; }
.mr-report .unknown { color: #555; }
.mr-report ul.reasons { margin: 4px 0 10px 20px; padding: 0; }
.mr-report ul.reasons li { list-style: disc; margin: 2px 0; padding: 0; }
.mr-report figure { margin: 8px 0 18px; break-inside: avoid; page-break-inside: avoid; }
.mr-report figcaption { color: #555; font-size: 13px; margin-top: 4px; }
.mr-report .note { color: #555; font-size: 13px; }
@media print { .mr-report { max-width: none; } .mr-report h2 { break-after: avoid; } }
"""


def gate_html(gate: dict[str, Any]) -> str:
    """The gate's verdict and each of its reasons, as a list."""
    if not gate:
        return '<p class="verdict unknown">The gate has not judged this version.</p>'
    passed = bool(gate.get("passed"))
    verdict = (
        '<p class="verdict passed">✓ Passed the gate</p>'
        if passed
        else '<p class="verdict refused">✗ Refused by the gate</p>'
    )
    reasons = "".join(f"<li>{escape(str(reason))}</li>" for reason in gate.get("reasons", []))
    rules = []
    if gate.get("margin") is not None:
        rules.append(f"margin over like-popularity {float(gate['margin']):.4f}")
    if gate.get("tolerance") is not None:
        rules.append(f"tolerance below the champion {float(gate['tolerance']):.4f}")
    champion = gate.get("champion_version")
    rules.append(f"compared with v{champion}" if champion else "no champion at the time")
    return (
        verdict
        + (f'<ul class="reasons">{reasons}</ul>' if reasons else "")
        + f'<p class="note">{escape("; ".join(rules))}.</p>'
    )


def comparison_html(columns: list[Column], k: int) -> str:
    head = "".join(f"<th>{escape(column.name)}</th>" for column in columns)
    body = []
    for label, key, fmt in metric_rows(k):
        cells = "".join(f"<td>{_format(column.figures.get(key), fmt)}</td>" for column in columns)
        body.append(f"<tr><td>{escape(label)}</td>{cells}</tr>")
    return (
        f'<table class="comparison"><thead><tr><th>metric</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
        f'<p class="note">NDCG@{k} and P@{k}: mean over held-out raters of each fold, then over '
        "folds. Coverage: share of the catalogue that appears in some list. Personalization: "
        "mean Jaccard distance between the lists of two profiles (0: everyone gets the same "
        "list). The committed column is recommender/baseline.json.</p>"
    )


def report_fragment(
    candidate: EvaluationReport,
    *,
    gate: dict[str, Any],
    champion: EvaluationReport | None = None,
    champion_name: str = "champion",
    reference: dict[str, Any] | None = None,
    facts: Sequence[tuple[str, str]] = (),
) -> str:
    """The report as an HTML fragment (its own <style> included) for a page or a document."""
    k = candidate.k
    columns = comparison_columns(
        candidate, champion=champion, reference=reference, champion_name=champion_name
    )
    facts_html = "".join(
        f"<tr><th>{escape(name)}</th><td>{escape(value)}</td></tr>" for name, value in facts
    )
    parts = [
        f"<style>{REPORT_CSS}</style>",
        '<div class="mr-report">',
        "<h2>Gate</h2>",
        gate_html(gate),
    ]
    if facts_html:
        parts.append(f'<table class="facts">{facts_html}</table>')
    parts += [
        "<h2>Candidate against the champion and the baselines</h2>",
        comparison_html(columns, k),
        f"<h2>NDCG@{k} per fold</h2>",
        f"<figure>{fold_chart_svg(candidate, champion=champion)}"
        "<figcaption>Each fold trains on the other folds' raters and ranks the whole catalogue "
        "for its held-out raters, known only by age, gender and occupation. The baselines "
        "recommend the most-liked and the most-rated movies of the same training folds."
        "</figcaption></figure>",
        f"<h2>NDCG@{k} by rater segment</h2>",
        f"<figure>{segment_chart_svg(candidate, champion=champion)}"
        f"<figcaption>n: held-out raters in the segment. Segments under {MIN_SEGMENT_RATERS} "
        "raters are grey: their figure rests on too few people to compare.</figcaption>"
        "</figure>",
        "</div>",
    ]
    return "".join(parts)


def report_document(title: str, fragment: str) -> str:
    """One self-contained HTML file: no scripts, no stylesheets or fonts from elsewhere."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>"
        "<style>body { margin: 24px; background: #fff; } "
        "h1 { font: 600 22px system-ui, sans-serif; margin: 0 0 8px; }</style>"
        f"</head><body><h1>{escape(title)}</h1>{fragment}</body></html>\n"
    )


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
