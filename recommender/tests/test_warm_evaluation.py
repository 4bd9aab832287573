"""Pure tests of recommender.ml.warm_evaluation: the warm-start protocol and its gate."""

import json

import numpy as np
import pandas as pd
import pytest

from recommender.ml.evaluation import LIKE_POPULARITY, evaluate
from recommender.ml.reporting import warm_table
from recommender.ml.warm import WarmParams
from recommender.ml.warm_evaluation import (
    DEMOGRAPHIC,
    GATE_K,
    ITEM_KNN,
    MODEL,
    RANKERS,
    PairedDifference,
    WarmReport,
    evaluate_warm,
    paired_difference,
    passes_warm_gate,
)
from recommender.tests import _synthetic

PARAMS = WarmParams(neighbours=6, prior_grid=(0.3, 3.0), mix_grid=(0.5,))


@pytest.fixture(scope="module")
def report() -> WarmReport:
    return evaluate_warm(
        _synthetic.warm_ratings(),
        _synthetic.warm_raters(),
        _synthetic.warm_movies(),
        warm_params=PARAMS,
        ks=(0, 1, 3, 5),
    )


def test_if_paired_differences_are_known_then_mean_and_t_interval_are_exact() -> None:
    diff = paired_difference([0.1, 0.2, 0.3])
    # mean 0.2, sd 0.1, t(0.975, 2) = 4.302652729749464.
    half = 4.302652729749464 * 0.1 / np.sqrt(3)
    assert diff.mean == pytest.approx(0.2)
    assert (diff.low, diff.high) == pytest.approx((0.2 - half, 0.2 + half))
    assert diff.n == 3
    with pytest.raises(ValueError, match="two pairs"):
        paired_difference([0.1])


def test_if_no_likes_are_revealed_then_the_model_is_the_demographic_model(
    report: WarmReport,
) -> None:
    assert report.figures[MODEL][0] == report.figures[DEMOGRAPHIC][0]
    # ... and k = 0 is the cold-start protocol itself.
    cold = evaluate(_synthetic.warm_ratings(), _synthetic.warm_raters(), _synthetic.warm_movies())
    assert report.figures[MODEL][0].per_fold_ndcg == cold.model.per_fold_ndcg
    like_popularity = report.figures[LIKE_POPULARITY][0]
    # The two protocols sum the same per-rater gains in another order: equal to the last bits.
    assert like_popularity.per_fold_ndcg == pytest.approx(
        cold.baselines[LIKE_POPULARITY].per_fold_ndcg, rel=1e-12, abs=0
    )
    assert like_popularity.ndcg == pytest.approx(
        cold.baselines[LIKE_POPULARITY].ndcg_at_k, rel=1e-12, abs=0
    )


def test_if_taste_is_not_demographic_then_liked_movies_lift_the_model(
    report: WarmReport,
) -> None:
    for k in (1, 3):
        assert report.ndcg(k) > report.ndcg(k, DEMOGRAPHIC) + 0.1
        assert report.ndcg(k, ITEM_KNN) > report.ndcg(k, LIKE_POPULARITY)


def test_if_evaluated_then_every_ranker_has_every_k_and_raters_need_k_plus_one_likes(
    report: WarmReport,
) -> None:
    assert set(report.figures) == set(RANKERS)
    assert report.ks == (0, 1, 3, 5)
    counts = [report.figures[MODEL][k].n_raters for k in report.ks]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] == 40  # every synthetic rater likes at least one movie
    likes = _synthetic.warm_ratings().query("rating >= 4").groupby("rater_id").size()
    assert report.figures[MODEL][5].n_raters == int((likes >= 6).sum())
    assert len(report.chosen) == report.n_folds == 5
    assert all(c["prior_c"] in PARAMS.prior_grid for c in report.chosen)


def test_if_folds_hold_more_raters_than_the_cap_then_a_sample_of_each_is_ranked(
    report: WarmReport,
) -> None:
    frames = (_synthetic.warm_ratings(), _synthetic.warm_raters(), _synthetic.warm_movies())
    # 40 raters in 5 folds of 8: a cap of 8 ranks everyone, as without a cap.
    whole = WarmParams(**{**PARAMS.to_dict(), "evaluated_raters": 8})
    same = evaluate_warm(*frames, warm_params=whole, ks=(0, 1, 3, 5))
    assert same.figures == report.figures
    assert same.paired == report.paired
    capped = WarmParams(**{**PARAMS.to_dict(), "evaluated_raters": 3})
    sampled = evaluate_warm(*frames, warm_params=capped, ks=(0, 1, 3, 5))
    assert sampled.figures[MODEL][0].n_raters == 5 * 3
    # At k = 5 only the sampled raters with six likes or more are compared.
    assert all(d.n <= 3 for d in sampled.paired[DEMOGRAPHIC] + sampled.paired[ITEM_KNN])
    assert sampled.figures[MODEL][5].n_raters < report.figures[MODEL][5].n_raters
    assert sampled.params["evaluated_raters"] == 3


def test_if_feedback_people_have_large_negative_ids_then_they_train_and_are_never_ranked(
    report: WarmReport,
) -> None:
    ratings, raters = _synthetic.warm_ratings(), _synthetic.warm_raters()
    people = raters.head(6).assign(rater_id=lambda f: -5000 - f["rater_id"])
    theirs = ratings[ratings["rater_id"] <= 6].assign(rater_id=lambda f: -5000 - f["rater_id"])
    with_people = evaluate_warm(
        pd.concat([ratings, theirs], ignore_index=True),
        pd.concat([raters, people], ignore_index=True),
        _synthetic.warm_movies(),
        warm_params=PARAMS,
        ks=(0, 1, 3, 5),
        train_only=people["rater_id"].tolist(),
    )
    for k in report.ks:
        assert with_people.figures[MODEL][k].n_raters == report.figures[MODEL][k].n_raters


def test_if_report_goes_through_json_then_it_is_unchanged(report: WarmReport) -> None:
    again = WarmReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again == report


def test_if_every_fold_interval_is_above_zero_then_baselines_are_beaten(
    report: WarmReport,
) -> None:
    above = PairedDifference(mean=0.05, low=0.01, high=0.09, n=30)
    straddles = PairedDifference(mean=0.02, low=-0.01, high=0.05, n=30)
    data = report.to_dict()
    data["paired"] = {DEMOGRAPHIC: [above.to_dict()] * 5, ITEM_KNN: [above.to_dict()] * 5}
    assert WarmReport.from_dict(data).beats_baselines()
    data["paired"][ITEM_KNN][3] = straddles.to_dict()
    assert not WarmReport.from_dict(data).beats_baselines()
    data["paired"][ITEM_KNN] = [above.to_dict()] * 4  # a fold without figures
    assert not WarmReport.from_dict(data).beats_baselines()


def test_if_candidate_loses_more_than_tolerance_at_k5_then_warm_gate_refuses(
    report: WarmReport,
) -> None:
    ndcg = report.ndcg(GATE_K)
    assert passes_warm_gate(report, champion_ndcg=None, tolerance=0.005).passed
    assert passes_warm_gate(report, champion_ndcg=ndcg + 0.004, tolerance=0.005).passed
    refused = passes_warm_gate(report, champion_ndcg=ndcg + 0.006, tolerance=0.005)
    assert not refused.passed
    assert refused.reasons == [
        f"warm start: NDCG@10 at k=5 {ndcg:.4f} is below the champion's {ndcg + 0.006:.4f} "
        f"- tolerance 0.0050 = {ndcg + 0.001:.4f}"
    ]


def test_if_warm_table_is_printed_then_it_shows_every_k_and_the_baselines(
    report: WarmReport,
) -> None:
    lines = warm_table(report, champion=report).splitlines()
    assert lines[0].split() == [
        "warm", "start", "(k", "liked)", "candidate", "champion", "demographic", "item-kNN",
        "pop-likes",
    ]  # fmt: skip
    assert [line.split()[1] for line in lines[1:5]] == ["k=0", "k=1", "k=3", "k=5"]
    model, demographic = report.ndcg(5), report.ndcg(5, DEMOGRAPHIC)
    assert lines[4].split()[2:4] == [f"{model:.4f}", f"{model:.4f}"]
    assert lines[4].split()[4] == f"{demographic:.4f}"
    assert lines[-1].startswith("k=5: beats both baselines on every fold")
