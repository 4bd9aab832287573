"""catalog: services (writes). The ml-100k ingest.

`movielens_ingest` reads and checks the whole data set first, then writes it in one transaction,
matching rows on their MovieLens ids: new ids are inserted, rows whose values differ are updated,
identical rows are not touched, and rows the source does not mention (a movie staff added in
the admin) are left alone. So a second run writes nothing, and a failed run writes nothing.
"""

from __future__ import annotations

import enum
import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from catalog.errors import IngestConflict, MalformedData
from catalog.models import Genre, Movie, Rater, Rating
from catalog.movielens import MovieLensData, MovieLensFormatError, parse_dataset
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
    _report(progress, "parse", 0, 1)
    try:
        data = parse_dataset(files.contents.__getitem__, name=files.display_name)
    except MovieLensFormatError as exc:
        raise MalformedData(str(exc), file=exc.file, line=exc.line) from exc
    _report(progress, "parse", 1, 1)
    try:
        return _write(
            data,
            origin=files.origin,
            progress=progress,
            own_transaction=not connection.in_atomic_block,
        )
    except IntegrityError as exc:
        # Every row was checked beforehand, so this is a clash with rows not from the source:
        # staff adding the same MovieLens id mid-run, or a hand-made genre of the same name.
        raise IngestConflict(
            f"{files.origin}: the database refused the data ({str(exc).strip()}); rows "
            "added by hand or by a concurrent writer clash with the source; nothing was written"
        ) from exc


def _report(progress: Progress | None, step: str, done: int, total: int | None) -> None:
    if progress is not None:
        progress(step, done, total)


@transaction.atomic
def _write(
    data: MovieLensData, *, origin: str, progress: Progress | None, own_transaction: bool
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

    ratings = _sync(
        Rating,
        ("rater_id", "movie_id", "rating", "rated_at"),
        [
            (rater_pk[rater], movie_pk[movie], rating, datetime.fromtimestamp(timestamp, tz=UTC))
            for rater, movie, rating, timestamp in data.ratings
        ],
        keys=2,
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
        ratings=ratings.counts,
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
