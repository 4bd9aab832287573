"""u.data into numpy columns: the same rows and the same errors as the line-by-line parser."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from catalog import movielens_ratings
from catalog.movielens import MovieLensFormatError, parse_ratings
from catalog.movielens_ratings import parse_rating_columns

RATERS = np.arange(1, 11)
MOVIES = np.arange(1, 21)


def _both(data: bytes) -> tuple[object, object]:
    """(exact parser's answer, column parser's answer): rows as tuples, or the error text."""
    try:
        exact: object = [
            tuple(row)
            for row in parse_ratings(
                data, rater_ids=set(RATERS.tolist()), movie_ids=set(MOVIES.tolist())
            )
        ]
    except MovieLensFormatError as exc:
        exact = str(exc)
    try:
        columns = parse_rating_columns(data, rater_ids=RATERS, movie_ids=MOVIES)
        fast: object = list(
            zip(
                columns.rater_id.tolist(),
                columns.movie_id.tolist(),
                columns.rating.tolist(),
                columns.timestamp.tolist(),
                strict=True,
            )
        )
    except MovieLensFormatError as exc:
        fast = str(exc)
    return exact, fast


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    # A few lines per chunk, so that every case also crosses chunk boundaries.
    monkeypatch.setattr(movielens_ratings, "CHUNK_BYTES", 24)


def test_if_tiny_data_set_is_parsed_then_columns_equal_the_exact_parser(
    movielens_tiny: Path,
) -> None:
    data = (movielens_tiny / "u.data").read_bytes()
    exact = parse_ratings(data)
    columns = parse_rating_columns(
        data,
        rater_ids=np.array(sorted({row.rater_id for row in exact})),
        movie_ids=np.array(sorted({row.movie_id for row in exact})),
    )
    assert columns.rating.dtype == np.int8
    assert list(
        zip(
            columns.rater_id.tolist(),
            columns.movie_id.tolist(),
            columns.rating.tolist(),
            columns.timestamp.tolist(),
            strict=True,
        )
    ) == [tuple(row) for row in exact]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"1\t2\t3\t4\n 2 \t3\t4\t5\n", [(1, 2, 3, 4), (2, 3, 4, 5)]),
        (b"1\t2\t3\t4\r\n\r\n\n2\t3\t4\t5\r\n", [(1, 2, 3, 4), (2, 3, 4, 5)]),
        (b"1\t2\t3\t4\n\t\t\t\n2\t3\t4\t5", [(1, 2, 3, 4), (2, 3, 4, 5)]),
        (b"1\t2\t3\t4\n\xa0\n2\t3\t4\t5\n", [(1, 2, 3, 4), (2, 3, 4, 5)]),
        (b"", []),
        (b"1\t2\t3\t4\n2\t3\t9\t5\n", "u.data, line 2: rating 9 is outside 1-5"),
        (b"1\t2\t3\t4\n2\t+3\t4\t5\n", "u.data, line 2: item id must be a whole number, not '+3'"),
        (b"1\t2\t3\t4\n2\t3\t4\n", "u.data, line 2: expected 4 fields separated by '\\t', found 3"),
        (b"1\t2\t3\t4\n2\t\t4\t5\n", "u.data, line 2: item id must be a whole number, not ''"),
        (b"1\t2\t3\t4\n2\t30\t4\t5\n", "u.data, line 2: item 30 is not in u.item"),
        (b"1\t2\t3\t4\n11\t3\t4\t5\n", "u.data, line 2: user 11 is not in u.user"),
        (b"0\t2\t3\t4\n", "u.data, line 1: user id must be at least 1, not 0"),
        (
            b"1\t2\t3\t99999999999999999999999\n",
            "u.data, line 1: timestamp 99999999999999999999999 is out of range",
        ),
    ],
)
def test_if_data_is_odd_or_wrong_then_columns_match_the_exact_parser(
    data: bytes, expected: object
) -> None:
    exact, fast = _both(data)
    assert fast == exact == expected


def test_if_a_pair_repeats_in_another_chunk_then_the_later_line_is_named() -> None:
    lines = [f"{i % 10 + 1}\t{i // 10 + 1}\t3\t{i}\n" for i in range(150)]
    data = "".join([*lines, "\n", "1\t1\t5\t5\n", "2\t1\t5\t5\n"]).encode()
    exact, fast = _both(data)
    assert fast == exact == "u.data, line 152: rating of user/item (1, 1) already on line 1"
