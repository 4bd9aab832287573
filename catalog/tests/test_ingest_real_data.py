"""The real ml-100k (../shared/data), ingested once for the whole module and rolled back after."""

from __future__ import annotations

import zipfile
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction

from catalog.models import Genre, Movie, Rater, Rating
from catalog.movielens import parse_dataset
from catalog.services import EntityCounts, IngestReport, movielens_ingest
from catalog.sources import read_source
from catalog.tests.helpers import catalogue_content, catalogue_snapshot, make_zip

pytestmark = [pytest.mark.dataset, pytest.mark.django_db]

GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
]  # fmt: skip


@pytest.fixture(scope="module")
def ingested(
    django_db_setup: Any, django_db_blocker: Any, movielens_dir: Path
) -> Iterator[IngestReport]:
    """One real ingest shared by the module, inside a transaction undone at the end, so the
    100,000 ratings never leak into other modules' tests."""
    with django_db_blocker.unblock(), transaction.atomic():
        report = movielens_ingest(source=movielens_dir)
        # Run the deferred foreign-key checks now, once: each test's teardown checks them
        # again inside its savepoint, which would re-run all 100,000 every time.
        connection.check_constraints()
        yield report
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def shared_zip(movielens_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared ml-100k.zip beside the folder, or one packed from the folder if it is missing."""
    beside = movielens_dir.parent / "ml-100k.zip"
    if beside.is_file():
        return beside
    return make_zip(movielens_dir, tmp_path_factory.mktemp("zip") / "ml-100k.zip")


def test_full_data_set_is_created(ingested: IngestReport) -> None:
    assert ingested.genres == EntityCounts(created=19)
    assert ingested.movies == EntityCounts(created=1682)
    assert ingested.raters == EntityCounts(created=943)
    assert ingested.ratings == EntityCounts(created=100_000)
    counts = (Genre.objects.count(), Movie.objects.count(), Rater.objects.count())
    assert counts == (19, 1682, 943)
    assert Rating.objects.count() == 100_000


def test_genres_are_u_genre_with_unknown_as_id_0(ingested: IngestReport) -> None:
    assert list(Genre.objects.order_by("ml_id").values_list("ml_id", "name")) == list(
        enumerate(GENRES)
    )


def test_latin1_titles_arrive_as_text(ingested: IngestReport) -> None:
    assert Movie.objects.get(ml_id=543).title == "Misérables, Les (1995)"
    assert Movie.objects.get(ml_id=1633).title == "Á köldum klaka (Cold Fever) (1994)"
    assert not Movie.objects.filter(title__contains="Ã").exists()  # no UTF-8 mojibake


def test_movie_267_is_unknown_without_dates(ingested: IngestReport) -> None:
    movie = Movie.objects.get(ml_id=267)
    assert (movie.title, movie.release_date, movie.video_release_date, movie.imdb_url) == (
        "unknown",
        None,
        None,
        "",
    )
    assert list(movie.genres.values_list("name", flat=True)) == ["unknown"]


def test_titles_occurring_twice_keep_both_movies(ingested: IngestReport) -> None:
    titles = Counter(Movie.objects.values_list("title", flat=True))
    twice = {title for title, count in titles.items() if count == 2}
    assert len(twice) == 18
    assert max(titles.values()) == 2
    assert "Chairman of the Board (1998)" in twice


def test_dates_and_trimmed_titles(ingested: IngestReport) -> None:
    toy_story = Movie.objects.get(ml_id=1)
    assert (toy_story.title, toy_story.release_date) == ("Toy Story (1995)", date(1995, 1, 1))
    assert sorted(toy_story.genres.values_list("name", flat=True)) == [
        "Animation",
        "Children's",
        "Comedy",
    ]
    assert Movie.objects.get(ml_id=1128).title == "Heidi Fleiss: Hollywood Madam (1995)"
    assert not Movie.objects.filter(title__endswith=" ").exists()


def test_raters_and_ratings_look_like_ml100k(ingested: IngestReport) -> None:
    assert Rater.objects.filter(gender="F").count() == 273
    assert Rater.objects.filter(gender="M").count() == 670
    assert Rater.objects.values("occupation").distinct().count() == 21
    first = Rating.objects.get(rater__ml_id=196, movie__ml_id=242)
    assert (first.rating, int(first.rated_at.timestamp())) == (3, 881250949)


def test_second_run_changes_nothing(ingested: IngestReport, movielens_dir: Path) -> None:
    before = catalogue_snapshot()
    report = movielens_ingest(source=movielens_dir)
    assert report.movies == EntityCounts(unchanged=1682)
    assert report.ratings == EntityCounts(unchanged=100_000)
    assert not report.changed
    assert catalogue_snapshot() == before


def test_if_u_item_was_resaved_as_utf8_then_ingest_changes_nothing(
    ingested: IngestReport, movielens_dir: Path, tmp_path: Path
) -> None:
    # The same data with u.item re-encoded by an editor: its accented titles must arrive as
    # the same text, not as "MisÃ©rables, Les (1995)".
    copy = tmp_path / "ml-100k"
    copy.mkdir()
    for name in ("u.genre", "u.user", "u.data"):
        (copy / name).write_bytes((movielens_dir / name).read_bytes())
    text = (movielens_dir / "u.item").read_bytes().decode("latin-1")
    (copy / "u.item").write_bytes(text.encode("utf-8"))
    before = catalogue_snapshot()

    report = movielens_ingest(source=copy)

    assert report.movies == EntityCounts(unchanged=1682)
    assert not report.changed
    assert catalogue_snapshot() == before
    assert Movie.objects.filter(title="Misérables, Les (1995)").count() == 1
    assert not Movie.objects.filter(title__contains="Ã").exists()


def test_zip_parses_to_the_same_rows_as_the_folder(
    movielens_dir: Path, shared_zip: Path, tmp_path: Path
) -> None:
    folder = read_source(movielens_dir, md5=None, cache_dir=tmp_path)
    archive = read_source(shared_zip, md5=None, cache_dir=tmp_path)
    with zipfile.ZipFile(shared_zip) as names:
        assert any(name.startswith("ml-100k/") for name in names.namelist())
    assert parse_dataset(folder.contents.__getitem__) == parse_dataset(archive.contents.__getitem__)


def test_zip_into_an_empty_catalogue_gives_the_same_database(
    ingested: IngestReport, shared_zip: Path
) -> None:
    from_folder = catalogue_content()
    for model in (Rating, Rater, Movie, Genre):
        model.objects.all().delete()

    report = movielens_ingest(source=shared_zip)

    assert report.ratings == EntityCounts(created=100_000)
    assert catalogue_content() == from_folder
