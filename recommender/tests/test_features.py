"""Pure tests of recommender.ml.features."""

import numpy as np
import pandas as pd
import pytest

from recommender.ml.features import (
    AGE_BUCKETS,
    FEATURE_NAMES,
    N_FEATURES,
    age_bucket,
    encode_profile,
    encode_profiles,
    encode_raters,
    genre_matrix,
    like_matrix,
)
from recommender.ml.profile import Profile


def _row(x: np.ndarray) -> dict[str, float]:
    return {name: float(v) for name, v in zip(FEATURE_NAMES, x, strict=True) if v}


def test_if_feature_names_are_listed_then_they_match_the_encoded_width() -> None:
    assert N_FEATURES == len(FEATURE_NAMES) == 46
    assert len(set(FEATURE_NAMES)) == N_FEATURES
    assert encode_profiles([30], ["M"], ["doctor"]).shape == (1, N_FEATURES)


def test_if_a_man_of_30_is_encoded_then_exactly_his_features_are_set() -> None:
    x = encode_profile(Profile(age=30, gender="M", occupation="doctor"))
    assert _row(x) == {
        "age:25-34": 1.0,
        "gender:M": 1.0,
        "occupation:doctor": 1.0,
        "age:25-34*gender:M": 1.0,
        "age_smooth": pytest.approx(-1 / 3),
        "age_smooth_squared": pytest.approx(1 / 9),
    }


def test_if_gender_is_o_then_gender_features_are_half_m_half_f() -> None:
    x = _row(encode_profile(Profile(age=20, gender="O", occupation="student")))
    assert x["gender:M"] == x["gender:F"] == 0.5
    assert x["age:18-24*gender:M"] == x["age:18-24*gender:F"] == 0.5


def test_if_age_is_beyond_ml100k_then_smooth_terms_are_clamped() -> None:
    young = _row(encode_profile(Profile(age=1, gender="F", occupation="none")))
    old = _row(encode_profile(Profile(age=120, gender="F", occupation="retired")))
    assert young["age:1-17"] == 1.0
    assert young["age_smooth"] == pytest.approx((7 - 35) / 15)
    assert old["age:56-120"] == 1.0
    assert old["age_smooth"] == pytest.approx((73 - 35) / 15)


def test_if_profiles_are_encoded_in_bulk_then_rows_equal_single_encoding() -> None:
    profiles = [
        Profile(1, "M", "none"),
        Profile(18, "F", "student"),
        Profile(55, "O", "lawyer"),
        Profile(120, "M", "retired"),
    ]
    bulk = encode_profiles(
        [p.age for p in profiles],
        [p.gender for p in profiles],
        [p.occupation for p in profiles],
    )
    for row, profile in zip(bulk, profiles, strict=True):
        assert np.array_equal(row, encode_profile(profile))


@pytest.mark.parametrize(
    ("ages", "genders", "occupations", "field"),
    [
        ([0], ["M"], ["doctor"], "age"),
        ([30], ["X"], ["doctor"], "gender"),
        ([30], ["M"], ["pilot"], "occupation"),
        ([30.5], ["M"], ["doctor"], "age"),
    ],
)
def test_if_bulk_input_is_invalid_then_value_error_names_the_field(
    ages: list[float], genders: list[str], occupations: list[str], field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        encode_profiles(ages, genders, occupations)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("age", "bucket"),
    [(1, "1-17"), (17, "1-17"), (18, "18-24"), (49, "45-49"), (56, "56-120")],
)
def test_if_age_is_bucketed_then_bucket_edges_are_inclusive_starts(age: int, bucket: str) -> None:
    assert age_bucket(age) == bucket
    assert bucket in AGE_BUCKETS


def test_if_ratings_are_turned_into_likes_then_only_4_and_5_count() -> None:
    ratings = pd.DataFrame(
        {
            "rater_id": [1, 1, 2, 2, 3, 9],
            "movie_id": [10, 20, 10, 30, 20, 10],
            "rating": [5, 3, 4, 1, 4, 5],
        }
    )
    y = like_matrix(ratings, np.array([1, 2, 3]), np.array([10, 20]))
    # rater 9 and movie 30 are not listed, so their ratings are ignored.
    assert y.tolist() == [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    y3 = like_matrix(ratings, np.array([1, 2, 3]), np.array([10, 20]), threshold=3)
    assert y3.tolist() == [[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]


def test_if_raters_frame_is_encoded_then_ids_keep_frame_order() -> None:
    raters = pd.DataFrame(
        {
            "rater_id": [7, 3],
            "age": [25, 60],
            "gender": ["F", "M"],
            "occupation": ["artist", "retired"],
        }
    )
    ids, x = encode_raters(raters)
    assert ids.tolist() == [7, 3]
    assert np.array_equal(x[1], encode_profile(Profile(60, "M", "retired")))


def test_if_movies_frame_has_genre_columns_then_they_become_flags() -> None:
    movies = pd.DataFrame({"movie_id": [5, 6], "Action": [True, False], "Drama": [0, 1]})
    ids, flags, names = genre_matrix(movies)
    assert ids.tolist() == [5, 6]
    assert names == ("Action", "Drama")
    assert flags.tolist() == [[True, False], [False, True]]


def test_if_movie_ids_repeat_then_genre_matrix_refuses() -> None:
    movies = pd.DataFrame({"movie_id": [5, 5], "Action": [True, False]})
    with pytest.raises(ValueError, match="duplicate"):
        genre_matrix(movies)


def test_if_a_column_is_missing_then_value_error_names_it() -> None:
    with pytest.raises(ValueError, match="rating"):
        like_matrix(
            pd.DataFrame({"rater_id": [1], "movie_id": [1]}),
            np.array([1]),
            np.array([1]),
        )
