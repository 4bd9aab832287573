"""Pure tests of recommender.ml.evaluation: metrics, folds, the protocol and the gate."""

import json
import math

import numpy as np
import pytest

from recommender.ml.evaluation import (
    COUNT_POPULARITY,
    LIKE_POPULARITY,
    EvaluationReport,
    RankingMetrics,
    damped_movie_means,
    evaluate,
    jaccard_distance,
    mae,
    ndcg_at_k,
    passes_gate,
    popularity_scores,
    precision_at_k,
    rater_folds,
    rmse,
)
from recommender.ml.training import TrainParams
from recommender.tests import _synthetic


def test_if_hits_are_at_ranks_1_and_3_then_ndcg_is_hand_computed_value() -> None:
    # DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3).
    assert ndcg_at_k([1, 2, 3, 4], {1, 3}, 3) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))


def test_if_the_only_hit_is_fourth_then_ndcg_is_one_over_log2_5() -> None:
    assert ndcg_at_k([1, 2, 3, 4], {4}, 4) == pytest.approx(1 / math.log2(5))
    assert ndcg_at_k([1, 2, 3, 4], {4}, 4) == pytest.approx(0.43067655807339306)


def test_if_ranking_is_ideal_then_ndcg_is_one_even_with_more_relevant_than_k() -> None:
    assert ndcg_at_k([1, 2], set(range(1, 20)), 2) == 1.0
    assert ndcg_at_k([5, 6], {1, 2}, 2) == 0.0


@pytest.mark.parametrize("k", [1, 5, 10, 100, 150])
def test_if_discounts_are_tabled_then_ndcg_is_the_formula_to_the_last_bit(k: int) -> None:
    rng = np.random.default_rng(k)
    for _ in range(300):
        ranked = rng.permutation(200)[:k].tolist()
        relevant = set(rng.choice(200, size=int(rng.integers(1, 150)), replace=False).tolist())
        dcg = sum(1.0 / math.log2(r + 2) for r, item in enumerate(ranked) if item in relevant)
        ideal = sum(1.0 / math.log2(r + 2) for r in range(min(len(relevant), k)))
        assert ndcg_at_k(ranked, relevant, k) == dcg / ideal


def test_if_relevant_set_is_empty_then_ndcg_refuses() -> None:
    with pytest.raises(ValueError, match="empty"):
        ndcg_at_k([1], set(), 10)


def test_if_precision_is_taken_then_misses_and_gaps_count_against_k() -> None:
    assert precision_at_k([1, 2, 3, 4], {1, 3}, 4) == 0.5
    assert precision_at_k([1, 2, 3, 4], {1, 3}, 10) == 0.2
    assert precision_at_k([1, 2, 3, 4], {1, 3}, 1) == 1.0


def test_if_errors_are_known_then_rmse_and_mae_are_exact() -> None:
    assert rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(math.sqrt(4 / 3))
    assert mae([1, 2, 3], [2, 2, 5]) == 1.0


def test_if_lists_share_half_then_jaccard_distance_is_two_thirds() -> None:
    assert jaccard_distance([1, 2], [2, 3]) == pytest.approx(2 / 3)
    assert jaccard_distance([1, 2], [2, 1]) == 0.0


def test_if_folds_are_made_then_they_partition_the_raters() -> None:
    ids = np.arange(1, 944)
    folds = rater_folds(ids, n_folds=5, seed=42)
    assert [len(f) for f in folds] == [189, 189, 189, 188, 188]
    assert np.array_equal(np.sort(np.concatenate(folds)), ids)
    for fold in folds:
        assert np.array_equal(fold, np.sort(fold))


def test_if_seed_is_repeated_then_folds_are_identical_and_differ_for_another() -> None:
    ids = list(range(100, 150))
    first = rater_folds(ids, n_folds=5, seed=42)
    again = rater_folds(reversed(ids), n_folds=5, seed=42)
    other = rater_folds(ids, n_folds=5, seed=43)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def test_if_popularity_is_counted_then_likes_only_count_4_and_5() -> None:
    ratings = _synthetic.ratings()
    movie_ids = np.array([1, 2, 3, 4, 99])
    assert popularity_scores(ratings, movie_ids).tolist() == [8, 8, 8, 1, 0]
    assert popularity_scores(ratings, movie_ids, min_rating=4).tolist() == [
        4,
        4,
        0,
        1,
        0,
    ]


def test_if_movie_means_are_damped_then_they_shrink_towards_the_global_mean() -> None:
    global_mean, means = damped_movie_means(_synthetic.ratings(), damping=2.0)
    assert global_mean == pytest.approx(84 / 25)
    # Movie 4: one rating of 4, plus 2 pseudo-ratings at the global mean.
    assert means[4] == pytest.approx((4 + 2 * 84 / 25) / 3)


def test_if_protocol_runs_on_tiny_data_then_report_is_complete_and_json_ready() -> None:
    messages: list[str] = []
    report = evaluate(
        _synthetic.ratings(),
        _synthetic.raters(),
        _synthetic.movies(),
        params=TrainParams(alpha=1.0),
        n_folds=2,
        k=2,
        progress=messages.append,
    )
    assert report.k == 2
    assert report.n_raters_evaluated == 8
    assert len(report.model.per_fold_ndcg) == 2
    assert set(report.baselines) == {COUNT_POPULARITY, LIKE_POPULARITY}
    assert report.rmse is None
    assert {"gender:F", "gender:M"} <= set(report.segment_ndcg)
    assert 0.0 <= report.model.ndcg_at_k <= 1.0
    # Women and men are told apart, so the model beats one list for everyone.
    assert report.model.ndcg_at_k > report.baselines[LIKE_POPULARITY].ndcg_at_k
    assert len(messages) == 3
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ndcg_at_2"] == report.model.ndcg_at_k
    assert EvaluationReport.from_dict(data) == report


def test_if_protocol_is_repeated_then_figures_are_identical() -> None:
    def run() -> dict[str, object]:
        report = evaluate(_synthetic.ratings(), _synthetic.raters(), _synthetic.movies(), n_folds=2)
        data = report.to_dict()
        data.pop("elapsed_seconds")
        return data

    assert run() == run()


def _report(model_ndcg: float, like_ndcg: float) -> EvaluationReport:
    def metrics(ndcg: float) -> RankingMetrics:
        return RankingMetrics(
            ndcg_at_k=ndcg,
            precision_at_k=0.3,
            distinct_lists=1,
            mean_jaccard_distance=0.0,
            coverage=0.01,
            per_fold_ndcg=[ndcg],
            per_fold_precision=[0.3],
        )

    return EvaluationReport(
        k=10,
        n_folds=1,
        seed=42,
        n_raters_evaluated=100,
        model=metrics(model_ndcg),
        baselines={LIKE_POPULARITY: metrics(like_ndcg)},
        rating_baselines={},
        segment_ndcg={},
        params={},
        elapsed_seconds=1.0,
    )


def test_if_candidate_beats_baseline_and_champion_then_gate_passes() -> None:
    decision = passes_gate(_report(0.42, 0.40), champion_ndcg=0.421, margin=0.01, tolerance=0.005)
    assert decision.passed
    assert len(decision.reasons) == 2
    assert "0.4200" in decision.reasons[0]
    assert "0.4000" in decision.reasons[0]


def test_if_there_is_no_champion_then_only_the_baseline_matters() -> None:
    decision = passes_gate(_report(0.42, 0.40), champion_ndcg=None, margin=0.01, tolerance=0.0)
    assert decision.passed
    assert decision.reasons[1] == "there is no champion model to compare with"


def test_if_candidate_misses_the_baseline_margin_then_gate_refuses_with_figures() -> None:
    decision = passes_gate(_report(0.405, 0.40), champion_ndcg=None, margin=0.01, tolerance=0.0)
    assert not decision.passed
    assert decision.reasons[0] == (
        "NDCG@10 0.4050 is below like-popularity 0.4000 + margin 0.0100 = 0.4100"
    )


def test_if_candidate_is_worse_than_champion_beyond_tolerance_then_gate_refuses() -> None:
    decision = passes_gate(_report(0.42, 0.40), champion_ndcg=0.43, margin=0.0, tolerance=0.005)
    assert not decision.passed
    assert decision.reasons[1] == (
        "NDCG@10 0.4200 is below the champion's 0.4300 - tolerance 0.0050 = 0.4250"
    )
