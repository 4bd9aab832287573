"""catalog: the rating table in bulk, as numpy columns (reads and writes for the ingest and
the recommender's training read).

Ten million ratings as Python tuples take gigabytes and minutes; as arrays they take about
200 MB. Postgres moves them with binary COPY: fixed-width big-endian rows that numpy packs
and unpacks without a Python object per row, streamed in chunks so memory stays bounded.
Other databases (SQLite) get batched executemany / fetchmany, one batch of Python objects
at a time: correct, slower. Everything goes through Django's connection, so it joins the
surrounding transaction.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from django.db import connection, models

from catalog.models import Rating

# Rows per COPY chunk or executemany/fetchmany batch.
COPY_ROWS = 1 << 20
BATCH_ROWS = 50_000
_POSTGRES_EPOCH_SECONDS = 946_684_800  # 2000-01-01T00:00:00Z, where timestamptz counts from
_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_TRAILER = (-1).to_bytes(2, "big", signed=True)
# Binary COPY representations of the column types the rating table uses.
_BINARY_TYPES = {
    "bigint": ">i8",
    "integer": ">i4",
    "smallint": ">i2",
    "timestamp with time zone": ">i8",
}

Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class StoredRatings:
    """The rating table as arrays (one entry per row, in no particular order)."""

    pk: np.ndarray  # int64
    rater_pk: np.ndarray  # int64
    movie_pk: np.ndarray  # int64
    rating: np.ndarray  # int64
    rated_at_us: np.ndarray  # int64, microseconds since the Unix epoch

    def __len__(self) -> int:
        return len(self.pk)


def _table() -> str:
    return connection.ops.quote_name(Rating._meta.db_table)


def _column(name: str) -> str:
    field = Rating._meta.get_field(name)
    assert isinstance(field, models.Field)  # noqa: S101 (a concrete column, not a relation)
    return connection.ops.quote_name(str(field.column))


def read_ratings(*, with_times: bool = True) -> StoredRatings:
    """Every stored rating. ``with_times=False`` leaves ``pk`` and ``rated_at_us`` empty
    (what training needs is who rated what how, and it is read faster)."""
    names = ["rater", "movie", "rating"]
    if with_times:
        names = ["id", *names, "rated_at"]
    read = _read_postgres if connection.vendor == "postgresql" else _read_batched
    columns = read(names)
    if not with_times:
        empty = np.zeros(0, dtype=np.int64)
        return StoredRatings(empty, columns[0], columns[1], columns[2], empty)
    return StoredRatings(*columns[:5])


def _read_postgres(names: Sequence[str]) -> list[np.ndarray]:
    # Cast to fixed types so that the binary layout is known whatever the column types are.
    casts = {"id": "int8", "rater": "int8", "movie": "int8", "rating": "int2"}
    selected = []
    fields: list[tuple[str, str]] = [("count", ">i2")]
    for index, name in enumerate(names):
        if name == "rated_at":
            selected.append(_column(name))
            kind = ">i8"
        else:
            selected.append(f"{_column(name)}::{casts[name]}")
            kind = ">i8" if casts[name] == "int8" else ">i2"
        fields += [(f"length{index}", ">i4"), (f"value{index}", kind)]
    row = np.dtype(fields)
    query = f"COPY (SELECT {', '.join(selected)} FROM {_table()}) TO STDOUT (FORMAT binary)"  # noqa: S608
    # psycopg2 hands COPY output over one row at a time: into a buffered file, that is a C
    # call per row (a Python write() per row would cost seconds per million). The file is
    # then read back in chunks of whole rows.
    with tempfile.TemporaryFile() as spool:
        with connection.cursor() as cursor, connection.wrap_database_errors:
            cursor.cursor.copy_expert(query, spool, size=1 << 20)
        size = spool.tell()
        spool.seek(0)
        if spool.read(len(_HEADER))[:11] != _HEADER[:11]:
            raise ValueError("not a binary COPY stream")
        n_rows, rest = divmod(size - len(_HEADER) - len(_TRAILER), row.itemsize)
        if rest:
            raise ValueError("binary COPY stream ended mid-row")
        # Every row has the same width: the columns are allocated once and filled in blocks.
        columns = [np.empty(n_rows, dtype=np.int64) for _ in names]
        for start in range(0, n_rows, COPY_ROWS):
            count = min(COPY_ROWS, n_rows - start)
            block = np.frombuffer(spool.read(count * row.itemsize), dtype=row)
            for index, column in enumerate(columns):
                column[start : start + count] = block[f"value{index}"]
        if spool.read() != _TRAILER:
            raise ValueError("binary COPY stream ended mid-row")
    for name, column in zip(names, columns, strict=True):
        if name == "rated_at":
            column += _POSTGRES_EPOCH_SECONDS * 1_000_000
    return columns


def _read_batched(names: Sequence[str]) -> list[np.ndarray]:
    selected = ", ".join(_column(name) for name in names)
    parts: list[list[np.ndarray]] = [[] for _ in names]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {selected} FROM {_table()}")  # noqa: S608
        while batch := cursor.fetchmany(BATCH_ROWS):
            columns = zip(*batch, strict=True)
            for index, (name, values) in enumerate(zip(names, columns, strict=True)):
                parts[index].append(_from_python(name, values))
    return [np.concatenate(part) if part else np.zeros(0, dtype=np.int64) for part in parts]


def _from_python(name: str, values: Sequence[object]) -> np.ndarray:
    if name != "rated_at":
        return np.array(values, dtype=np.int64)
    # SQLite hands back text ("1997-12-04 15:55:49[.123456]", UTC) or datetimes.
    stamps = pd.to_datetime(pd.Series(values), utc=True, format="ISO8601")
    return stamps.to_numpy(dtype="datetime64[us]").astype(np.int64)


def insert_ratings(
    rater_pk: np.ndarray,
    movie_pk: np.ndarray,
    rating: np.ndarray,
    rated_at_us: np.ndarray,
    *,
    progress: Progress | None = None,
    step: str = "ratings",
    freeze: bool = False,
) -> None:
    """Insert new rating rows. ``freeze``: Postgres' COPY FREEZE (the table must have been
    created or truncated in this transaction)."""
    columns = ["rater", "movie", "rating", "rated_at"]
    values = [rater_pk, movie_pk, rating, rated_at_us]
    if connection.vendor == "postgresql":
        _copy_in(_table(), columns, values, progress=progress, step=step, freeze=freeze)
    else:
        placeholders = ", ".join(["%s"] * len(columns))
        names = ", ".join(_column(name) for name in columns)
        _execute_batched(
            f"INSERT INTO {_table()} ({names}) VALUES ({placeholders})",  # noqa: S608
            columns,
            values,
            progress=progress,
            step=step,
        )


def update_ratings(pk: np.ndarray, rating: np.ndarray, rated_at_us: np.ndarray) -> None:
    """Set the stars and time of existing rows, by primary key."""
    if not len(pk):
        return
    table, key = _table(), _column("id")
    rating_column, time_column = _column("rating"), _column("rated_at")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY the new values into a scratch table, then one UPDATE ... FROM joins them in.
            scratch = connection.ops.quote_name(f"_ingest_{Rating._meta.db_table}")
            cursor.execute(
                f"CREATE TEMPORARY TABLE {scratch} ON COMMIT DROP AS "  # noqa: S608
                f"SELECT {key}, {rating_column}, {time_column} FROM {table} WITH NO DATA"
            )
            _copy_in(scratch, ["id", "rating", "rated_at"], [pk, rating, rated_at_us])
            cursor.execute(
                f"UPDATE {table} SET {rating_column} = new.{rating_column}, "  # noqa: S608
                f"{time_column} = new.{time_column} FROM {scratch} AS new "
                f"WHERE {table}.{key} = new.{key}"
            )
            cursor.execute(f"DROP TABLE {scratch}")
        else:
            _execute_batched(
                f"UPDATE {table} SET {rating_column} = %s, {time_column} = %s "  # noqa: S608
                f"WHERE {key} = %s",
                ["rating", "rated_at", "id"],
                [rating, rated_at_us, pk],
            )


def _copy_in(
    table: str,
    columns: Sequence[str],
    values: Sequence[np.ndarray],
    *,
    progress: Progress | None = None,
    step: str = "",
    freeze: bool = False,
) -> None:
    """Binary COPY of equal-length arrays into ``table``'s ``columns`` (attribute names)."""
    names = [_column(name) for name in columns]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            [table],
        )
        types = dict(cursor.fetchall())
    kinds = []
    for column, name in zip(columns, names, strict=True):
        kind = types[name.strip('"')]
        if kind not in _BINARY_TYPES:
            raise TypeError(f"{table}.{name}: no binary COPY for {kind}")
        kinds.append((column, kind))
    row = np.dtype(
        [("count", ">i2")]
        + [
            field
            for index, (_, kind) in enumerate(kinds)
            for field in ((f"length{index}", ">i4"), (f"value{index}", _BINARY_TYPES[kind]))
        ]
    )
    total = len(values[0]) if values else 0

    def chunks() -> Iterator[bytes]:
        yield _HEADER
        for start in range(0, total, COPY_ROWS):
            stop = min(start + COPY_ROWS, total)
            packed = np.empty(stop - start, dtype=row)
            packed["count"] = len(kinds)
            for index, ((_, kind), array) in enumerate(zip(kinds, values, strict=True)):
                part = np.asarray(array[start:stop], dtype=np.int64)
                if kind == "timestamp with time zone":
                    part = part - _POSTGRES_EPOCH_SECONDS * 1_000_000
                packed[f"length{index}"] = np.dtype(_BINARY_TYPES[kind]).itemsize
                packed[f"value{index}"] = part
            yield packed.tobytes()
            if progress is not None:
                progress(step, stop, total)
        yield _TRAILER

    with connection.cursor() as cursor, connection.wrap_database_errors:
        cursor.cursor.copy_expert(
            f"COPY {table} ({', '.join(names)}) FROM STDIN "
            f"(FORMAT binary{', FREEZE' if freeze else ''})",
            _ChunkReader(chunks()),
            size=1 << 20,
        )


class _ChunkReader(io.RawIOBase):
    """A file whose contents come from an iterator of byte strings (COPY FROM STDIN input)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1, /) -> bytes:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return b""
            self._pending = memoryview(chunk)
        if size < 0:
            size = len(self._pending)
        piece, self._pending = self._pending[:size], self._pending[size:]
        return bytes(piece)


def _execute_batched(
    sql: str,
    columns: Sequence[str],
    values: Sequence[np.ndarray],
    *,
    progress: Progress | None = None,
    step: str = "",
) -> None:
    total = len(values[0]) if values else 0
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        for start in range(0, total, BATCH_ROWS):
            stop = min(start + BATCH_ROWS, total)
            batch = []
            for column, array in zip(columns, values, strict=True):
                part = array[start:stop].tolist()
                if column == "rated_at":
                    part = [
                        adapt(
                            datetime.fromtimestamp(us // 1_000_000, tz=UTC).replace(
                                microsecond=us % 1_000_000
                            )
                        )
                        for us in part
                    ]
                batch.append(part)
            cursor.executemany(sql, list(zip(*batch, strict=True)))
            if progress is not None:
                progress(step, stop, total)
