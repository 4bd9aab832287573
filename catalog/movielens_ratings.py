"""catalog: u.data into numpy columns (Django-free), for rating logs of any size.

`parse_ratings` in catalog.movielens makes one Python object per rating; at ten million
ratings that is gigabytes. This reads u.data in chunks of lines with pandas' C parser into
four integer arrays and checks them with array operations. It accepts and refuses exactly
what `catalog.movielens.parse_ratings` does, with the same messages: a chunk with anything
unusual in it (a byte other than digits, tabs and line ends, a wrong field count, an empty or
out-of-range value, an unknown rater or movie) is handed to that parser, which names the file
and line of the first problem, or, if the chunk is valid after all (stray spaces, say), gives
the rows. Duplicate (rater, movie) pairs are found over the whole file at the end.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from catalog.movielens import (
    ENCODING,
    MAX_TIMESTAMP,
    RATING_FILE,
    MovieLensFormatError,
    parse_ratings,
)

# Bytes per chunk: about 400,000 lines of u.data; bounds the temporary arrays. (pandas raises
# on a number too big for int64, which sends the chunk to the exact parser.)
CHUNK_BYTES = 8 << 20
_PLAIN = np.zeros(256, dtype=bool)
_PLAIN[[*range(ord("0"), ord("9") + 1), ord("\t"), ord("\n")]] = True


@dataclass(frozen=True)
class RatingColumns:
    """The ratings of u.data as arrays, in file order (MovieLens ids)."""

    rater_id: np.ndarray  # int64
    movie_id: np.ndarray  # int64
    rating: np.ndarray  # int8, 1-5
    timestamp: np.ndarray  # int64, seconds since the Unix epoch, UTC

    def __len__(self) -> int:
        return len(self.rater_id)


def parse_rating_columns(
    data: bytes,
    *,
    file: str = RATING_FILE,
    rater_ids: np.ndarray,
    movie_ids: np.ndarray,
) -> RatingColumns:
    """u.data as columns; every rating must name one of ``rater_ids`` and ``movie_ids``.

    Raises `MovieLensFormatError` with the file and line, as `parse_ratings` would.
    """
    known_raters = np.unique(np.asarray(rater_ids, dtype=np.int64))
    known_movies = np.unique(np.asarray(movie_ids, dtype=np.int64))
    parts: list[tuple[np.ndarray, ...]] = []
    line = 1  # number of the first line of the chunk
    for chunk in _chunks(data):
        parsed = _parse_plain(chunk, known_raters, known_movies)
        if parsed is None:
            parsed = _parse_exact(chunk, line, file, known_raters, known_movies)
        rater, movie, rating, timestamp = parsed
        parts.append((rater, movie, rating.astype(np.int8), timestamp))  # stars fit a byte
        line += chunk.count(b"\n")
    if not parts:
        parts.append(_empty())
    rater, movie, rating, timestamp = (
        np.concatenate(column) for column in zip(*parts, strict=True)
    )
    del parts
    _no_duplicates(rater, movie, data, file)
    return RatingColumns(rater, movie, rating.astype(np.int8), timestamp)


def _empty() -> tuple[np.ndarray, ...]:
    return tuple(np.zeros(0, dtype=np.int64) for _ in range(4))


def _chunks(data: bytes) -> Iterator[bytes]:
    """``data`` cut at line ends into pieces of about CHUNK_BYTES, one at a time."""
    start = 0
    while start < len(data):
        end = data.find(b"\n", min(start + CHUNK_BYTES, len(data)) - 1)
        end = len(data) if end < 0 else end + 1
        yield data[start:end]
        start = end


def _parse_plain(
    chunk: bytes, known_raters: np.ndarray, known_movies: np.ndarray
) -> tuple[np.ndarray, ...] | None:
    """(rater, movie, rating, timestamp) of a plain, valid chunk; None if anything in it
    needs the exact parser. pandas skips blank lines and raises on a line with more or fewer
    fields (fewer leave a gap that int64 cannot hold), so each row is one non-blank line."""
    if b"\r" in chunk:
        chunk = chunk.replace(b"\r\n", b"\n")  # the same number of lines
        if b"\r" in chunk:
            return None
    text = np.frombuffer(chunk, dtype=np.uint8)
    if not _PLAIN[text].all():
        return None
    if not chunk.strip():
        return _empty()
    try:
        frame = pd.read_csv(
            io.BytesIO(chunk),
            sep="\t",
            header=None,
            names=["rater", "movie", "rating", "timestamp"],
            dtype=np.int64,
            engine="c",
            skip_blank_lines=True,
        )
    except (ValueError, OverflowError, pd.errors.ParserError):
        return None  # a wrong number of fields, an empty field
    rater, movie, rating, timestamp = (frame[name].to_numpy(np.int64) for name in frame.columns)
    if (
        rater.min() < 1
        or movie.min() < 1
        or rating.min() < 1
        or rating.max() > 5
        or timestamp.max() > MAX_TIMESTAMP
        or not _all_in(rater, known_raters)
        or not _all_in(movie, known_movies)
    ):
        return None
    return rater, movie, rating, timestamp


def _parse_exact(
    chunk: bytes, line: int, file: str, known_raters: np.ndarray, known_movies: np.ndarray
) -> tuple[np.ndarray, ...]:
    """The project's line-by-line parser on one chunk: raises its error, or gives its rows.

    The chunk is preceded by blank lines so that the parser's line numbers are the file's.
    """
    rows = parse_ratings(
        b"\n" * (line - 1) + chunk,
        file=file,
        rater_ids=set(known_raters.tolist()),
        movie_ids=set(known_movies.tolist()),
    )
    if not rows:
        return _empty()
    return tuple(np.array(column, dtype=np.int64) for column in zip(*rows, strict=True))


def _all_in(values: np.ndarray, known: np.ndarray) -> bool:
    """Whether every value is one of ``known`` (sorted, unique)."""
    if not len(values):
        return True
    if not len(known):
        return False
    low, high = int(known[0]), int(known[-1])
    if high - low <= 4 * len(known) + (1 << 20):
        # Ids are nearly dense: a lookup table, no binary search per value.
        table = np.zeros(high - low + 1, dtype=bool)
        table[known - low] = True
        inside = (values >= low) & (values <= high)
        return bool(inside.all() and table[values - low].all())
    return bool(np.isin(values, known).all())


def _no_duplicates(rater: np.ndarray, movie: np.ndarray, data: bytes, file: str) -> None:
    """Raise for the first line (in file order) that repeats an earlier (rater, movie) pair."""
    if len(rater) < 2:
        return
    keys = rater * (int(movie.max()) + 1) + movie
    ordered = np.sort(keys)
    if not (ordered[1:] == ordered[:-1]).any():
        return
    del ordered
    # Only now the line of each rating: the non-blank lines, as the exact parser sees them.
    pieces = data.decode(ENCODING).split("\n")
    lines = 1 + np.flatnonzero([bool(piece.strip()) for piece in pieces])
    del pieces
    order = np.lexsort((lines, keys))
    keys, lines_sorted = keys[order], lines[order]
    repeat = np.flatnonzero(keys[1:] == keys[:-1]) + 1
    group_start = np.searchsorted(keys, keys[repeat])
    worst = int(np.argmin(lines_sorted[repeat]))
    at, first = repeat[worst], group_start[worst]
    pair = (int(rater[order[at]]), int(movie[order[at]]))
    raise MovieLensFormatError(
        file,
        int(lines_sorted[at]),
        f"rating of user/item {pair} already on line {int(lines_sorted[first])}",
    )
