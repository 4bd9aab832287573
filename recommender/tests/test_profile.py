"""Pure tests of recommender.ml.profile."""

import pytest

from recommender.ml.profile import GENDERS, MAX_AGE, MIN_AGE, OCCUPATIONS, Profile


def test_if_values_are_valid_then_profile_keeps_them() -> None:
    profile = Profile(age=30, gender="F", occupation="writer")
    assert (profile.age, profile.gender, profile.occupation) == (30, "F", "writer")


def test_if_age_is_at_either_bound_then_profile_is_valid() -> None:
    assert Profile(age=MIN_AGE, gender="O", occupation="none").age == 1
    assert Profile(age=MAX_AGE, gender="M", occupation="retired").age == 120


@pytest.mark.parametrize("age", [0, 121, -5])
def test_if_age_is_out_of_range_then_value_error_names_age(age: int) -> None:
    with pytest.raises(ValueError, match="age"):
        Profile(age=age, gender="M", occupation="student")


@pytest.mark.parametrize("age", [True, 30.0, "30"])
def test_if_age_is_not_an_int_then_value_error_names_age(age: object) -> None:
    with pytest.raises(ValueError, match="age"):
        Profile(age=age, gender="M", occupation="student")  # type: ignore[arg-type]


@pytest.mark.parametrize("gender", ["m", "X", ""])
def test_if_gender_is_unknown_then_value_error_names_gender(gender: str) -> None:
    with pytest.raises(ValueError, match="gender"):
        Profile(age=30, gender=gender, occupation="student")


def test_if_occupation_is_unknown_then_value_error_names_occupation() -> None:
    with pytest.raises(ValueError, match="occupation"):
        Profile(age=30, gender="M", occupation="astronaut")


def test_if_constants_are_read_then_they_are_the_movielens_vocabulary() -> None:
    assert GENDERS == ("M", "F", "O")
    assert len(OCCUPATIONS) == 21
    assert OCCUPATIONS[0] == "administrator"
    assert OCCUPATIONS[-1] == "writer"
    assert len(set(OCCUPATIONS)) == 21


def test_if_profile_is_frozen_then_it_is_hashable_and_immutable() -> None:
    profile = Profile(age=30, gender="M", occupation="doctor")
    assert hash(profile) == hash(Profile(age=30, gender="M", occupation="doctor"))
    with pytest.raises(AttributeError):
        profile.age = 31  # type: ignore[misc]
