"""Pure tests of recommender.ml.training on tiny synthetic data."""

import numpy as np
import pandas as pd
import pytest

from recommender.ml.features import FEATURE_NAMES, encode_profile
from recommender.ml.profile import Profile
from recommender.ml.training import RecommenderModel, TrainParams, train
from recommender.tests import _synthetic

CRISP = TrainParams(alpha=1.0)


def _model(params: TrainParams = CRISP) -> RecommenderModel:
    return train(_synthetic.ratings(), _synthetic.raters(), _synthetic.movies(), params=params)


def _scores(model: RecommenderModel, profile: Profile) -> np.ndarray:
    return encode_profile(profile) @ model.weights + model.intercept


def test_if_women_like_a_and_men_like_b_then_their_top_movie_differs() -> None:
    model = _model()
    woman = _scores(model, Profile(30, "F", "engineer"))
    man = _scores(model, Profile(30, "M", "engineer"))
    assert model.movie_ids[np.argmax(woman)] == 1
    assert model.movie_ids[np.argmax(man)] == 2


def test_if_gender_is_o_then_scores_lie_between_m_and_f() -> None:
    model = _model()
    woman, man, other = (_scores(model, Profile(30, g, "engineer")) for g in ("F", "M", "O"))
    assert not np.allclose(other, woman)
    assert not np.allclose(other, man)
    low, high = np.minimum(woman, man), np.maximum(woman, man)
    assert np.all(other >= low - 1e-12)
    assert np.all(other <= high + 1e-12)


@pytest.mark.parametrize("age", [1, 120])
def test_if_age_is_extreme_then_scores_are_finite(age: int) -> None:
    scores = _scores(_model(), Profile(age, "O", "none"))
    assert scores.shape == (4,)
    assert np.isfinite(scores).all()


def test_if_trained_twice_with_the_same_seed_then_models_are_identical() -> None:
    first, second = _model(), _model()
    assert np.array_equal(first.weights, second.weights)
    assert np.array_equal(first.intercept, second.intercept)
    assert np.array_equal(first.genre_prior_coef, second.genre_prior_coef)


def test_if_trained_then_model_holds_plain_arrays_of_consistent_shapes() -> None:
    model = _model()
    assert model.movie_ids.tolist() == [1, 2, 3, 4]
    assert model.weights.shape == (len(FEATURE_NAMES), 4)
    assert model.intercept.shape == (4,)
    assert model.genre_prior_coef.shape == (3, 1 + len(FEATURE_NAMES))
    assert model.genre_prior_bias.shape == (1 + len(FEATURE_NAMES),)
    assert model.feature_names == FEATURE_NAMES
    assert model.genre_names == _synthetic.GENRE_NAMES
    assert model.params == CRISP


def test_if_nobody_liked_a_movie_then_its_column_is_zero() -> None:
    model = _model()
    column = list(model.movie_ids).index(3)
    assert model.intercept[column] == pytest.approx(0.0)
    assert np.allclose(model.weights[:, column], 0.0)


def test_if_a_movie_has_no_ratings_then_it_is_not_a_trained_column() -> None:
    movies = pd.concat(
        [
            _synthetic.movies(),
            pd.DataFrame(
                {
                    "movie_id": [99],
                    "Action": [True],
                    "Comedy": [False],
                    "Romance": [False],
                }
            ),
        ]
    )
    model = train(_synthetic.ratings(), _synthetic.raters(), movies, params=CRISP)
    assert 99 not in model.movie_ids.tolist()


def test_if_ratings_link_nothing_then_training_refuses() -> None:
    ratings = pd.DataFrame({"rater_id": [100], "movie_id": [1], "rating": [5]})
    with pytest.raises(ValueError, match="no ratings"):
        train(ratings, _synthetic.raters(), _synthetic.movies())


@pytest.mark.parametrize(
    "overrides",
    [{"alpha": 0.0}, {"occupation_scale": -1.0}, {"unseen_prior_scale": 2.0}],
)
def test_if_params_are_out_of_range_then_value_error_names_the_param(
    overrides: dict[str, float],
) -> None:
    with pytest.raises(ValueError, match=next(iter(overrides))):
        TrainParams(**overrides)  # type: ignore[arg-type]


def test_if_params_round_trip_through_a_dict_then_they_are_equal() -> None:
    params = TrainParams(alpha=3.0, occupation_scale=0.7)
    assert TrainParams.from_dict(params.to_dict()) == params
    assert params.to_dict()["alpha"] == 3.0
