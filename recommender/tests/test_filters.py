"""recommender.ml.filters and the filtered ranking of recommender.ml.scoring (no database)."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.ml.filters import (
    CHILD_EXCLUDED_GENRES,
    NO_FILTERS,
    NO_YEAR,
    CatalogueMasks,
    Filters,
    MovieIndex,
    effective_filters,
    release_year,
)
from recommender.ml.profile import Profile
from recommender.ml.scoring import rank_positions

# Five movies (ids 10..50): genres A, B, A+B, none, B; years 1990, 1991, none, 1995, 1991.
IDS = np.array([10, 20, 30, 40, 50])
FLAGS = np.array([[1, 0], [0, 1], [1, 1], [0, 0], [0, 1]], dtype=bool)
MASKS = CatalogueMasks(
    movie_ids=IDS,
    genre_flags=FLAGS,
    genre_names=("A", "B"),
    years=[1990, 1991, NO_YEAR, 1995, 1991],
)
SCORES = np.array([0.5, 0.9, 0.7, 0.1, 0.3])


def _allowed(**kwargs: object) -> list[int]:
    mask = MASKS.allowed(Filters(**kwargs))  # type: ignore[arg-type]
    assert mask is not None
    return IDS[mask].tolist()


def test_if_no_filters_then_no_mask() -> None:
    assert MASKS.allowed(NO_FILTERS) is None


@pytest.mark.parametrize(
    ("kwargs", "ids"),
    [
        ({"genres": frozenset({"A"})}, [10, 30]),
        ({"genres": frozenset({"A", "B"})}, [10, 20, 30, 50]),
        ({"exclude_genres": frozenset({"B"})}, [10, 40]),
        ({"genres": frozenset({"A"}), "exclude_genres": frozenset({"B"})}, [10]),
        ({"genres": frozenset({"Unknown to the catalogue"})}, []),
        ({"exclude_genres": frozenset({"Unknown to the catalogue"})}, [10, 20, 30, 40, 50]),
        ({"released_from": 1991}, [20, 40, 50]),
        ({"released_to": 1991}, [10, 20, 50]),
        ({"released_from": 1991, "released_to": 1991}, [20, 50]),
        ({"released_from": 1800}, [10, 20, 40, 50]),  # no date: left out by any bound
        ({"exclude": frozenset({20, 40, 999})}, [10, 30, 50]),
    ],
)
def test_if_filters_given_then_mask_allows_exactly_the_matching_movies(
    kwargs: dict[str, object], ids: list[int]
) -> None:
    assert _allowed(**kwargs) == ids


def test_if_ranked_with_mask_then_default_ranking_minus_the_masked() -> None:
    default = rank_positions(SCORES, IDS, 5)
    mask = MASKS.allowed(Filters(genres=frozenset({"B"})))
    filtered = rank_positions(SCORES, IDS, 5, allowed=mask)
    assert filtered == [p for p in default if mask is not None and mask[p]]
    assert filtered == [1, 2, 4]
    assert SCORES[0] == 0.5  # the caller's scores are untouched


def test_if_mask_allows_nothing_then_empty_and_if_k_beyond_then_what_there_is() -> None:
    assert rank_positions(SCORES, IDS, 3, allowed=np.zeros(5, dtype=bool)) == []
    assert rank_positions(SCORES, IDS, 10, allowed=np.array([1, 0, 0, 0, 1], dtype=bool)) == [0, 4]


def test_if_mask_and_dedupe_then_a_filtered_out_twin_leaves_the_other() -> None:
    keys = ["x", "y", "x", "z", "w"]  # positions 0 and 2 share a title
    mask = np.array([1, 1, 0, 1, 1], dtype=bool)
    assert rank_positions(SCORES, IDS, 5, dedupe_keys=keys) == [1, 2, 4, 3]
    assert rank_positions(SCORES, IDS, 5, dedupe_keys=keys, allowed=mask) == [1, 0, 4, 3]


def test_if_mask_has_wrong_length_then_value_error() -> None:
    with pytest.raises(ValueError, match="one flag per catalogue position"):
        rank_positions(SCORES, IDS, 3, allowed=np.ones(4, dtype=bool))


@pytest.mark.parametrize("age", [1, 7, 12])
def test_if_child_and_no_genre_options_then_childrens_genres_left_out(age: int) -> None:
    filters = effective_filters(Profile(age, "F", "student"))
    assert filters == Filters(exclude_genres=frozenset(CHILD_EXCLUDED_GENRES))
    assert set(CHILD_EXCLUDED_GENRES) == {"Horror", "Thriller", "Crime", "Film-Noir", "War"}


def test_if_child_gives_genre_options_or_is_13_then_no_childrens_default() -> None:
    child = Profile(8, "M", "student")
    assert effective_filters(child, genres=["Comedy"]) == Filters(genres=frozenset({"Comedy"}))
    assert effective_filters(child, exclude_genres=[]) == NO_FILTERS
    assert effective_filters(Profile(13, "M", "student")) == NO_FILTERS


def test_if_movies_named_then_titles_and_ids_resolve_and_unknown_ones_are_reported() -> None:
    index = MovieIndex(movie_ids=[1, 2, 3], titles=["A (1990)", "Twin", "Twin"], ml_ids=[7, 8, 9])
    assert index.resolve(["Twin", 7, "A (1990)", 9]) == ((2, 3, 1), [])
    assert index.resolve(["a (1990)", 8, 99, "Twin "]) == ((2,), ["a (1990)", 99, "Twin "])
    assert index.resolve([]) == ((), [])


@pytest.mark.parametrize(
    ("title", "dated", "year"),
    [
        ("Return of the Jedi (1983)", 1997, 1983),
        ("Nameless", 1993, 1993),
        ("Nameless", None, None),
        ("Year (1990) Inside", None, None),
        ("Trailing Space (1995) ", None, 1995),
    ],
)
def test_if_release_year_asked_then_title_year_else_date_year(
    title: str, dated: int | None, year: int | None
) -> None:
    assert release_year(title, dated) == year
