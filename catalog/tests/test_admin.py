"""The catalogue admin: every page renders for staff in a number of queries that does not grow
with the number of rows, and the forms do what staff expect."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog import admin as catalog_admin
from catalog.models import Genre, Movie, Rater, Rating
from catalog.tests.factories import make_genre, make_movie, make_rater

pytestmark = pytest.mark.django_db

_year = itertools.cycle([1994, 1995, 1996])


def _populate(count: int) -> None:
    """``count`` more movies (two genres each), raters, and three ratings per movie."""
    genres = list(Genre.objects.all()) or [
        make_genre(ml_id=i, name=name) for i, name in enumerate(["unknown", "Action", "Drama"])
    ]
    for i in range(count):
        movie = make_movie(
            release_date=date(next(_year), 1, 1), genres=[genres[1], genres[1 + i % 2]]
        )
        rater = make_rater(gender="MF"[i % 2], occupation=["writer", "student"][i % 2])
        Rating.objects.create(
            rater=rater, movie=movie, rating=1 + i % 5, rated_at=datetime(1998, 1, 1, tzinfo=UTC)
        )
        for other in Rater.objects.exclude(pk=rater.pk).order_by("?")[:2]:
            Rating.objects.get_or_create(
                rater=other,
                movie=movie,
                defaults={"rating": 3, "rated_at": datetime(1998, 1, 2, tzinfo=UTC)},
            )


def _get(client: Client, url: str) -> tuple[int, int, str]:
    client.get(url)  # warm up: the first request of a session also loads content types
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return response.status_code, len(queries), response.content.decode()


def _first(model: type[Any]) -> int:
    return model.objects.order_by("pk").values_list("pk", flat=True).first()


def _estimate_query(query: str) -> int:
    # An unfiltered list on Postgres first reads the planner's row estimate (pg_class) so
    # that it never counts every row; SQLite and filtered lists count exactly.
    return int(connection.vendor == "postgresql" and not query)


MOVIES, RATERS = "catalog_movie_changelist", "catalog_rater_changelist"
CHANGELISTS = {
    # Session and user are 2 of each count; then the count, the filters' choices, the page.
    "genres": ("catalog_genre_changelist", "", 5),
    # Movies: + release years for the filter, the genres' prefetch, the page's rating stats.
    "movies": (MOVIES, "", 8),
    "movies by genre and year": (MOVIES, "?genres__id__exact={genre}&release_year=1995", 8),
    "movies searched": (MOVIES, "?q=movie", 8),
    "raters": (RATERS, "", 6),  # + the page's rating counts
    "raters by gender and occupation": (RATERS, "?gender=F&occupation=writer", 6),
    "ratings": ("catalog_rating_changelist", "", 6),  # + first and last rating, for the years
    "ratings of one movie": ("catalog_rating_changelist", "?movie__id__exact={movie}", 6),
    "ratings by year": ("catalog_rating_changelist", "?rated=1998&rating=3", 6),
    "ratings by month": ("catalog_rating_changelist", "?rated=1998-01", 6),
    # + the movies' ids, + how many ratings they have (few are sorted, not met on the index)
    "ratings searched": ("catalog_rating_changelist", "?q=movie", 8),
}  # fmt: skip


@pytest.mark.parametrize(("name", "query", "bound"), CHANGELISTS.values(), ids=CHANGELISTS.keys())
def test_changelist_queries_do_not_grow_with_rows(
    admin_client: Client, name: str, query: str, bound: int
) -> None:
    _populate(3)
    genre = Genre.objects.get(name="Drama").pk
    url = reverse(f"admin:{name}") + query.format(movie=_first(Movie), genre=genre)
    status, few, _ = _get(admin_client, url)
    assert status == 200

    _populate(30)
    status, many, page = _get(admin_client, url)

    assert status == 200
    assert many == few, f"{name}: {few} queries with 3 rows, {many} with 33"
    assert many <= bound + _estimate_query(query)
    assert "Server Error" not in page


def test_movie_list_shows_genres_counts_and_means(admin_client: Client) -> None:
    drama = make_genre(ml_id=3, name="Drama")
    heat = make_movie(title="Heat (1995)", genres=[drama])
    for rating in (5, 4):
        Rating.objects.create(
            rater=make_rater(), movie=heat, rating=rating, rated_at=datetime(1998, 1, 1, tzinfo=UTC)
        )
    page = admin_client.get(reverse("admin:catalog_movie_changelist")).content.decode()
    assert "Heat (1995)" in page
    assert '<td class="field-genre_list">Drama</td>' in page
    assert f'?movie__id__exact={heat.pk}">2</a>' in page
    assert '<td class="field-rating_mean">4.50</td>' in page


def test_movie_filters_select_by_genre_and_release_year(admin_client: Client) -> None:
    drama, comedy = make_genre(name="Drama"), make_genre(name="Comedy")
    make_movie(title="Old Drama (1994)", release_date=date(1994, 5, 1), genres=[drama])
    make_movie(title="New Drama (1996)", release_date=date(1996, 5, 1), genres=[drama])
    make_movie(title="New Comedy (1996)", release_date=date(1996, 7, 1), genres=[comedy])
    make_movie(title="Undated", release_date=None)
    url = reverse("admin:catalog_movie_changelist")

    page = admin_client.get(f"{url}?genres__id__exact={drama.pk}&release_year=1996")
    assert [m.title for m in page.context["cl"].result_list] == ["New Drama (1996)"]
    undated = admin_client.get(f"{url}?release_year=none")
    assert [m.title for m in undated.context["cl"].result_list] == ["Undated"]
    years = admin_client.get(url).content.decode()
    assert "?release_year=1994" in years
    assert "?release_year=1996" in years


def test_movie_search_by_title(admin_client: Client) -> None:
    make_movie(title="Misérables, Les (1995)")
    make_movie(title="Heat (1995)")
    page = admin_client.get(reverse("admin:catalog_movie_changelist") + "?q=misér")
    assert [m.title for m in page.context["cl"].result_list] == ["Misérables, Les (1995)"]


def test_rater_search_by_id_tolerates_text(admin_client: Client) -> None:
    make_rater(ml_id=196, zip_code="T8H1N")
    make_rater(ml_id=197, zip_code="55105")
    url = reverse("admin:catalog_rater_changelist")
    by_id = admin_client.get(f"{url}?q=196")
    by_zip = admin_client.get(f"{url}?q=t8h")
    assert [r.ml_id for r in by_id.context["cl"].result_list] == [196]
    assert [r.ml_id for r in by_zip.context["cl"].result_list] == [196]


def test_rater_filters(admin_client: Client) -> None:
    make_rater(ml_id=1, gender="F", occupation="writer")
    make_rater(ml_id=2, gender="M", occupation="writer")
    make_rater(ml_id=3, gender="F", occupation="doctor")
    page = admin_client.get(
        reverse("admin:catalog_rater_changelist") + "?gender=F&occupation=writer"
    )
    assert [r.ml_id for r in page.context["cl"].result_list] == [1]


def _change_urls() -> dict[str, str]:
    _populate(5)
    return {
        "genre": reverse("admin:catalog_genre_change", args=[_first(Genre)]),
        "movie": reverse("admin:catalog_movie_change", args=[_first(Movie)]),
        "rater": reverse("admin:catalog_rater_change", args=[_first(Rater)]),
        "rating": reverse("admin:catalog_rating_change", args=[_first(Rating)]),
        "genre add": reverse("admin:catalog_genre_add"),
        "movie add": reverse("admin:catalog_movie_add"),
        "rater add": reverse("admin:catalog_rater_add"),
        "rating add": reverse("admin:catalog_rating_add"),
    }


# Session and user, the object, then: the movie's genres and all genres for the picker; the
# rating's selected rater and movie for the two autocomplete widgets.
FORM_BOUNDS = {
    "genre": 3, "movie": 5, "rater": 3, "rating": 5,
    "genre add": 2, "movie add": 3, "rater add": 2, "rating add": 2,
}  # fmt: skip


@pytest.mark.parametrize("page", FORM_BOUNDS)
def test_change_and_add_forms_render_in_bounded_queries(admin_client: Client, page: str) -> None:
    url = _change_urls()[page]
    status, few, _ = _get(admin_client, url)
    _populate(30)
    status, many, html = _get(admin_client, url)
    assert status == 200
    assert many == few
    assert many <= FORM_BOUNDS[page]
    # Rating forms pick movies and raters by autocomplete, never a 1,682-option <select>.
    if page.startswith("rating"):
        assert html.count("<option") <= 8
        assert 'data-model-name="movie"' in html or "admin-autocomplete" in html


def test_rating_autocomplete_finds_movies_by_title_and_raters_by_id(admin_client: Client) -> None:
    make_movie(title="Heat (1995)")
    make_movie(title="Fargo (1996)")
    rater = make_rater(ml_id=196)
    make_rater(ml_id=197)
    url = reverse("admin:autocomplete")
    common = "app_label=catalog&model_name=rating"

    movies = admin_client.get(f"{url}?{common}&field_name=movie&term=hea").json()
    raters = admin_client.get(f"{url}?{common}&field_name=rater&term=196").json()

    assert [item["text"] for item in movies["results"]] == ["Heat (1995)"]
    assert raters["results"] == [{"id": str(rater.pk), "text": "Rater 196"}]


def test_new_movie_without_movielens_id_gets_the_next_free_one(admin_client: Client) -> None:
    make_movie(ml_id=1682)
    drama = make_genre(name="Drama")
    response = admin_client.post(
        reverse("admin:catalog_movie_add"),
        {"ml_id": "", "title": "Brand New (2025)", "imdb_url": "", "genres": [drama.pk]},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    movie = Movie.objects.get(title="Brand New (2025)")
    assert movie.ml_id == 1683
    assert list(movie.genres.all()) == [drama]


def test_movielens_id_cannot_be_changed_once_set(admin_client: Client) -> None:
    movie = make_movie(ml_id=42, title="Old (1990)")
    response = admin_client.post(
        reverse("admin:catalog_movie_change", args=[movie.pk]),
        {"ml_id": "99", "title": "New (1990)", "imdb_url": "", "genres": []},
    )
    assert response.status_code == 302
    movie.refresh_from_db()
    assert (movie.ml_id, movie.title) == (42, "New (1990)")


def test_rating_form_refuses_out_of_range_values(admin_client: Client) -> None:
    rater, movie = make_rater(), make_movie()
    response = admin_client.post(
        reverse("admin:catalog_rating_add"),
        {
            "rater": rater.pk,
            "movie": movie.pk,
            "rating": "6",
            "rated_at_0": "1998-01-01",
            "rated_at_1": "00:00:00",
        },
    )
    assert response.status_code == 200
    assert (
        "Select a valid choice. 6 is not one of the available choices." in response.content.decode()
    )
    assert Rating.objects.count() == 0


def test_staff_with_view_permission_only_can_browse(client: Client) -> None:
    _populate(3)
    staff = User.objects.create_user("viewer", password="x", is_staff=True)
    staff.user_permissions.set(
        Permission.objects.filter(content_type__app_label="catalog", codename__startswith="view_")
    )
    client.force_login(staff)
    assert client.get(reverse("admin:catalog_movie_changelist")).status_code == 200
    assert client.get(reverse("admin:catalog_rating_changelist")).status_code == 200
    assert client.get(reverse("admin:catalog_movie_add")).status_code == 403


@pytest.mark.parametrize(("name", "query", "bound"), CHANGELISTS.values(), ids=CHANGELISTS.keys())
def test_if_changelist_opened_then_no_query_reads_every_rating(
    admin_client: Client, django_assert_max_num_queries: Any, name: str, query: str, bound: int
) -> None:
    _populate(3)
    genre = Genre.objects.get(name="Drama").pk
    url = reverse(f"admin:{name}") + query.format(movie=_first(Movie), genre=genre)
    admin_client.get(url)
    with django_assert_max_num_queries(bound + _estimate_query(query)) as queries:
        response = admin_client.get(url)
    assert response.status_code == 200
    for sql in (query["sql"] for query in queries.captured_queries):
        # date_hierarchy's DISTINCT over every rating's year, aggregates over the whole rating
        # table joined to each movie or rater, and counts that computed them for every row
        # are what made these pages slow.
        assert "trunc" not in sql.lower()
        assert 'LEFT OUTER JOIN "catalog_rating"' not in sql
        if sql.startswith("SELECT COUNT(*)"):
            assert '"rating_count"' not in sql
            assert "LIMIT 10001" in sql or "LIMIT 50000" in sql or " WHERE " not in sql


def _ratings_on(*days: datetime) -> None:
    movie, rater = make_movie(), make_rater()
    for day in days:
        Rating.objects.create(rater=rater, movie=movie, rating=4, rated_at=day)
        movie, rater = make_movie(), make_rater()


def test_if_ratings_filtered_by_year_or_month_then_only_that_period_lists(
    admin_client: Client,
) -> None:
    _ratings_on(
        datetime(1997, 12, 31, 23, 59, tzinfo=UTC),
        datetime(1998, 1, 1, tzinfo=UTC),
        datetime(1998, 3, 15, tzinfo=UTC),
        datetime(1999, 1, 1, tzinfo=UTC),
    )
    url = reverse("admin:catalog_rating_changelist")

    def listed(query: str) -> list[str]:
        response = admin_client.get(url + query)
        assert response.status_code == 200
        return [r.rated_at.date().isoformat() for r in response.context["cl"].result_list]

    assert listed("?rated=1998") == ["1998-03-15", "1998-01-01"]
    assert listed("?rated=1998-03") == ["1998-03-15"]
    assert listed("?rated=1997-12") == ["1997-12-31"]
    assert listed("?rated=1999-01") == ["1999-01-01"]
    assert listed("?rated=nonsense") == ["1999-01-01", "1998-03-15", "1998-01-01", "1997-12-31"]
    page = admin_client.get(url).content.decode()
    assert re.findall(r'href="\?rated=(\d{4})"', page) == ["1999", "1998", "1997"]
    months = admin_client.get(url + "?rated=1998").content.decode()
    assert re.findall(r'href="\?rated=(1998-\d\d)"', months) == [
        f"1998-{m:02d}" for m in range(1, 13)
    ]


def test_if_rater_searched_by_occupation_then_found(admin_client: Client) -> None:
    make_rater(ml_id=1, occupation="doctor")
    make_rater(ml_id=2, occupation="writer")
    page = admin_client.get(reverse("admin:catalog_rater_changelist") + "?q=doct")
    assert [r.ml_id for r in page.context["cl"].result_list] == [1]


def test_if_filtered_list_is_longer_than_the_cap_then_count_says_more_than(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_admin, "COUNT_CAP", 3)
    _ratings_on(*(datetime(1998, 1, day, tzinfo=UTC) for day in range(1, 6)))
    url = reverse("admin:catalog_rating_changelist")
    capped = admin_client.get(url + "?rated=1998").content.decode()
    assert re.search(r"\smore than 3 ratings\s", capped)
    searched = admin_client.get(url + "?q=movie").content.decode()
    assert '<span class="small quiet">more than 3 results (' in searched
    exact = admin_client.get(url + "?rated=1998-01&rating=4").content.decode()
    assert re.search(r"\s5 ratings\s", exact) is None  # still capped: 5 > 3
    few = admin_client.get(url + f"?rater__id__exact={_first(Rater)}").content.decode()
    assert re.search(r"\s1 rating\s", few)
    whole = admin_client.get(url).content.decode()
    assert re.search(r"\s5 ratings\s", whole)  # unfiltered: counted (or estimated)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="Postgres statistics")
def test_if_table_is_large_by_postgres_estimate_then_count_says_about(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_admin, "ESTIMATE_ABOVE", 2)
    _ratings_on(*(datetime(1998, 1, day, tzinfo=UTC) for day in range(1, 6)))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE catalog_rating")
    page = admin_client.get(reverse("admin:catalog_rating_changelist")).content.decode()
    assert re.search(r"\sabout 5 ratings\s", page)


def test_if_view_site_followed_then_it_opens_the_api_docs(admin_client: Client) -> None:
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert '<a href="/api/docs/">View site</a>' in page


def test_if_ratings_searched_then_every_word_must_be_in_the_title(admin_client: Client) -> None:
    for day, title in enumerate(("Star Wars (1977)", "Star Trek (1979)", "Wars of Roses (1990)")):
        Rating.objects.create(
            rater=make_rater(),
            movie=make_movie(title=title),
            rating=4,
            rated_at=datetime(1998, 1, 1 + day, tzinfo=UTC),
        )
    url = reverse("admin:catalog_rating_changelist")

    def found(term: str) -> list[str]:
        response = admin_client.get(url, {"q": term})
        return sorted(r.movie.title for r in response.context["cl"].result_list)

    assert found("star") == ["Star Trek (1979)", "Star Wars (1977)"]
    newest = admin_client.get(url, {"q": "star"}).context["cl"].result_list
    assert [r.movie.title for r in newest] == ["Star Trek (1979)", "Star Wars (1977)"]
    oldest = admin_client.get(url, {"q": "star", "o": "4"}).context["cl"].result_list
    assert [r.movie.title for r in oldest] == ["Star Wars (1977)", "Star Trek (1979)"]
    assert found("wars STAR") == ["Star Wars (1977)"]
    assert found("nothing") == []
