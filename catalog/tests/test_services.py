"""movielens_ingest: what it writes, that a re-run writes nothing, and that a failure writes
nothing either."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from catalog import bulk, services
from catalog.errors import ChecksumMismatch, IngestConflict, IngestError, MalformedData
from catalog.models import Genre, Movie, Rater, Rating
from catalog.selectors import CATALOGUE_VERSION_KEY, catalogue_version
from catalog.services import EntityCounts, IngestReport, movielens_ingest
from catalog.tests.factories import make_genre, make_movie
from catalog.tests.helpers import catalogue_content, catalogue_snapshot, make_zip, md5_of

pytestmark = pytest.mark.django_db


def _replace_line(path: Path, number: int, text: str) -> None:
    lines = path.read_bytes().decode("latin-1").split("\n")
    lines[number - 1] = text
    path.write_bytes("\n".join(lines).encode("latin-1"))


def _append(path: Path, text: str) -> None:
    path.write_bytes(path.read_bytes() + text.encode("latin-1"))


def test_tiny_ingest_reports_and_writes_everything(movielens_tiny: Path) -> None:
    report = movielens_ingest(source=movielens_tiny)

    assert report == IngestReport(
        source=str(movielens_tiny),
        genres=EntityCounts(created=6),
        movies=EntityCounts(created=10),
        raters=EntityCounts(created=8),
        ratings=EntityCounts(created=30),
    )
    assert (Genre.objects.count(), Movie.objects.count(), Rater.objects.count()) == (6, 10, 8)
    assert Rating.objects.count() == 30
    assert Movie.genres.through.objects.count() == 16


def test_tiny_ingest_keeps_titles_dates_and_duplicates_intact(movielens_tiny: Path) -> None:
    movielens_ingest(source=movielens_tiny)

    assert Movie.objects.get(ml_id=2).title == "Café Lumière, La (1996)"
    assert Movie.objects.get(ml_id=7).title == "Señor Nobody (1993)"
    unknown = Movie.objects.get(ml_id=3)
    assert (unknown.title, unknown.release_date, unknown.video_release_date) == (
        "unknown",
        None,
        None,
    )
    assert list(unknown.genres.values_list("name", flat=True)) == ["unknown"]
    twins = Movie.objects.filter(title="Twin Peaks Road (1995)").order_by("ml_id")
    assert [(m.ml_id, m.release_date) for m in twins] == [
        (4, date(1995, 1, 1)),
        (5, date(1996, 3, 9)),
    ]
    rocket = Movie.objects.get(ml_id=6)
    assert (rocket.title, rocket.imdb_url) == (
        "Rocket Garden (1997)",
        "http://example.org/title?Rocket%20Garden",
    )
    assert sorted(rocket.genres.values_list("name", flat=True)) == ["Action", "Comedy"]
    rater = Rater.objects.get(ml_id=5)
    assert (rater.age, rater.gender, rater.occupation, rater.zip_code) == (
        42,
        "M",
        "engineer",
        "02139",
    )
    first = Rating.objects.get(rater__ml_id=1, movie__ml_id=1)
    assert (first.rating, first.rated_at) == (4, datetime(1997, 12, 4, 15, 40, tzinfo=UTC))


def test_second_run_creates_nothing_and_changes_nothing(movielens_tiny: Path) -> None:
    movielens_ingest(source=movielens_tiny)
    before = catalogue_snapshot()

    report = movielens_ingest(source=movielens_tiny)

    assert report == IngestReport(
        source=str(movielens_tiny),
        genres=EntityCounts(unchanged=6),
        movies=EntityCounts(unchanged=10),
        raters=EntityCounts(unchanged=8),
        ratings=EntityCounts(unchanged=30),
    )
    assert not report.changed
    assert catalogue_snapshot() == before  # down to primary keys and updated_at


def test_changed_source_updates_exactly_the_changed_rows(tiny_copy: Path) -> None:
    movielens_ingest(source=tiny_copy)
    before = {movie.ml_id: movie.updated_at for movie in Movie.objects.all()}
    item = tiny_copy / "u.item"
    # Movie 1: new title. Movie 4: loses Thriller (genres only). New movie 11.
    _replace_line(
        item, 1, "1|Harbour Lights, The (1994)|01-Jan-1994||http://example.org/title?H|0|0|0|1|1|0"
    )
    _replace_line(
        item,
        4,
        "4|Twin Peaks Road (1995)|01-Jan-1995||http://example.org/title?Twin%20Peaks%20Road"
        "|0|1|0|0|0|0",
    )
    _append(item, "11|Late Arrival (1998)|01-Jan-1998|||0|0|1|0|0|0\n")
    _replace_line(tiny_copy / "u.user", 2, "2|54|F|other|94043")  # a birthday
    data = tiny_copy / "u.data"
    _replace_line(data, 1, "1\t1\t2\t881250000")  # re-rated 4 -> 2
    _append(data, "3\t11\t5\t893000000\n")

    report = movielens_ingest(source=tiny_copy)

    assert report.genres == EntityCounts(unchanged=6)
    assert report.movies == EntityCounts(created=1, updated=2, unchanged=8)
    assert report.raters == EntityCounts(updated=1, unchanged=7)
    assert report.ratings == EntityCounts(created=1, updated=1, unchanged=29)
    assert Movie.objects.get(ml_id=1).title == "Harbour Lights, The (1994)"
    assert list(Movie.objects.get(ml_id=4).genres.values_list("name", flat=True)) == ["Action"]
    assert Rater.objects.get(ml_id=2).age == 54
    assert Rating.objects.get(rater__ml_id=1, movie__ml_id=1).rating == 2
    assert Rating.objects.get(rater__ml_id=3, movie__ml_id=11).rating == 5
    after = {movie.ml_id: movie.updated_at for movie in Movie.objects.all()}
    assert {ml_id for ml_id in before if after[ml_id] != before[ml_id]} == {1, 4}


def test_rows_absent_from_the_source_are_left_alone(movielens_tiny: Path) -> None:
    staff_movie = make_movie(ml_id=500, title="Added In The Admin (2024)")

    report = movielens_ingest(source=movielens_tiny)

    assert report.movies == EntityCounts(created=10, kept=1)
    assert Movie.objects.get(pk=staff_movie.pk).title == "Added In The Admin (2024)"
    assert report.summary() == (
        f"Ingested {movielens_tiny}: genres 6 created, 0 updated, 0 unchanged; "
        "movies 10 created, 0 updated, 0 unchanged; raters 8 created, 0 updated, 0 unchanged; "
        "ratings 30 created, 0 updated, 0 unchanged; 1 rows not in the source left alone."
    )


def test_folder_and_zip_give_the_same_catalogue(movielens_tiny: Path, tiny_zip: Path) -> None:
    movielens_ingest(source=movielens_tiny)
    from_folder = catalogue_content()
    for model in (Rating, Rater, Movie, Genre):
        model.objects.all().delete()

    report = movielens_ingest(source=tiny_zip)

    assert report.ratings.created == 30
    assert catalogue_content() == from_folder


# Each case breaks one thing; the run must stop, say where, and leave the database as it was.
MALFORMED: list[tuple[str, Any, type[IngestError], str]] = [
    ("wrong column count", ("u.item", 5, "5|Twin Peaks Road (1995)|09-Mar-1996"), MalformedData,
     "u.item, line 5: expected 11 fields separated by '|', found 3"),
    ("non-numeric id", ("u.user", 3, "three|23|M|writer|32067"), MalformedData,
     "u.user, line 3: user id must be a whole number, not 'three'"),
    ("rating above 5", ("u.data", 30, "8\t3\t6\t883756077"), MalformedData,
     "u.data, line 30: rating 6 is outside 1-5"),
    ("rating of an unknown movie", ("u.data", 2, "1\t99\t5\t881336413"), MalformedData,
     "u.data, line 2: item 99 is not in u.item"),
    ("rating by an unknown rater", ("u.data", 7, "42\t1\t5\t881336413"), MalformedData,
     "u.data, line 7: user 42 is not in u.user"),
    ("bad date", ("u.item", 1, "1|Harbour Lights (1994)|1994-01-01|||0|0|0|1|1|0"),
     MalformedData, "u.item, line 1: release date must look like 01-Jan-1995, not '1994-01-01'"),
    ("missing file", "u.genre", IngestError, "u.genre: missing (not an ml-100k folder?)"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("breakage", "expected_error", "message"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_malformed_input_stops_the_run_and_changes_nothing(
    tiny_copy: Path,
    movielens_tiny: Path,
    breakage: Any,
    expected_error: type[IngestError],
    message: str,
) -> None:
    movielens_ingest(source=movielens_tiny)
    staff_movie = make_movie(ml_id=500)
    # Also change a title, so that a run that wrote anything before failing would show.
    _replace_line(tiny_copy / "u.item", 2, "2|Renamed (1996)|14-Feb-1996|||0|0|1|1|0|0")
    if isinstance(breakage, tuple):
        _replace_line(tiny_copy / breakage[0], breakage[1], breakage[2])
    else:
        (tiny_copy / breakage).unlink()
    before = catalogue_snapshot()

    with pytest.raises(expected_error) as caught:
        movielens_ingest(source=tiny_copy)

    assert caught.value.message == f"{tiny_copy}/{message}"
    assert catalogue_snapshot() == before
    assert Movie.objects.get(ml_id=2).title == "Café Lumière, La (1996)"
    assert Movie.objects.filter(pk=staff_movie.pk).exists()


def test_malformed_error_carries_file_and_line(tiny_copy: Path) -> None:
    _replace_line(tiny_copy / "u.data", 4, "1\t6\t9\t881509239")
    with pytest.raises(MalformedData) as caught:
        movielens_ingest(source=tiny_copy)
    assert (caught.value.file, caught.value.line) == (str(tiny_copy / "u.data"), 4)
    assert caught.value.extra == {"file": str(tiny_copy / "u.data"), "line": 4}
    assert Rating.objects.count() == 0


def test_failure_while_writing_rolls_everything_back(
    movielens_tiny: Path, tiny_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    movielens_ingest(source=movielens_tiny)
    _replace_line(tiny_copy / "u.item", 2, "2|Renamed (1996)|14-Feb-1996|||0|0|1|1|0|0")
    _append(tiny_copy / "u.user", "9|20|F|student|00000\n")
    before = catalogue_snapshot()

    def fail_on_ratings(*args: Any, **kwargs: Any) -> Any:
        # Genres, movies and raters are written by now; ratings blow up.
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "_sync_ratings", fail_on_ratings)

    with pytest.raises(RuntimeError, match="disk full"):
        movielens_ingest(source=tiny_copy)

    assert catalogue_snapshot() == before


def test_clash_with_a_hand_made_row_is_a_conflict_and_writes_nothing(
    movielens_tiny: Path,
) -> None:
    # Staff made a "Thriller" genre by hand; the source brings its own under id 5.
    make_genre(ml_id=100, name="Thriller")
    before = catalogue_snapshot()

    with pytest.raises(IngestConflict) as caught:
        movielens_ingest(source=movielens_tiny)

    assert caught.value.message.startswith(f"{movielens_tiny}: the database refused the data (")
    assert caught.value.message.endswith("clash with the source; nothing was written")
    assert catalogue_snapshot() == before


def test_download_with_checksum_from_a_local_server(
    http_root: tuple[str, Path], movielens_tiny: Path
) -> None:
    base, root = http_root
    archive = make_zip(movielens_tiny, root / "ml-100k.zip")

    report = movielens_ingest(source=f"{base}/ml-100k.zip", md5=md5_of(archive))

    assert report.source == f"{base}/ml-100k.zip"
    assert report.ratings.created == 30
    assert Movie.objects.get(ml_id=2).title == "Café Lumière, La (1996)"


def test_official_url_is_checked_against_the_published_md5(
    http_root: tuple[str, Path], movielens_tiny: Path, settings: Any
) -> None:
    base, root = http_root
    make_zip(movielens_tiny, root / "ml-100k.zip")
    settings.MOVIELENS_URL = f"{base}/ml-100k.zip"  # stands in for files.grouplens.org
    settings.MOVIELENS_MD5 = "0e33842e24a9c977be4e0107933c0723"  # the real zip's, not ours

    with pytest.raises(ChecksumMismatch, match="expected 0e33842e24a9c977be4e0107933c0723"):
        movielens_ingest(source=settings.MOVIELENS_URL)

    assert Movie.objects.count() == 0
    assert not any(Path(settings.MOVIELENS_CACHE_DIR).iterdir())


def test_progress_hears_every_long_step(movielens_tiny: Path) -> None:
    steps: list[tuple[str, int, int | None]] = []
    movielens_ingest(source=movielens_tiny, progress=lambda *step: steps.append(step))
    finished = [step for step, done, total in steps if done == total]
    assert finished == ["parse", "genres", "movies", "raters", "ratings"]
    assert ("ratings", 30, 30) in steps


def test_catalogue_version_moves_after_commit_only_when_movies_changed(
    movielens_tiny: Path, django_capture_on_commit_callbacks: Any
) -> None:
    empty = catalogue_version()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        movielens_ingest(source=movielens_tiny)
    assert len(callbacks) == 1
    loaded = cache.get(CATALOGUE_VERSION_KEY)
    assert loaded != empty

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        movielens_ingest(source=movielens_tiny)
    assert callbacks == []
    assert catalogue_version() == loaded


def _rating_foreign_keys() -> list[tuple[str, str, bool, bool]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid), condeferrable, condeferred "
            "FROM pg_constraint WHERE conrelid = 'catalog_rating'::regclass AND contype = 'f' "
            "ORDER BY conname"
        )
        return cursor.fetchall()


postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="COPY and bulk key checks are Postgres-only"
)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_bulk_key_checks_put_the_foreign_keys_back_as_they_were(
    movielens_tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real top-level transaction (not the test's), and the path big inserts take.
    monkeypatch.setattr(services, "_BULK_FOREIGN_KEY_CHECK", 1)
    before = _rating_foreign_keys()
    assert [(deferrable, deferred) for _, _, deferrable, deferred in before] == [(True, True)] * 2

    report = movielens_ingest(source=movielens_tiny)

    assert report.ratings == EntityCounts(created=30)
    assert _rating_foreign_keys() == before
    with pytest.raises(IntegrityError), transaction.atomic():
        Rating.objects.create(rater_id=10**9, movie_id=10**9, rating=3, rated_at=datetime.now(UTC))


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_failure_after_dropping_foreign_keys_rolls_back_the_drop_too(
    movielens_tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "_BULK_FOREIGN_KEY_CHECK", 1)
    before = _rating_foreign_keys()

    def broken_copy(*args: Any, **kwargs: Any) -> None:
        # Genres, movies and raters are in; the ratings' foreign keys have just been dropped.
        assert _rating_foreign_keys() == []
        raise RuntimeError("connection lost mid-COPY")

    monkeypatch.setattr(bulk, "insert_ratings", broken_copy)
    with pytest.raises(RuntimeError, match="mid-COPY"):
        movielens_ingest(source=movielens_tiny)

    assert _rating_foreign_keys() == before
    assert (Genre.objects.count(), Movie.objects.count(), Rating.objects.count()) == (0, 0, 0)


def test_demo_fixture_is_the_tiny_data_set(movielens_tiny: Path) -> None:
    demo = movielens_tiny.parent / "catalog_demo.json"
    call_command("loaddata", str(demo), verbosity=0)
    loaded = catalogue_content()
    for model in (Rating, Rater, Movie, Genre):
        model.objects.all().delete()

    movielens_ingest(source=movielens_tiny)

    assert catalogue_content() == loaded
    assert len(loaded["ratings"]) == 30
