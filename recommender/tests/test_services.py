"""recommender.services: training, the gate, and recommendations (synthetic catalogue)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from catalog.models import Genre, Movie, Rating
from recommender import registry
from recommender.errors import ModelNotReady, TrainingDataMissing
from recommender.ml.profile import Profile
from recommender.models import ModelVersion
from recommender.services import model_evaluate, model_train, recommendations_for
from recommender.tests.conftest import ACTION, COMEDY, ROMANCE, TWIN

pytestmark = pytest.mark.django_db


def test_if_no_ratings_then_training_data_missing() -> None:
    with pytest.raises(TrainingDataMissing, match="ingest_movielens"):
        model_train()
    assert ModelVersion.objects.count() == 0


def test_if_trained_then_version_recorded_with_provenance_and_active(trained: ModelVersion) -> None:
    row = ModelVersion.objects.get()
    assert (row.version, row.is_active, row.seed) == (1, True, 42)
    assert row.activated_at is not None
    assert len(row.artifact_sha256) == 64
    assert row.artifact_size == len(bytes(row.artifact))
    assert len(row.data_fingerprint) == 64
    assert set(row.library_versions) == {"python", "numpy", "pandas", "scikit-learn"}
    assert set(row.metrics["baselines"]) == {"popularity_likes", "popularity_count"}
    assert row.metrics["ndcg_at_10"] > row.metrics["baselines"]["popularity_likes"]["ndcg_at_10"]
    assert row.gate["passed"] is True
    assert row.params == row.metrics["params"]


def test_if_same_seed_and_data_then_same_artifact(trained: ModelVersion) -> None:
    again = model_train(seed=42, activate=False)
    assert again.version.version == 2
    assert again.version.artifact_sha256 == trained.artifact_sha256
    assert again.version.metrics["ndcg_at_10"] == trained.metrics["ndcg_at_10"]


def test_if_gate_margin_unreachable_then_recorded_but_not_activated(
    trained: ModelVersion, settings: Any
) -> None:
    settings.RECOMMENDER_GATE_MARGIN = 1.0
    outcome = model_train(seed=42)
    assert outcome.activated is False
    assert outcome.gate["passed"] is False
    assert any("below like-popularity" in reason for reason in outcome.gate["reasons"])
    assert ModelVersion.objects.get(is_active=True).version == 1
    assert ModelVersion.objects.get(version=2).gate["passed"] is False


def test_if_worse_than_champion_beyond_tolerance_then_refused(trained: ModelVersion) -> None:
    champion_metrics = dict(trained.metrics, ndcg_at_10=0.99)
    ModelVersion.objects.filter(pk=trained.pk).update(metrics=champion_metrics)
    outcome = model_train(seed=42)
    assert outcome.activated is False
    assert outcome.gate["champion_version"] == 1
    assert any("below the champion's 0.9900" in reason for reason in outcome.gate["reasons"])
    assert registry.active_model().version == 1


def test_if_stale_and_data_unchanged_then_nothing_trained(trained: ModelVersion) -> None:
    outcome = model_train(if_stale=True)
    assert outcome.skipped is True
    assert outcome.version.pk == trained.pk
    assert ModelVersion.objects.count() == 1


def test_if_stale_and_data_changed_then_trains(trained: ModelVersion) -> None:
    Rating.objects.filter(rating=5).update(rating=4)
    outcome = model_train(if_stale=True)
    assert outcome.skipped is False
    assert outcome.version.version == 2


def test_if_committed_baseline_on_same_data_is_higher_then_refused(
    trained: ModelVersion, settings: Any, tmp_path: Any
) -> None:
    baseline = tmp_path / "baseline.json"
    baseline.write_text(
        json.dumps({"data_fingerprint": trained.data_fingerprint, "metrics": {"ndcg_at_10": 0.999}})
    )
    settings.RECOMMENDER_BASELINE_FILE = baseline
    outcome = model_train(seed=42)
    assert outcome.activated is False
    assert any("committed baseline" in reason for reason in outcome.gate["reasons"])


def test_if_committed_baseline_measured_on_other_data_then_not_compared(
    catalogue: None, settings: Any, tmp_path: Any
) -> None:
    baseline = tmp_path / "baseline.json"
    baseline.write_text('{"data_fingerprint": "other", "metrics": {"ndcg_at_10": 0.999}}')
    settings.RECOMMENDER_BASELINE_FILE = baseline
    outcome = model_train(seed=42)
    assert outcome.activated is True
    assert (
        "the committed baseline was measured on other data: not compared" in outcome.gate["reasons"]
    )


def test_if_no_active_version_then_model_not_ready(catalogue: None) -> None:
    with pytest.raises(ModelNotReady, match="No model version is active"):
        recommendations_for(profile=Profile(age=30, gender="M", occupation="engineer"), limit=5)


def test_if_man_then_action_first_and_if_woman_then_romance_first(trained: ModelVersion) -> None:
    version, men = recommendations_for(
        profile=Profile(age=30, gender="M", occupation="engineer"), limit=5
    )
    _, women = recommendations_for(
        profile=Profile(age=30, gender="F", occupation="engineer"), limit=5
    )
    assert version == 1
    assert set(men) == set(ACTION)
    assert set(women) == set(ROMANCE)


def test_if_gender_o_then_neither_mens_nor_womens_list(trained: ModelVersion) -> None:
    _, other = recommendations_for(
        profile=Profile(age=30, gender="O", occupation="engineer"), limit=5
    )
    assert set(other) & set(ACTION)
    assert set(other) & set(ROMANCE)


@pytest.mark.parametrize("age", [1, 7, 73, 120])
def test_if_age_outside_training_range_then_still_ranked(trained: ModelVersion, age: int) -> None:
    _, titles = recommendations_for(
        profile=Profile(age=age, gender="F", occupation="retired"), limit=3
    )
    assert len(titles) == 3


def test_if_duplicate_titles_then_each_title_once(trained: ModelVersion) -> None:
    _, titles = recommendations_for(
        profile=Profile(age=30, gender="M", occupation="student"), limit=100
    )
    assert len(titles) == len(set(titles))
    assert titles.count(TWIN) == 1
    # 15 movies, two share a title: 14 distinct titles is the whole catalogue.
    assert sorted(titles) == sorted({*ACTION, *ROMANCE, *COMEDY, TWIN})


def test_if_movie_added_after_training_then_scored_from_genres(trained: ModelVersion) -> None:
    movie = Movie.objects.create(ml_id=999, title="Brand New Action (1999)")
    movie.genres.add(Genre.objects.get(name="Action"))
    _, titles = recommendations_for(
        profile=Profile(age=30, gender="M", occupation="student"), limit=100
    )
    assert "Brand New Action (1999)" in titles
    assert titles.index("Brand New Action (1999)") > titles.index(ACTION[0])


def test_if_same_input_then_same_answer(trained: ModelVersion) -> None:
    profile = Profile(age=44, gender="F", occupation="writer")
    assert recommendations_for(profile=profile, limit=10) == recommendations_for(
        profile=profile, limit=10
    )


def test_model_evaluate_returns_stored_figures(trained: ModelVersion) -> None:
    evaluation = model_evaluate(version=1)
    assert evaluation["version"] == 1
    assert evaluation["evaluation"] == trained.metrics
    assert evaluation["artifact_sha256"] == trained.artifact_sha256
    assert model_evaluate()["version"] == 1
    with pytest.raises(ModelVersion.DoesNotExist):
        model_evaluate(version=7)


def test_if_limit_smaller_then_prefix_of_the_longer_list(trained: ModelVersion) -> None:
    profile = Profile(age=52, gender="M", occupation="educator")
    _, short = recommendations_for(profile=profile, limit=3)
    _, longer = recommendations_for(profile=profile, limit=12)
    assert short == longer[:3]
    assert len(longer) == 12
