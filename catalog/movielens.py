"""catalog: the ml-100k parser (Django-free). Bytes of u.genre/u.item/u.user/u.data -> typed rows.

Everything is checked here, before anything is written: column counts, numbers, dates, the
1-5 rating range, duplicate ids, and that every rating names a known movie and rater. Each
failure is a `MovieLensFormatError` naming the file and line, so an operator can open the file
at the right place.

Decoding: u.item is Latin-1 (titles such as "Misérables, Les (1995)"); the other files are
ASCII, read as Latin-1 too so that a stray byte is reported as a bad value rather than a
decoding crash. A u.item re-saved as UTF-8 (by an editor, a spreadsheet) is recognised and
decoded as UTF-8 (`item_encoding`), instead of turning its accented titles into mojibake.
Stray spaces around fields are trimmed; blank lines are skipped.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import NamedTuple

GENRE_FILE = "u.genre"
MOVIE_FILE = "u.item"
RATER_FILE = "u.user"
RATING_FILE = "u.data"
FILES = (GENRE_FILE, MOVIE_FILE, RATER_FILE, RATING_FILE)

ENCODING = "latin-1"
GENDERS = ("M", "F", "O")
OCCUPATIONS = (
    "administrator",
    "artist",
    "doctor",
    "educator",
    "engineer",
    "entertainment",
    "executive",
    "healthcare",
    "homemaker",
    "lawyer",
    "librarian",
    "marketing",
    "none",
    "other",
    "programmer",
    "retired",
    "salesman",
    "scientist",
    "student",
    "technician",
    "writer",
)
MOVIE_FIXED_FIELDS = 5  # id | title | release date | video release date | IMDb URL, then flags
MAX_TITLE_LENGTH = 255
MAX_URL_LENGTH = 500
MAX_ZIP_LENGTH = 10
MAX_GENRE_NAME_LENGTH = 64
MAX_TIMESTAMP = 253_402_300_799  # 9999-12-31T23:59:59Z, the last instant a DateTimeField holds
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}


class MovieLensFormatError(ValueError):
    """The data set is not in ml-100k format; ``file`` and ``line`` (1-based) say where."""

    def __init__(self, file: str, line: int | None, problem: str) -> None:
        self.file = file
        self.line = line
        self.problem = problem
        where = f"{file}, line {line}" if line is not None else file
        super().__init__(f"{where}: {problem}")


class GenreRow(NamedTuple):
    ml_id: int
    name: str


class MovieRow(NamedTuple):
    ml_id: int
    title: str
    release_date: date | None
    video_release_date: date | None
    imdb_url: str
    genre_ids: tuple[int, ...]  # ml_ids of the genres flagged 1, ascending


class RaterRow(NamedTuple):
    ml_id: int
    age: int
    gender: str
    occupation: str
    zip_code: str


class RatingRow(NamedTuple):
    rater_id: int  # ml_id of the rater
    movie_id: int  # ml_id of the movie
    rating: int
    timestamp: int  # seconds since the Unix epoch, UTC

    @property
    def rated_at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp, tz=UTC)


@dataclass(frozen=True)
class MovieLensData:
    genres: list[GenreRow]
    movies: list[MovieRow]
    raters: list[RaterRow]
    ratings: list[RatingRow]


def item_encoding(data: bytes) -> str:
    """The codec of a u.item: UTF-8 if the bytes are valid UTF-8 with at least one
    multi-byte sequence (or start with a UTF-8 byte-order mark), else Latin-1.

    The two cannot be confused in practice: Latin-1 text with accented letters is almost
    never valid UTF-8 (an "é" is one byte 0xE9, which UTF-8 only allows as the lead byte
    of a three-byte sequence), while any byte string is valid Latin-1.
    """
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.isascii():
        return ENCODING
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return ENCODING
    return "utf-8"


def _lines(data: bytes, encoding: str = ENCODING) -> Iterator[tuple[int, str]]:
    """(line number, text) for every non-blank line; handles \\n and \\r\\n endings."""
    for number, line in enumerate(data.decode(encoding).split("\n"), start=1):
        if line.strip():
            yield number, line.rstrip("\r")


def _fields(file: str, number: int, line: str, sep: str, expected: int) -> list[str]:
    fields = [field.strip() for field in line.split(sep)]
    if len(fields) != expected:
        raise MovieLensFormatError(
            file, number, f"expected {expected} fields separated by {sep!r}, found {len(fields)}"
        )
    return fields


def _integer(file: str, number: int, what: str, text: str, *, minimum: int = 0) -> int:
    # int() alone would also accept "+3", "1_000" and "٣"; an id is plain ASCII digits.
    if not (text.isascii() and text.isdigit()):
        raise MovieLensFormatError(file, number, f"{what} must be a whole number, not {text!r}")
    value = int(text)
    if value < minimum:
        raise MovieLensFormatError(file, number, f"{what} must be at least {minimum}, not {value}")
    return value


def _date(file: str, number: int, what: str, text: str) -> date | None:
    """``01-Jan-1995`` -> date(1995, 1, 1); empty -> None. No strptime: %b depends on locale."""
    if not text:
        return None
    parts = text.split("-")
    month = _MONTHS.get(parts[1].lower()) if len(parts) == 3 else None
    if month is None or not (parts[0].isdigit() and parts[2].isdigit()):
        raise MovieLensFormatError(file, number, f"{what} must look like 01-Jan-1995, not {text!r}")
    try:
        return date(int(parts[2]), month, int(parts[0]))
    except ValueError:
        raise MovieLensFormatError(file, number, f"{what} {text!r} is not a real date") from None


def _too_long(file: str, number: int, what: str, text: str, limit: int) -> None:
    if len(text) > limit:
        raise MovieLensFormatError(file, number, f"{what} is longer than {limit} characters")


def _no_duplicate(file: str, number: int, what: str, key: object, seen: dict) -> None:
    if key in seen:
        raise MovieLensFormatError(file, number, f"{what} {key} already on line {seen[key]}")
    seen[key] = number


def parse_genres(data: bytes, *, file: str = GENRE_FILE) -> list[GenreRow]:
    """u.genre: ``name|id``. Ids must be 0..n-1 in some order: u.item's flags are positional."""
    rows: list[GenreRow] = []
    ids: dict[object, int] = {}
    names: dict[object, int] = {}
    for number, line in _lines(data):
        name, raw_id = _fields(file, number, line, "|", 2)
        ml_id = _integer(file, number, "genre id", raw_id)
        if not name:
            raise MovieLensFormatError(file, number, "genre name is empty")
        _too_long(file, number, "genre name", name, MAX_GENRE_NAME_LENGTH)
        _no_duplicate(file, number, "genre id", ml_id, ids)
        _no_duplicate(file, number, "genre name", repr(name), names)
        rows.append(GenreRow(ml_id, name))
    if not rows:
        raise MovieLensFormatError(file, None, "no genres")
    if sorted(row.ml_id for row in rows) != list(range(len(rows))):
        raise MovieLensFormatError(
            file, None, f"genre ids must be 0..{len(rows) - 1} (u.item's flags are by position)"
        )
    return sorted(rows)


def parse_movies(data: bytes, *, genre_count: int, file: str = MOVIE_FILE) -> list[MovieRow]:
    """u.item: ``id|title|release date|video release date|IMDb URL|flag*genre_count``.

    Latin-1 as published, or UTF-8 when the file is valid UTF-8 (`item_encoding`).
    """
    rows: list[MovieRow] = []
    ids: dict[object, int] = {}
    expected = MOVIE_FIXED_FIELDS + genre_count
    for number, line in _lines(data, item_encoding(data)):
        fields = _fields(file, number, line, "|", expected)
        ml_id = _integer(file, number, "movie id", fields[0], minimum=1)
        _no_duplicate(file, number, "movie id", ml_id, ids)
        title = fields[1]
        if not title:
            raise MovieLensFormatError(file, number, "title is empty")
        _too_long(file, number, "title", title, MAX_TITLE_LENGTH)
        _too_long(file, number, "IMDb URL", fields[4], MAX_URL_LENGTH)
        flags = fields[MOVIE_FIXED_FIELDS:]
        if any(flag not in ("0", "1") for flag in flags):
            raise MovieLensFormatError(file, number, "genre flags must be 0 or 1")
        rows.append(
            MovieRow(
                ml_id=ml_id,
                title=title,
                release_date=_date(file, number, "release date", fields[2]),
                video_release_date=_date(file, number, "video release date", fields[3]),
                imdb_url=fields[4],
                genre_ids=tuple(index for index, flag in enumerate(flags) if flag == "1"),
            )
        )
    return rows


def parse_raters(data: bytes, *, file: str = RATER_FILE) -> list[RaterRow]:
    """u.user: ``id|age|gender|occupation|zip code``."""
    rows: list[RaterRow] = []
    ids: dict[object, int] = {}
    for number, line in _lines(data):
        raw_id, raw_age, gender, occupation, zip_code = _fields(file, number, line, "|", 5)
        ml_id = _integer(file, number, "user id", raw_id, minimum=1)
        _no_duplicate(file, number, "user id", ml_id, ids)
        age = _integer(file, number, "age", raw_age, minimum=1)
        if age > 150:
            raise MovieLensFormatError(file, number, f"age {age} is not plausible")
        if gender not in GENDERS:
            raise MovieLensFormatError(file, number, f"gender must be M, F or O, not {gender!r}")
        if occupation not in OCCUPATIONS:
            raise MovieLensFormatError(file, number, f"unknown occupation {occupation!r}")
        _too_long(file, number, "zip code", zip_code, MAX_ZIP_LENGTH)
        rows.append(RaterRow(ml_id, age, gender, occupation, zip_code))
    return rows


def parse_ratings(
    data: bytes,
    *,
    file: str = RATING_FILE,
    rater_ids: Collection[int] | None = None,
    movie_ids: Collection[int] | None = None,
) -> list[RatingRow]:
    """u.data: ``user id<TAB>item id<TAB>rating<TAB>timestamp``; one rating per user and item.

    Given ``rater_ids``/``movie_ids`` (the ids of u.user and u.item), every rating must name one.
    """
    rows: list[RatingRow] = []
    pairs: dict[object, int] = {}
    for number, line in _lines(data):
        raw_rater, raw_movie, raw_rating, raw_timestamp = _fields(file, number, line, "\t", 4)
        rater_id = _integer(file, number, "user id", raw_rater, minimum=1)
        movie_id = _integer(file, number, "item id", raw_movie, minimum=1)
        rating = _integer(file, number, "rating", raw_rating)
        if not 1 <= rating <= 5:
            raise MovieLensFormatError(file, number, f"rating {rating} is outside 1-5")
        timestamp = _integer(file, number, "timestamp", raw_timestamp)
        if timestamp > MAX_TIMESTAMP:
            raise MovieLensFormatError(file, number, f"timestamp {timestamp} is out of range")
        if rater_ids is not None and rater_id not in rater_ids:
            raise MovieLensFormatError(file, number, f"user {rater_id} is not in {RATER_FILE}")
        if movie_ids is not None and movie_id not in movie_ids:
            raise MovieLensFormatError(file, number, f"item {movie_id} is not in {MOVIE_FILE}")
        _no_duplicate(file, number, "rating of user/item", (rater_id, movie_id), pairs)
        rows.append(RatingRow(rater_id, movie_id, rating, timestamp))
    return rows


def parse_dataset(
    read: Callable[[str], bytes], *, name: Callable[[str], str] = str
) -> MovieLensData:
    """Parse and cross-check the four files.

    ``read(file)`` returns the bytes of ``u.genre`` etc.; ``name(file)`` is how errors refer
    to that file (a full path, or ``archive.zip:ml-100k/u.data``).
    """
    genres = parse_genres(read(GENRE_FILE), file=name(GENRE_FILE))
    movies = parse_movies(read(MOVIE_FILE), genre_count=len(genres), file=name(MOVIE_FILE))
    raters = parse_raters(read(RATER_FILE), file=name(RATER_FILE))
    ratings = parse_ratings(
        read(RATING_FILE),
        file=name(RATING_FILE),
        rater_ids={rater.ml_id for rater in raters},
        movie_ids={movie.ml_id for movie in movies},
    )
    return MovieLensData(genres=genres, movies=movies, raters=raters, ratings=ratings)
