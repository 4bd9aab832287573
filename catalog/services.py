"""catalog: services (writes). The ml-100k ingest.

`movielens_ingest` reads and checks the whole data set first, then writes it in one transaction,
matching rows on their MovieLens ids: new ids are inserted, rows whose values differ are updated,
identical rows are not touched, and rows the source does not mention (a movie staff added in
the admin) are left alone. So a second run writes nothing, and a failed run writes nothing.
"""

from __future__ import annotations

import contextlib
import enum
import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from datetime import date
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from catalog import bulk
from catalog.errors import IngestConflict, MalformedData
from catalog.models import Genre, Movie, Rater, Rating
from catalog.movielens import (
    GENRE_FILE,
    MOVIE_FILE,
    RATER_FILE,
    RATING_FILE,
    GenreRow,
    MovieLensFormatError,
    MovieRow,
    RaterRow,
    parse_genres,
    parse_movies,
    parse_raters,
)
from catalog.movielens_ratings import RatingColumns, parse_rating_columns
from catalog.selectors import catalogue_version_refresh
from catalog.sources import Opener, Progress, read_source


class _Default(enum.Enum):
    TOKEN = enum.auto()


DEFAULT = _Default.TOKEN
"""``md5=DEFAULT``: the published MD5 for the official URL, no check for anything else."""

# Any 64-bit number that no other part of the project uses as an advisory lock key.
_INGEST_LOCK_KEY = 0x6D6C_3130_306B  # "ml100k"
_BATCH = 5000
# From this many new rows on, Postgres checks foreign keys in one pass (see below).
_BULK_FOREIGN_KEY_CHECK = 10_000
# From this many new ratings on (and at least as many as are stored), Postgres builds the
# rating table's indexes after the COPY instead of during it (see _indexes_built_after).
_BULK_INDEX_REBUILD = 100_000


@dataclass(frozen=True)
class EntityCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    kept: int = 0  # rows in the database that the source does not have: left alone

    @property
    def written(self) -> int:
        return self.created + self.updated


@dataclass(frozen=True)
class IngestReport:
    source: str
    genres: EntityCounts
    movies: EntityCounts
    raters: EntityCounts
    ratings: EntityCounts

    @property
    def changed(self) -> bool:
        return any(counts.written for counts in self._counts().values())

    def _counts(self) -> dict[str, EntityCounts]:
        return {
            field.name: getattr(self, field.name)
            for field in fields(self)
            if field.name != "source"
        }

    def summary(self) -> str:
        """One line: what was created, updated and left alone, per kind of row."""
        parts = [
            f"{name} {c.created} created, {c.updated} updated, {c.unchanged} unchanged"
            for name, c in self._counts().items()
        ]
        kept = sum(c.kept for c in self._counts().values())
        return (
            f"Ingested {self.source}: {'; '.join(parts)}; {kept} rows not in the source left alone."
        )


def movielens_ingest(
    *,
    source: str | Path,
    md5: str | _Default | None = DEFAULT,
    progress: Progress | None = None,
    opener: Opener | None = None,
) -> IngestReport:
    """Load ml-100k from a folder, a zip or a URL into the catalogue, idempotently.

    ``md5``: the expected MD5 of a zip or download; ``None`` checks nothing; the default checks
    the official URL against its published MD5. ``progress(step, done, total)`` hears about long
    steps; ``opener`` replaces urllib for downloads.

    Raises an `IngestError` subclass (`SourceNotFound`, `SourceUnreadable`, `DownloadFailed`,
    `ChecksumMismatch`, `MalformedData` with file and line, `IngestConflict`); then nothing
    has been written.
    """
    if md5 is DEFAULT:
        md5 = settings.MOVIELENS_MD5 if str(source) == settings.MOVIELENS_URL else None
    files = read_source(
        source,
        md5=md5,
        cache_dir=Path(settings.MOVIELENS_CACHE_DIR),
        opener=opener,
        progress=progress,
    )
    origin = files.origin
    _report(progress, "parse", 0, 1)
    try:
        data = _parse(files.contents.__getitem__, name=files.display_name)
    except MovieLensFormatError as exc:
        raise MalformedData(str(exc), file=exc.file, line=exc.line) from exc
    del files  # the raw bytes (200 MB of u.data at 10 million ratings) are no longer needed
    _report(progress, "parse", 1, 1)
    try:
        return _write(
            data,
            origin=origin,
            progress=progress,
            own_transaction=not connection.in_atomic_block,
        )
    except IntegrityError as exc:
        # Every row was checked beforehand, so this is a clash with rows not from the source:
        # staff adding the same MovieLens id mid-run, or a hand-made genre of the same name.
        raise IngestConflict(
            f"{origin}: the database refused the data ({str(exc).strip()}); rows "
            "added by hand or by a concurrent writer clash with the source; nothing was written"
        ) from exc


@dataclass(frozen=True)
class _Parsed:
    """The data set, checked: small files as rows, the rating log as arrays."""

    genres: list[GenreRow]
    movies: list[MovieRow]
    raters: list[RaterRow]
    ratings: RatingColumns


def _parse(read: Callable[[str], bytes], *, name: Callable[[str], str]) -> _Parsed:
    """`parse_dataset`'s checks and errors, with u.data read into arrays (it can be huge)."""
    genres = parse_genres(read(GENRE_FILE), file=name(GENRE_FILE))
    movies = parse_movies(read(MOVIE_FILE), genre_count=len(genres), file=name(MOVIE_FILE))
    raters = parse_raters(read(RATER_FILE), file=name(RATER_FILE))
    ratings = parse_rating_columns(
        read(RATING_FILE),
        file=name(RATING_FILE),
        rater_ids=np.array([rater.ml_id for rater in raters], dtype=np.int64),
        movie_ids=np.array([movie.ml_id for movie in movies], dtype=np.int64),
    )
    return _Parsed(genres=genres, movies=movies, raters=raters, ratings=ratings)


def _report(progress: Progress | None, step: str, done: int, total: int | None) -> None:
    if progress is not None:
        progress(step, done, total)


@transaction.atomic
def _write(
    data: _Parsed, *, origin: str, progress: Progress | None, own_transaction: bool
) -> IngestReport:
    """Write in one transaction. ``own_transaction``: no caller's transaction surrounds it,
    so Postgres-wide settings for this transaction are ours to choose."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # One ingest at a time: a second waits here instead of racing on the same rows.
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_INGEST_LOCK_KEY])
            if own_transaction:
                # The ingest can always be run again, so it need not wait for the WAL flush:
                # a crash right after commit loses at most this run, never consistency.
                cursor.execute("SET LOCAL synchronous_commit = off")
    now = timezone.now()
    genres = _sync(Genre, ("ml_id", "name"), data.genres, progress=progress)
    genre_pk = dict(Genre.objects.values_list("ml_id", "pk"))

    movies = _sync(
        Movie,
        ("ml_id", "title", "release_date", "video_release_date", "imdb_url"),
        [row[:5] for row in data.movies],
        touch={"updated_at": now},
        progress=progress,
    )
    movie_pk = dict(Movie.objects.values_list("ml_id", "pk"))
    relinked = _sync_movie_genres(
        {movie_pk[row.ml_id]: {genre_pk[g] for g in row.genre_ids} for row in data.movies},
        created={movie_pk[ml_id] for (ml_id,) in movies.created_keys},
    )
    # A changed set of genres is a change of the movie (and of `catalogue_version`).
    relinked_only = relinked - movies.updated_pks
    if relinked_only:
        Movie.objects.filter(pk__in=relinked_only).update(updated_at=now)

    raters = _sync(
        Rater, ("ml_id", "age", "gender", "occupation", "zip_code"), data.raters, progress=progress
    )
    rater_pk = dict(Rater.objects.values_list("ml_id", "pk"))

    ratings = _sync_ratings(
        data.ratings,
        rater_pk=rater_pk,
        movie_pk=movie_pk,
        progress=progress,
        # Checking foreign keys in bulk alters tables, which Postgres refuses while the
        # transaction holds deferred checks; ours has none of those, a caller's might.
        bulk_key_checks=own_transaction,
    )
    report = IngestReport(
        source=origin,
        genres=genres.counts,
        movies=replace(
            movies.counts,
            updated=movies.counts.updated + len(relinked_only),
            unchanged=movies.counts.unchanged - len(relinked_only),
        ),
        raters=raters.counts,
        ratings=ratings,
    )
    if report.genres.written or report.movies.written:
        transaction.on_commit(catalogue_version_refresh)
    return report


@dataclass(frozen=True)
class _Synced:
    counts: EntityCounts
    created_keys: set[tuple[Any, ...]]
    updated_pks: set[int]


def _sync(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    keys: int = 1,
    touch: dict[str, Any] | None = None,
    progress: Progress | None = None,
    bulk_key_checks: bool = False,
) -> _Synced:
    """Insert the rows whose key is new, update those whose values differ, count the rest.

    ``rows`` hold the values of ``columns``, the first ``keys`` of which identify a row.
    ``touch``: values written with every insert and update (``updated_at``), never compared.
    """
    extra = tuple((touch or {}).values())
    existing = {
        tuple(values[1 : 1 + keys]): values
        for values in model._default_manager.order_by().values_list("pk", *columns)
    }
    to_create: list[tuple[Any, ...]] = []
    to_update: list[tuple[Any, ...]] = []
    unchanged = 0
    for row in rows:
        current = existing.pop(tuple(row[:keys]), None)
        if current is None:
            to_create.append((*row, *extra))
        elif tuple(current[1:]) != tuple(row):
            to_update.append((current[0], *row[keys:], *extra))
        else:
            unchanged += 1
    # What is left in `existing` is not in the source: left alone, only counted.
    step = str(model._meta.verbose_name_plural)
    _insert(
        model,
        [*columns, *(touch or {})],
        to_create,
        progress=progress,
        step=step,
        bulk_key_checks=bulk_key_checks,
    )
    _update(model, [*columns[keys:], *(touch or {})], to_update)
    return _Synced(
        EntityCounts(len(to_create), len(to_update), unchanged, kept=len(existing)),
        created_keys={row[:keys] for row in to_create},
        updated_pks={row[0] for row in to_update},
    )


def _sync_ratings(
    ratings: RatingColumns,
    *,
    rater_pk: dict[int, int],
    movie_pk: dict[int, int],
    progress: Progress | None,
    bulk_key_checks: bool,
) -> EntityCounts:
    """`_sync` for the rating log, on arrays: matched on (rater, movie), compared on
    (stars, time). Memory is a few arrays of the rating count, never a row object each."""
    rater = _lookup(rater_pk, ratings.rater_id)
    movie = _lookup(movie_pk, ratings.movie_id)
    rated_at_us = ratings.timestamp * 1_000_000
    stored = bulk.read_ratings()
    width = int(max(movie.max(initial=0), stored.movie_pk.max(initial=0))) + 1
    stored_keys = stored.rater_pk * width + stored.movie_pk
    # Keep only what the comparison needs (each column is 80 MB at 10 million ratings).
    n_stored, stored_pk, stored_rating, stored_time = (
        len(stored),
        stored.pk,
        stored.rating.astype(np.int8),
        stored.rated_at_us,
    )
    del stored
    match_of = _positions(stored_keys, rater * width + movie)
    del stored_keys
    found = match_of >= 0
    match = match_of[found]
    del match_of
    changed = (stored_rating[match] != ratings.rating[found]) | (
        stored_time[match] != rated_at_us[found]
    )
    new = np.flatnonzero(~found)
    # In (rater, movie) order: the pair index then grows at its end, and a rater's ratings
    # sit together on disk.
    new = new[np.argsort(rater[new] * width + movie[new], kind="stable")]  # one key: faster
    table = connection.ops.quote_name(Rating._meta.db_table)
    freeze = False
    with contextlib.ExitStack() as stack:
        if bulk_key_checks and connection.vendor == "postgresql":
            if len(new) >= _BULK_FOREIGN_KEY_CHECK:
                stack.enter_context(_foreign_keys_checked_at_once(table))
            if len(new) >= max(_BULK_INDEX_REBUILD, n_stored):
                # Into an empty table, rows can be written frozen: no later pass (the next
                # read) has to rewrite every page to mark them visible; and its primary key
                # can be built afterwards too, as nothing can point at a row yet.
                empty = not n_stored and not _referenced(table)
                stack.enter_context(_indexes_built_after(table, primary_key=empty))
                freeze = empty and _truncate(table)
        bulk.insert_ratings(
            rater[new],
            movie[new],
            ratings.rating[new],
            rated_at_us[new],
            progress=progress,
            freeze=freeze,
        )
    bulk.update_ratings(
        stored_pk[match[changed]],
        ratings.rating[found][changed],
        rated_at_us[found][changed],
    )
    n_found = int(found.sum())
    n_changed = int(changed.sum())
    return EntityCounts(
        created=len(new),
        updated=n_changed,
        unchanged=n_found - n_changed,
        kept=n_stored - n_found,
    )


def _lookup(pks: dict[int, int], ml_ids: np.ndarray) -> np.ndarray:
    """The primary keys of these MovieLens ids (all known: the parser checked them)."""
    keys = np.fromiter(pks.keys(), dtype=np.int64, count=len(pks))
    values = np.fromiter(pks.values(), dtype=np.int64, count=len(pks))
    low, high = int(keys.min(initial=0)), int(keys.max(initial=0))
    if high - low <= 4 * len(keys) + (1 << 20):
        table = np.zeros(high - low + 1, dtype=np.int64)  # ids are nearly dense: a table
        table[keys - low] = values
        return table[ml_ids - low]
    return values[pd.Index(keys).get_indexer(ml_ids)]


def _positions(stored: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """For each wanted key, its index in ``stored`` (unique keys), or -1.

    Both sides are sorted first: a binary search for sorted keys walks memory in order,
    where ten million random ones would each miss the cache about twenty times.
    """
    result = np.full(len(wanted), -1, dtype=np.int64)
    if not len(stored) or not len(wanted):
        return result
    # The table is usually in key order already (the ingest writes it so).
    if bool((stored[1:] > stored[:-1]).all()):
        stored_order, stored_sorted = np.arange(len(stored)), stored
    else:
        stored_order = np.argsort(stored)
        stored_sorted = stored[stored_order]
    wanted_order = np.argsort(wanted)
    wanted_sorted = wanted[wanted_order]
    at = np.minimum(np.searchsorted(stored_sorted, wanted_sorted), len(stored) - 1)
    hit = stored_sorted[at] == wanted_sorted
    result[wanted_order[hit]] = stored_order[at[hit]]
    return result


def _sync_movie_genres(wanted: dict[int, set[int]], *, created: set[int]) -> set[int]:
    """Make each source movie's genres exactly ``wanted`` (movie pk -> genre pks).

    Returns the pks of the movies that existed before and whose genres changed.
    """
    through = Movie.genres.through
    current: dict[int, dict[int, int]] = {}  # movie pk -> genre pk -> link pk
    for link, movie, genre in through.objects.values_list("pk", "movie_id", "genre_id"):
        current.setdefault(movie, {})[genre] = link
    add: list[tuple[int, int]] = []
    remove: list[int] = []
    changed: set[int] = set()
    for movie, genres in wanted.items():
        have = current.get(movie, {})
        if have.keys() == genres:
            continue
        changed.add(movie)
        add.extend((movie, genre) for genre in sorted(genres - have.keys()))
        remove.extend(link for genre, link in have.items() if genre not in genres)
    if remove:
        through.objects.filter(pk__in=remove).delete()
    _insert(through, ["movie", "genre"], add)
    return changed - created


# Bulk writes. Postgres gets COPY (about ten times faster than INSERT for 100,000 rows); other
# databases get one prepared statement run for every row (executemany), which is what SQLite is
# fast at. Both go through Django's connection, so they join the surrounding transaction.


def _insert(
    model: type[models.Model],
    columns: Sequence[str],
    values: Sequence[Sequence[Any]],
    *,
    progress: Progress | None = None,
    step: str = "",
    bulk_key_checks: bool = False,
) -> None:
    """Insert rows (the values of ``columns``, attribute names) in bulk."""
    if not values:
        return
    table, names, adapt = _columns(model, columns)
    if connection.vendor == "postgresql":
        if not bulk_key_checks or len(values) < _BULK_FOREIGN_KEY_CHECK:
            _copy(model, table, columns, names, values, progress=progress, step=step)
        else:
            with _foreign_keys_checked_at_once(table):
                _copy(model, table, columns, names, values, progress=progress, step=step)
        return
    placeholders = ", ".join(["%s"] * len(names))
    sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({placeholders})"  # noqa: S608
    with connection.cursor() as cursor:
        for done in range(0, len(values), _BATCH):
            batch = values[done : done + _BATCH]
            cursor.executemany(
                sql, [[a(v) for a, v in zip(adapt, row, strict=True)] for row in batch]
            )
            _report(progress, step, done + len(batch), len(values))


@contextmanager
def _foreign_keys_checked_at_once(table: str) -> Iterator[None]:
    """Check the table's foreign keys with one join after a big COPY, not once per row.

    Django's foreign keys are deferred: Postgres queues one check per inserted row and runs
    them all at commit, which for 100,000 ratings costs more than the COPY itself. Dropping the
    constraints and adding them back (same name, same definition) inside the transaction
    validates every row in a single pass instead. A bad row still aborts the transaction.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'f'",
            [table],
        )
        constraints = cursor.fetchall()
        for name, _ in constraints:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {connection.ops.quote_name(name)}")
    yield
    with connection.cursor() as cursor:
        for name, definition in constraints:
            cursor.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {connection.ops.quote_name(name)} {definition}"
            )


def _referenced(table: str) -> bool:
    """Whether another table's foreign key points at this one."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_constraint WHERE confrelid = %s::regclass AND contype = 'f'",
            [table],
        )
        return cursor.fetchone() is not None


def _truncate(table: str) -> bool:
    """TRUNCATE the (empty) table in this transaction, as COPY ... FREEZE requires."""
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table}")
    return True


@contextmanager
def _indexes_built_after(table: str, *, primary_key: bool = False) -> Iterator[None]:
    """Drop the table's secondary indexes (unique constraints included; with ``primary_key``
    the primary key too) and build them again afterwards, same names, same definitions,
    inside the transaction.

    Building a B-tree from sorted rows is many times faster than growing it one random key
    at a time: for 10 million ratings, minutes of COPY become seconds. Used only when the
    ingest at least doubles the table (a first load); the table is locked until commit.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = ANY(%s) "
            "ORDER BY contype = 'p' DESC, conname",
            [table, ["u", "p"] if primary_key else ["u"]],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = %s::regclass AND NOT i.indisprimary "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)",
            [table],
        )
        indexes = cursor.fetchall()
        for name, _ in constraints:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {connection.ops.quote_name(name)}")
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    yield
    with connection.cursor() as cursor:
        # Enough memory to sort 10 million keys in memory (256 MB spilled to disk: 86 s
        # against 75 s for the whole first ingest at 10 million ratings); only for this
        # transaction.
        cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
        for name, definition in constraints:
            cursor.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {connection.ops.quote_name(name)} {definition}"
            )
        for _, definition in indexes:
            cursor.execute(definition)


def _update(
    model: type[models.Model], columns: Sequence[str], values: Sequence[Sequence[Any]]
) -> None:
    """Set ``columns`` in bulk; each row of ``values`` is the primary key, then the columns."""
    if not values:
        return
    table, names, adapt = _columns(model, columns)
    pk = connection.ops.quote_name(str(model._meta.pk.column))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY the new values into a scratch table, then one UPDATE ... FROM joins them in.
            scratch = connection.ops.quote_name(f"_ingest_{model._meta.db_table}")
            cursor.execute(
                f"CREATE TEMPORARY TABLE {scratch} ON COMMIT DROP AS "  # noqa: S608
                f"SELECT {pk}, {', '.join(names)} FROM {table} WITH NO DATA"
            )
            _copy(model, scratch, [model._meta.pk.name, *columns], [pk, *names], values)
            assignments = ", ".join(f"{name} = new.{name}" for name in names)
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM {scratch} AS new "  # noqa: S608
                f"WHERE {table}.{pk} = new.{pk}"
            )
            cursor.execute(f"DROP TABLE {scratch}")
        else:
            assignments = ", ".join(f"{name} = %s" for name in names)
            cursor.executemany(
                f"UPDATE {table} SET {assignments} WHERE {pk} = %s",  # noqa: S608
                [[*(a(v) for a, v in zip(adapt, row[1:], strict=True)), row[0]] for row in values],
            )


def _columns(
    model: type[models.Model], columns: Sequence[str]
) -> tuple[str, list[str], list[Callable[[Any], Any]]]:
    """The quoted table and column names, and how to turn each value into a query parameter."""
    quote = connection.ops.quote_name
    fields = [cast(models.Field, model._meta.get_field(name)) for name in columns]
    adapt: list[Callable[[Any], Any]] = []
    for field in fields:
        if isinstance(field, models.DateTimeField):
            adapt.append(connection.ops.adapt_datetimefield_value)
        elif isinstance(field, models.DateField):
            adapt.append(connection.ops.adapt_datefield_value)
        else:
            adapt.append(_same)
    return quote(model._meta.db_table), [quote(str(f.column)) for f in fields], adapt


def _same(value: Any) -> Any:
    return value


def _copy(
    model: type[models.Model],
    table: str,
    columns: Sequence[str],
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    progress: Progress | None = None,
    step: str = "",
) -> None:
    """COPY rows into ``table`` in Postgres' text format (tab-separated, \\N for NULL)."""
    formats = [_copy_format(model._meta.get_field(name)) for name in columns]
    text = "".join(
        "\t".join([f(v) for f, v in zip(formats, row, strict=True)]) + "\n" for row in rows
    )
    source = _ReportingReader(text, progress=progress, step=step, total=len(rows))
    with connection.cursor() as cursor, connection.wrap_database_errors:
        # psycopg2's copy_expert, through Django's wrapper so errors become django.db errors.
        cursor.cursor.copy_expert(f"COPY {table} ({', '.join(names)}) FROM STDIN", source)


class _ReportingReader(io.StringIO):
    """The COPY input; reports progress in rows as psycopg2 reads it."""

    def __init__(self, text: str, *, progress: Progress | None, step: str, total: int) -> None:
        super().__init__(text)
        self._progress, self._step, self._total = progress, step, total
        self._size = max(len(text), 1)
        self._done = -1

    def read(self, size: int | None = -1, /) -> str:
        chunk = super().read(size)
        done = self._total * self.tell() // self._size
        if self._progress is not None and done != self._done:
            self._done = done
            self._progress(self._step, done, self._total)
        return chunk


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_format(field: Any) -> Callable[[Any], str]:
    """How one column's values are written in COPY's text format."""
    if isinstance(field, models.CharField | models.TextField):
        write: Callable[[Any], str] = _copy_text
    elif isinstance(field, models.DateField):  # also DateTimeField: aware values carry "+00:00"
        write = _isoformat
    else:
        write = str
    if not field.null:
        return write
    return lambda value: "\\N" if value is None else write(value)


def _copy_text(value: str) -> str:
    return value.translate(_COPY_ESCAPES)


def _isoformat(value: date) -> str:
    return value.isoformat()
