"""recommender.ml.segments: counts per segment and the reason sentence (no database)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recommender.ml import artifacts
from recommender.ml.profile import Profile
from recommender.ml.segments import MIN_RATERS, SEGMENT_NAMES, describe, segment_counts
from recommender.ml.training import train, with_segments


def _frames(
    n_women: int, n_men: int, liked_by_women: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    raters = pd.DataFrame(
        [(i, 30, "F", "writer") for i in range(n_women)]
        + [(n_women + i, 60, "M", "retired") for i in range(n_men)],
        columns=["rater_id", "age", "gender", "occupation"],
    )
    rows = [(i, 1, 5 if i < liked_by_women else 2) for i in range(n_women)]
    rows += [(n_women + i, 1, 4) for i in range(n_men)] + [(0, 2, 3)]
    ratings = pd.DataFrame(rows, columns=["rater_id", "movie_id", "rating"])
    movies = pd.DataFrame({"movie_id": [1, 2], "Drama": [True, False]})
    return ratings, raters, movies


def _reason(counts: object, profile: Profile, column: int) -> str:
    return counts.reason(counts.segments_of(profile), column)  # type: ignore[attr-defined]


def test_if_counted_then_raters_and_likes_per_segment_match_the_ratings() -> None:
    ratings, raters, _ = _frames(n_women=25, n_men=5, liked_by_women=20)
    counts = segment_counts(ratings, raters, np.array([1, 2]))
    row = {name: i for i, name in enumerate(SEGMENT_NAMES)}
    assert counts.raters[row["gender=F&age=25-34"], 0] == 25
    assert counts.likes[row["gender=F&age=25-34"], 0] == 20
    assert counts.raters[row["gender=M"], 0] == 5
    assert counts.likes[row["occupation=retired"], 0] == 5
    assert counts.raters[row["all"]].tolist() == [30, 1]
    assert counts.likes[row["all"]].tolist() == [25, 0]


def test_if_segment_has_enough_raters_then_reason_uses_the_most_specific_one() -> None:
    ratings, raters, _ = _frames(n_women=25, n_men=5, liked_by_women=20)
    counts = segment_counts(ratings, raters, np.array([1, 2]))
    woman = Profile(30, "F", "writer")
    assert _reason(counts, woman, 0) == "Liked by 80% of the 25 women aged 25-34 who rated it"


def test_if_specific_segments_are_small_then_reason_falls_back_never_under_20() -> None:
    ratings, raters, _ = _frames(n_women=19, n_men=3, liked_by_women=10)
    counts = segment_counts(ratings, raters, np.array([1, 2]))
    # Women 25-34, women, age 25-34 and writers have 19 raters; everyone has 22.
    assert _reason(counts, Profile(30, "F", "writer"), 0) == (
        "Liked by 59% of the 22 people who rated it"
    )
    assert _reason(counts, Profile(60, "M", "retired"), 1) == (
        "Rated by only 1 person in the training data, too few to say who liked it; "
        "ranked by the model's estimate for this profile"
    )
    assert MIN_RATERS == 20


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("gender=F&age=25-34", "women aged 25-34"),
        ("gender=M&age=1-17", "men under 18"),
        ("gender=O&age=56-120", "people of another gender aged 56 or over"),
        ("age=50-55", "people aged 50-55"),
        ("occupation=salesman", "salespeople"),
        ("occupation=none", "people without an occupation"),
        ("occupation=engineer", "engineers"),
        ("all", "people"),
    ],
)
def test_if_segment_described_then_plain_plural_words(name: str, words: str) -> None:
    assert describe(name) == words


def test_if_model_with_segments_is_stored_then_counts_round_trip_and_old_artifacts_load() -> None:
    ratings, raters, movies = _frames(n_women=25, n_men=5, liked_by_women=20)
    model = with_segments(train(ratings, raters, movies), ratings, raters)
    blob, sha = artifacts.dumps(model, meta={})
    loaded = artifacts.loads(blob, expected_sha256=sha)
    assert loaded.segments is not None
    assert model.segments is not None
    assert loaded.segments.names == model.segments.names
    assert np.array_equal(loaded.segments.raters, model.segments.raters)
    assert np.array_equal(loaded.segments.likes, model.segments.likes)
    bare = train(ratings, raters, movies)
    old_blob, old_sha = artifacts.dumps(bare, meta={})
    assert artifacts.loads(old_blob, expected_sha256=old_sha).segments is None
