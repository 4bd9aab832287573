"""Pure tests of recommender.ml.scoring."""

import numpy as np
import pytest

from recommender.ml.features import encode_profile
from recommender.ml.profile import Profile
from recommender.ml.scoring import Scorer, rank_positions
from recommender.ml.training import RecommenderModel, TrainParams, train
from recommender.tests import _synthetic

WOMAN = Profile(30, "F", "engineer")
MAN = Profile(30, "M", "engineer")


def _model() -> RecommenderModel:
    return train(
        _synthetic.ratings(),
        _synthetic.raters(),
        _synthetic.movies(),
        params=TrainParams(alpha=1.0),
    )


def _catalogue_scorer() -> Scorer:
    movies = _synthetic.movies()
    return Scorer(
        _model(),
        movies["movie_id"].to_numpy(),
        movies[list(_synthetic.GENRE_NAMES)].to_numpy(),
    )


def test_if_profile_is_scored_then_top_k_follows_its_likes() -> None:
    scorer = _catalogue_scorer()
    assert scorer.top_k_ids(WOMAN, 1) == [1]
    assert scorer.top_k_ids(MAN, 1) == [2]


def test_if_catalogue_has_unseen_movies_then_they_get_genre_prior_scores() -> None:
    model = _model()
    ids = np.array([500, 2, 501, 1])
    genres = np.array(
        [[True, False, False], [True, False, False], [False, False, False], [0, 0, 1]],
        dtype=bool,
    )
    scorer = Scorer(model, ids, genres)
    assert scorer.trained.tolist() == [False, True, False, True]
    scores = scorer.scores(MAN)
    assert np.isfinite(scores).all()
    # The prior is shrunk: a new action movie ranks below the established one.
    assert scores[0] < scores[1]
    assert sorted(scorer.top_k(MAN, 10)) == [0, 1, 2, 3]


def test_if_prior_is_built_from_genres_then_action_beats_romance_for_men() -> None:
    model = _model()
    scorer = Scorer(model, np.array([700, 701]), np.array([[1, 0, 0], [0, 0, 1]], dtype=bool))
    assert scorer.top_k_ids(MAN, 1) == [700]
    assert scorer.top_k_ids(WOMAN, 1) == [701]


def test_if_scores_tie_then_lower_movie_id_comes_first() -> None:
    ids = np.array([30, 10, 20, 40])
    scores = np.array([1.0, 1.0, 2.0, 1.0])
    assert rank_positions(scores, ids, 4) == [2, 1, 0, 3]
    assert rank_positions(scores, ids, 2) == [2, 1]


def test_if_k_exceeds_catalogue_then_every_movie_is_returned_once() -> None:
    scorer = _catalogue_scorer()
    top = scorer.top_k(WOMAN, 50)
    assert sorted(top) == [0, 1, 2, 3]


def test_if_k_is_zero_then_nothing_is_returned() -> None:
    assert _catalogue_scorer().top_k(WOMAN, 0) == []


def test_if_positions_are_excluded_then_they_never_appear() -> None:
    scorer = _catalogue_scorer()
    top = scorer.top_k(WOMAN, 10, exclude_positions=[0])
    assert 0 not in top
    assert len(top) == 3


def test_if_dedupe_keys_repeat_then_only_the_best_of_each_key_is_kept() -> None:
    ids = np.array([1, 2, 3, 4])
    scores = np.array([4.0, 3.0, 2.0, 1.0])
    keys = ["Heat", "Heat", "Crash", "Ran"]
    assert rank_positions(scores, ids, 3, dedupe_keys=keys) == [0, 2, 3]
    assert rank_positions(scores, ids, 10, dedupe_keys=keys) == [0, 2, 3]


def test_if_dedupe_keys_have_the_wrong_length_then_value_error() -> None:
    with pytest.raises(ValueError, match="dedupe_keys"):
        rank_positions(np.zeros(3), np.arange(3), 2, dedupe_keys=["a"])


def test_if_genre_matrix_has_the_wrong_width_then_scorer_refuses() -> None:
    with pytest.raises(ValueError, match="catalogue_genres"):
        Scorer(_model(), np.array([1, 2]), np.zeros((2, 5), dtype=bool))


def test_if_catalogue_ids_repeat_then_scorer_refuses() -> None:
    with pytest.raises(ValueError, match="duplicates"):
        Scorer(_model(), np.array([1, 1]), np.zeros((2, 3), dtype=bool))


def test_if_many_profiles_are_scored_at_once_then_rows_match_single_scores() -> None:
    scorer = _catalogue_scorer()
    batch = scorer.scores_for_features(np.vstack([encode_profile(WOMAN), encode_profile(MAN)]))
    assert np.allclose(batch[0], scorer.scores(WOMAN))
    assert np.allclose(batch[1], scorer.scores(MAN))


def test_if_dedupe_slack_given_then_same_ranking_as_without() -> None:
    rng = np.random.default_rng(3)
    scores = rng.normal(size=300).round(1)  # rounding makes ties
    movie_ids = np.arange(1, 301)
    keys = rng.integers(0, 250, size=300)
    slack = len(keys) - len(np.unique(keys))
    for k in (1, 10, 100, 300):
        expected = rank_positions(scores, movie_ids, k, dedupe_keys=keys)
        assert (
            rank_positions(scores, movie_ids, k, dedupe_keys=keys, dedupe_slack=slack) == expected
        )
        assert len({int(keys[i]) for i in expected}) == len(expected)
