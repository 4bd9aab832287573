"""The ml-100k parser on hand-written files (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from catalog.movielens import (
    MovieLensFormatError,
    item_encoding,
    parse_dataset,
    parse_genres,
    parse_movies,
    parse_raters,
    parse_ratings,
)


@pytest.fixture
def tiny(movielens_tiny: Path):
    return parse_dataset(lambda name: (movielens_tiny / name).read_bytes())


def test_tiny_data_set_parses_to_its_documented_counts(tiny) -> None:
    assert (len(tiny.genres), len(tiny.movies), len(tiny.raters), len(tiny.ratings)) == (
        6,
        10,
        8,
        30,
    )
    assert [genre.name for genre in tiny.genres] == [
        "unknown",
        "Action",
        "Comedy",
        "Drama",
        "Romance",
        "Thriller",
    ]
    assert [genre.ml_id for genre in tiny.genres] == [0, 1, 2, 3, 4, 5]


def test_latin1_titles_arrive_intact(tiny) -> None:
    titles = {movie.ml_id: movie.title for movie in tiny.movies}
    assert titles[2] == "Café Lumière, La (1996)"
    assert titles[7] == "Señor Nobody (1993)"
    # Round-trips as UTF-8 (what the database and the API speak).
    assert titles[2].encode("utf-8").decode("utf-8") == "Café Lumière, La (1996)"


def test_unknown_movie_has_no_dates_and_the_unknown_genre(tiny) -> None:
    unknown = next(movie for movie in tiny.movies if movie.ml_id == 3)
    assert unknown.title == "unknown"
    assert unknown.release_date is None
    assert unknown.video_release_date is None
    assert unknown.imdb_url == ""
    assert unknown.genre_ids == (0,)


def test_duplicate_titles_stay_two_movies(tiny) -> None:
    twins = [movie for movie in tiny.movies if movie.title == "Twin Peaks Road (1995)"]
    assert [movie.ml_id for movie in twins] == [4, 5]
    assert twins[0].release_date == date(1995, 1, 1)
    assert twins[1].release_date == date(1996, 3, 9)
    assert twins[0].genre_ids == (1, 5)
    assert twins[1].genre_ids == (1,)


def test_stray_spaces_are_trimmed(tiny) -> None:
    rocket = next(movie for movie in tiny.movies if movie.ml_id == 6)
    assert rocket.title == "Rocket Garden (1997)"
    assert rocket.video_release_date is None
    assert rocket.imdb_url == "http://example.org/title?Rocket%20Garden"
    rater = next(rater for rater in tiny.raters if rater.ml_id == 5)
    assert (rater.gender, rater.occupation, rater.zip_code) == ("M", "engineer", "02139")


def test_dates_and_timestamps_are_typed(tiny) -> None:
    orchard = next(movie for movie in tiny.movies if movie.ml_id == 8)
    assert orchard.release_date == date(1992, 1, 1)
    assert orchard.video_release_date == date(1993, 6, 15)
    first = tiny.ratings[0]
    assert (first.rater_id, first.movie_id, first.rating, first.timestamp) == (1, 1, 4, 881250000)
    assert first.rated_at == datetime(1997, 12, 4, 15, 40, tzinfo=UTC)


def test_rater_fields_keep_letters_in_zip_codes(tiny) -> None:
    assert tiny.raters[3] == (4, 31, "F", "artist", "T8H1N")


def test_windows_line_endings_are_accepted() -> None:
    rows = parse_raters(b"1|24|M|technician|85711\r\n2|53|F|other|94043\r\n")
    assert [row.zip_code for row in rows] == ["85711", "94043"]


GENRES = b"unknown|0\nAction|1\n"
MOVIE = "1|A Film (1995)|01-Jan-1995||http://example.org/a|0|1"


@pytest.mark.parametrize(
    ("data", "line", "problem"),
    [
        (b"unknown|0\nAction\n", 2, "expected 2 fields separated by '|', found 1"),
        (b"unknown|0\nAction|x\n", 2, "genre id must be a whole number, not 'x'"),
        (b"unknown|0\nAction|0\n", 2, "genre id 0 already on line 1"),
        (b"unknown|0\nunknown|1\n", 2, "genre name 'unknown' already on line 1"),
        (b"unknown|0\n|1\n", 2, "genre name is empty"),
    ],
)
def test_bad_genre_lines_name_the_line(data: bytes, line: int, problem: str) -> None:
    with pytest.raises(MovieLensFormatError) as caught:
        parse_genres(data, file="u.genre")
    assert (caught.value.file, caught.value.line) == ("u.genre", line)
    assert str(caught.value) == f"u.genre, line {line}: {problem}"


def test_genre_ids_must_be_positions_because_item_flags_are() -> None:
    with pytest.raises(MovieLensFormatError, match=r"^u\.genre: genre ids must be 0\.\.1 "):
        parse_genres(b"unknown|0\nAction|2\n")


def test_an_empty_genre_file_is_refused() -> None:
    with pytest.raises(MovieLensFormatError, match=r"^u\.genre: no genres$"):
        parse_genres(b"\n\n")


@pytest.mark.parametrize(
    ("second_line", "problem"),
    [
        ("2|B Film (1995)|01-Jan-1995||http://example.org/b|0", "expected 7 fields"),
        ("2|B Film (1995)|01-Jan-1995||http://example.org/b|0|1|0", "expected 7 fields"),
        ("x2|B Film (1995)|01-Jan-1995||http://example.org/b|0|1", "movie id must be a whole"),
        ("0|B Film (1995)|01-Jan-1995||http://example.org/b|0|1", "movie id must be at least 1"),
        ("1|B Film (1995)|01-Jan-1995||http://example.org/b|0|1", "movie id 1 already on line 1"),
        ("2||01-Jan-1995||http://example.org/b|0|1", "title is empty"),
        ("2|B Film (1995)|1995-01-01||http://example.org/b|0|1", "must look like 01-Jan-1995"),
        ("2|B Film (1995)|31-Feb-1995||http://example.org/b|0|1", "'31-Feb-1995' is not a real"),
        ("2|B Film (1995)|01-Jan-1995|01-Foo-1995|http://example.org/b|0|1", "video release"),
        ("2|B Film (1995)|01-Jan-1995||http://example.org/b|0|2", "genre flags must be 0 or 1"),
        (f"2|{'x' * 256}|01-Jan-1995||http://example.org/b|0|1", "longer than 255"),
    ],
)
def test_bad_item_lines_name_the_line(second_line: str, problem: str) -> None:
    data = f"{MOVIE}\n{second_line}\n".encode("latin-1")
    with pytest.raises(MovieLensFormatError) as caught:
        parse_movies(data, genre_count=2, file="ml/u.item")
    assert (caught.value.file, caught.value.line) == ("ml/u.item", 2)
    assert str(caught.value).startswith("ml/u.item, line 2: ")
    assert problem in str(caught.value)


def test_item_is_decoded_as_latin1_not_utf8() -> None:
    # "é" is one byte (0xE9) in Latin-1 and invalid on its own in UTF-8.
    rows = parse_movies("1|Été (1995)||||0|1\n".encode("latin-1"), genre_count=2)
    assert rows[0].title == "Été (1995)"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
def test_if_item_was_resaved_as_utf8_then_titles_are_decoded_as_utf8(encoding: str) -> None:
    text = "1|Misérables, Les (1995)||||0|1\n2|Çà et là (1996)||||1|0\n"
    rows = parse_movies(text.encode(encoding), genre_count=2)
    assert [row.title for row in rows] == ["Misérables, Les (1995)", "Çà et là (1996)"]


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (b"1|A (1995)||||0|1\n", "latin-1"),  # plain ASCII: either reads it the same
        ("1|Été||||0|1\n".encode("latin-1"), "latin-1"),
        ("1|Été||||0|1\n".encode(), "utf-8"),
        ("1|Été||||0|1\n".encode("utf-8-sig"), "utf-8-sig"),
        # Valid UTF-8 and Latin-1 mixed in one file is not valid UTF-8: read as published.
        ("1|Été||||0|1\n".encode() + "2|Été||||0|1\n".encode("latin-1"), "latin-1"),
    ],
)
def test_item_encoding_is_recognised(data: bytes, encoding: str) -> None:
    assert item_encoding(data) == encoding


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("2|53|F|other", "expected 5 fields separated by '|', found 4"),
        ("2|fifty|F|other|94043", "age must be a whole number, not 'fifty'"),
        ("2|0|F|other|94043", "age must be at least 1, not 0"),
        ("2|200|F|other|94043", "age 200 is not plausible"),
        ("2|53|X|other|94043", "gender must be M, F or O, not 'X'"),
        ("2|53|F|astronaut|94043", "unknown occupation 'astronaut'"),
        ("2|53|F|other|123456789012", "zip code is longer than 10 characters"),
        ("1|53|F|other|94043", "user id 1 already on line 1"),
    ],
)
def test_bad_user_lines_name_the_line(line: str, problem: str) -> None:
    data = f"1|24|M|technician|85711\n{line}\n".encode()
    with pytest.raises(MovieLensFormatError) as caught:
        parse_raters(data)
    assert str(caught.value) == f"u.user, line 2: {problem}"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("1\t2\t3", "expected 4 fields separated by '\\t', found 3"),
        ("1|2|3|881250949", "expected 4 fields separated by '\\t', found 1"),
        ("one\t2\t3\t881250949", "user id must be a whole number, not 'one'"),
        ("1\t2\t6\t881250949", "rating 6 is outside 1-5"),
        ("1\t2\t0\t881250949", "rating 0 is outside 1-5"),
        ("1\t2\t-1\t881250949", "rating must be a whole number, not '-1'"),
        ("1\t2\t3.5\t881250949", "rating must be a whole number, not '3.5'"),
        ("1\t2\t3\t99999999999999", "timestamp 99999999999999 is out of range"),
        ("1\t1\t3\t881250949", "rating of user/item (1, 1) already on line 1"),
        ("9\t1\t3\t881250949", "user 9 is not in u.user"),
        ("1\t9\t3\t881250949", "item 9 is not in u.item"),
    ],
)
def test_bad_data_lines_name_the_line(line: str, problem: str) -> None:
    data = f"1\t1\t5\t881250949\n{line}\n".encode()
    with pytest.raises(MovieLensFormatError) as caught:
        parse_ratings(data, rater_ids={1, 2}, movie_ids={1, 2})
    assert str(caught.value) == f"u.data, line 2: {problem}"


def test_dataset_errors_use_the_given_file_names(movielens_tiny: Path) -> None:
    files = {name: (movielens_tiny / name).read_bytes() for name in ("u.genre", "u.item", "u.user")}
    files["u.data"] = b"1\t1\t5\t881250949\n\n1\t999\t5\t881250949\n"
    with pytest.raises(MovieLensFormatError) as caught:
        parse_dataset(files.__getitem__, name=lambda file: f"/data/ml-100k/{file}")
    # Line 3: the blank line 2 is skipped but still counted, as an editor counts it.
    assert str(caught.value) == "/data/ml-100k/u.data, line 3: item 999 is not in u.item"
