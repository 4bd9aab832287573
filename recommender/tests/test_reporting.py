"""The evaluation report (Django-free): text table, SVG charts and HTML from known figures."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from recommender.ml import reporting
from recommender.ml.evaluation import EvaluationReport
from recommender.tests.metrics_fixture import known_metrics

SVG = "{http://www.w3.org/2000/svg}"


def _report(shift: float = 0.0) -> EvaluationReport:
    return EvaluationReport.from_dict(known_metrics(shift=shift))


def _texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    return [(element.text or "") for element in root.iter(f"{SVG}text")]


def _bars(svg: str) -> list[tuple[str, str]]:
    """(fill, tooltip) of every bar."""
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    return [
        (rect.get("fill", ""), rect.findtext(f"{SVG}title") or "")
        for rect in root.iter(f"{SVG}rect")
        if rect.find(f"{SVG}title") is not None
    ]


def test_if_report_has_folds_then_fold_chart_has_a_bar_and_label_per_fold_and_series() -> None:
    svg = reporting.fold_chart_svg(_report(), champion=_report(shift=-0.01))
    texts = _texts(svg)
    # Five folds and the mean, each with candidate, champion and the two baselines.
    assert [t for t in texts if t.startswith("fold ") or t == "mean"] == [
        "fold 1", "fold 2", "fold 3", "fold 4", "fold 5", "mean"
    ]  # fmt: skip
    assert len(_bars(svg)) == 6 * 4
    for value in ("0.410", "0.420", "0.430", "0.440", "0.450", "0.400", "0.370", "0.440"):
        assert value in texts
    assert ("#0072b2", "candidate, fold 3: 0.4300") in _bars(svg)
    assert ("#e69f00", "champion, mean: 0.4200") in _bars(svg)
    assert ("#6e6e6e", "like-popularity, fold 1: 0.4000") in _bars(svg)
    assert "NDCG@10 (0 to 1, higher is better)" in texts
    assert any(t.startswith("evaluation fold") for t in texts)
    assert [
        t for t in texts if t in ("candidate", "champion", "like-popularity", "count-popularity")
    ] == ["candidate", "champion", "like-popularity", "count-popularity"]


def test_if_segment_has_few_raters_then_it_is_greyed_with_its_count() -> None:
    svg = reporting.segment_chart_svg(_report(), champion=_report(shift=-0.02))
    texts = _texts(svg)
    assert [t for t in texts if t in ("Gender", "Age", "Occupation")] == ["Gender", "Occupation"]
    assert {"female", "male", "doctor", "n = 272", "n = 670", "n = 7"} <= set(texts)
    bars = _bars(svg)
    assert ("#0072b2", "candidate, F: 0.3696") in bars
    assert ("#e69f00", "champion, F: 0.3496") in bars
    assert ("#dddddd", "candidate, doctor: 0.3193 (under 20 raters)") in bars
    assert ("#dddddd", "champion, doctor: 0.2993 (under 20 raters)") in bars
    assert re.search(r'fill="#9a9a9a">n = 7<', svg)
    assert re.search(r'fill="#222">n = 272<', svg)
    assert "NDCG@10 of the held-out raters in the segment (0 to 1, higher is better)" in texts


def test_if_segment_counts_are_unknown_then_nothing_is_greyed() -> None:
    metrics = known_metrics()
    del metrics["segment_raters"]
    svg = reporting.segment_chart_svg(EvaluationReport.from_dict(metrics))
    assert "n = ?" in _texts(svg)
    assert all(fill == "#0072b2" for fill, _ in _bars(svg))


def test_if_champion_and_reference_given_then_table_has_every_column_and_metric() -> None:
    columns = reporting.comparison_columns(
        _report(), champion=_report(shift=-0.01), reference={"metrics": {"ndcg_at_10": 0.4253}}
    )
    html = reporting.comparison_html(columns, 10)
    head = re.findall(r"<th>([^<]*)</th>", html)
    assert head == ["metric", "candidate", "champion", "committed", "pop-likes", "pop-count"]
    rows = {
        cells[0]: cells[1:]
        for cells in (re.findall(r"<td>([^<]*)</td>", row) for row in html.split("<tr>")[2:])
    }
    assert rows == {
        "NDCG@10": ["0.4300", "0.4200", "0.4253", "0.4000", "0.3700"],
        "P@10": ["0.3959", "0.3959", "-", "0.3959", "0.3959"],
        "coverage": ["0.027", "0.027", "-", "0.007", "0.006"],
        "distinct lists": ["519", "519", "-", "5", "5"],
        "personalization": ["0.497", "0.497", "-", "0.000", "0.000"],
    }


def test_if_gate_refused_then_verdict_and_each_reason_are_listed() -> None:
    html = reporting.gate_html(
        {
            "passed": False,
            "reasons": ["NDCG@10 0.3000 is below like-popularity", "a <second> reason"],
            "champion_version": 3,
            "margin": 0.01,
            "tolerance": 0.005,
        }
    )
    assert '<p class="verdict refused">✗ Refused by the gate</p>' in html
    assert (
        '<ul class="reasons"><li>NDCG@10 0.3000 is below like-popularity</li>'
        "<li>a &lt;second&gt; reason</li></ul>"
    ) in html
    assert "compared with v3" in html
    assert reporting.gate_html({}) == (
        '<p class="verdict unknown">The gate has not judged this version.</p>'
    )


def test_if_document_is_built_then_it_is_self_contained() -> None:
    fragment = reporting.report_fragment(_report(), gate={"passed": True, "reasons": ["ok"]})
    page = reporting.report_document("v1 report", fragment)
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg ") == 2
    assert "<title>v1 report</title>" in page
    assert not any(tag in page for tag in ("<script", "<link", "src=", "@import", "url("))


def test_if_text_table_printed_then_segments_follow_gender_age_occupation_order() -> None:
    table = reporting.comparison_table(_report())
    labels = [line.split()[1] for line in table.splitlines() if line.startswith("NDCG ")]
    assert labels == ["gender:F", "gender:M", "occupation:doctor"]
