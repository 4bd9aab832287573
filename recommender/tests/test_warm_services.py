"""Warm start on the Django side: trained, stored and gated with the model (synthetic)."""

from __future__ import annotations

import dataclasses
import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from recommender import registry
from recommender.ml.filters import effective_filters
from recommender.ml.profile import Profile
from recommender.ml.warm_evaluation import GATE_K, MODEL, WarmReport
from recommender.models import ModelVersion
from recommender.services import model_train, recommendations_for, warm_report
from recommender.tests.conftest import ACTION, ROMANCE

pytestmark = pytest.mark.django_db


def _with_warm_ndcg(version: ModelVersion, value: float) -> dict[str, Any]:
    metrics = json.loads(json.dumps(version.metrics))
    metrics["warm"]["figures"][MODEL][str(GATE_K)]["ndcg_at_10"] = value
    return metrics


def test_if_trained_then_warm_start_is_evaluated_stored_and_served(trained: ModelVersion) -> None:
    report = warm_report(trained)
    assert report is not None
    assert report.ks == (0, 1, 3, 5, 10)
    assert report.figures[MODEL][0].ndcg == trained.metrics["ndcg_at_10"]
    loaded = registry.active_model()
    assert loaded.warm is not None
    assert loaded.warm.model.prior_c in loaded.warm.model.params.prior_grid


def test_if_worse_than_champion_at_k5_beyond_tolerance_then_refused(
    trained: ModelVersion,
) -> None:
    ModelVersion.objects.filter(pk=trained.pk).update(metrics=_with_warm_ndcg(trained, 0.99))
    outcome = model_train(seed=42)
    assert outcome.activated is False
    assert outcome.gate["passed"] is False
    assert any(
        reason.startswith("warm start: NDCG@10 at k=5 ")
        and "below the champion's 0.9900 - tolerance 0.0050 = 0.9850" in reason
        for reason in outcome.gate["reasons"]
    )
    assert registry.active_model().version == 1


def test_if_within_tolerance_at_k5_then_the_warm_bar_passes(trained: ModelVersion) -> None:
    report = warm_report(trained)
    assert report is not None
    champion = report.ndcg(GATE_K) + 0.004
    ModelVersion.objects.filter(pk=trained.pk).update(metrics=_with_warm_ndcg(trained, champion))
    outcome = model_train(seed=42)
    assert outcome.activated is True
    assert any(
        reason.startswith("warm start: ") and "within tolerance" in reason
        for reason in outcome.gate["reasons"]
    )


def test_if_champion_has_no_warm_figures_then_only_the_cold_bars_apply(
    trained: ModelVersion,
) -> None:
    metrics = dict(trained.metrics)
    metrics.pop("warm")
    ModelVersion.objects.filter(pk=trained.pk).update(metrics=metrics)
    outcome = model_train(seed=42)
    assert outcome.activated is True
    assert (
        "warm start: the champion has no warm-start figures: not compared"
        in outcome.gate["reasons"]
    )


def test_if_committed_warm_figure_on_same_data_is_higher_then_refused(
    trained: ModelVersion, settings: Any, tmp_path: Any
) -> None:
    baseline = tmp_path / "baseline.json"
    baseline.write_text(
        json.dumps(
            {
                "data_fingerprint": trained.data_fingerprint,
                "metrics": {"ndcg_at_10": 0.0},
                "warm": {"ndcg_at_10_k5": 0.999},
            }
        )
    )
    settings.RECOMMENDER_BASELINE_FILE = baseline
    outcome = model_train(seed=42, activate=False)
    assert outcome.gate["passed"] is False
    assert any(
        reason.startswith("warm start: NDCG@10 at k=5 ")
        and reason.endswith("is below the committed baseline's floor 0.9940")
        for reason in outcome.gate["reasons"]
    )


def test_if_report_requested_then_the_warm_table_is_printed(trained: ModelVersion) -> None:
    out = StringIO()
    call_command("train_model", "--no-activate", "--report", stdout=out, stderr=StringIO())
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("warm start (k liked)"))
    assert lines[start].split()[4:] == [
        "candidate",
        "champion",
        "demographic",
        "item-kNN",
        "pop-likes",
    ]
    assert [line.split()[1] for line in lines[start + 1 : start + 6]] == [
        "k=0",
        "k=1",
        "k=3",
        "k=5",
        "k=10",
    ]


def test_if_a_man_liked_romances_then_romances_come_first_and_not_the_liked_ones(
    trained: ModelVersion,
) -> None:
    man = Profile(age=30, gender="M", occupation="engineer")
    _, plain = recommendations_for(profile=man, limit=3)
    assert set(plain) <= set(ACTION)
    liked = registry.active_model().catalogue
    ids = [int(i) for i, t in zip(liked.movie_ids, liked.titles, strict=True) if t in ROMANCE[:3]]
    _, warm = recommendations_for(profile=man, limit=2, liked=ids)
    assert set(warm) == set(ROMANCE[3:])


def test_if_liked_is_empty_then_the_answer_is_the_demographic_one(trained: ModelVersion) -> None:
    woman = Profile(age=41, gender="F", occupation="writer")
    assert recommendations_for(profile=woman, limit=10, liked=()) == recommendations_for(
        profile=woman, limit=10
    )


def test_if_a_liked_title_exists_twice_then_neither_copy_is_recommended(
    trained: ModelVersion,
) -> None:
    catalogue = registry.active_model().catalogue
    twins = [
        int(i)
        for i, t in zip(catalogue.movie_ids, catalogue.titles, strict=True)
        if t == "Twin Title (1990)"
    ]
    assert len(twins) == 2
    _, titles = recommendations_for(
        profile=Profile(age=30, gender="M", occupation="student"), limit=100, liked=twins[:1]
    )
    assert "Twin Title (1990)" not in titles
    assert len(titles) == len(set(catalogue.titles)) - 1


def test_if_the_active_artifact_has_no_warm_model_then_liked_movies_are_only_left_out(
    trained: ModelVersion,
) -> None:
    loaded = registry.active_model()
    plain = dataclasses.replace(loaded, warm=None)
    man = Profile(age=30, gender="M", occupation="engineer")
    first = loaded.titles_for(man, 1)[0]
    liked = (int(loaded.catalogue.movie_ids[loaded.catalogue.titles.index(first)]),)
    ranked = plain.ranked(man, effective_filters(man), 4, liked=liked)
    titles = [loaded.catalogue.titles[i] for i in ranked.positions[:4]]
    assert titles == [t for t in loaded.titles_for(man, 5) if t != first][:4]


def test_warm_report_of_a_version_trained_without_one_is_none(trained: ModelVersion) -> None:
    metrics = dict(trained.metrics)
    metrics.pop("warm")
    trained.metrics = metrics
    assert warm_report(trained) is None
    assert isinstance(WarmReport.from_dict(ModelVersion.objects.get().metrics["warm"]), WarmReport)
