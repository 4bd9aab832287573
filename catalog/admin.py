"""catalog: admin. Built for millions of ratings: every list costs a fixed number of queries,
and none of them reads the whole rating table.

Rating counts and means come from one grouped query over the page's rows (an index answers
it), foreign keys come from ``list_select_related``, genre lists from one prefetch,
and rating forms pick raters and movies through autocomplete instead of rendering every
option. The paginator never counts a large table in full: Postgres's own row estimate stands
in for an unfiltered count, and a filtered count stops at ``COUNT_CAP``. The ratings' date
filter takes its years from the first and last rating (two index lookups) instead of
``date_hierarchy``'s ``SELECT DISTINCT`` over every rating.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cached_property
from typing import Any, cast

from django import forms
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db import connections, models
from django.db.models import Avg, Count, QuerySet
from django.db.models.functions import Coalesce, ExtractYear
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from catalog.models import Genre, Movie, Rater, Rating


class _MlIdForm(forms.ModelForm):
    """Staff may leave the MovieLens id empty on a new row: it then gets the next free one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "ml_id" in self.fields:
            self.fields["ml_id"].required = False
            self.fields["ml_id"].help_text = "Leave empty to use the next free id."

    def clean_ml_id(self) -> int:
        value = self.cleaned_data.get("ml_id")
        if value is None:
            return self._meta.model._default_manager.next_ml_id()
        return value


# A filtered list counts at most this many rows ("more than 10,000 ratings").
COUNT_CAP = 10_000
# Below this many rows (by Postgres's estimate) an exact count is cheap: do it.
ESTIMATE_ABOVE = 100_000
# Searched ratings fewer than this are sorted rather than met on the newest-first index.
SORT_BELOW = 50_000


class LargeTablePaginator(Paginator):
    """A paginator whose count costs the same at 100 thousand and 10 million rows."""

    count_kind = "exact"  # or "estimate" (Postgres statistics) or "capped" (at COUNT_CAP)

    @cached_property
    def count(self) -> int:
        listed = cast(QuerySet[Any], self.object_list)  # the admin paginates querysets
        # Only the keys: the page's subqueries (rating counts, means) stay out of the count.
        queryset = listed.order_by().values("pk")
        if not queryset.query.where:
            estimate = _estimated_rows(queryset)
            if estimate is not None and estimate > ESTIMATE_ABOVE:
                self.count_kind = "estimate"
                return estimate
            return queryset.count()
        counted = queryset[: COUNT_CAP + 1].count()
        if counted > COUNT_CAP:
            self.count_kind = "capped"
            return COUNT_CAP
        return counted

    @property
    def count_label(self) -> str:
        prefix = {"estimate": "about ", "capped": "more than "}.get(self.count_kind, "")
        return f"{prefix}{self.count:,}"


def _estimated_rows(queryset: QuerySet[Any]) -> int | None:
    """The planner's row estimate of the queryset's table, or None where there is none."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
            [queryset.model._meta.db_table],
        )
        row = cursor.fetchone()
    # -1: never analysed or vacuumed yet.
    return int(row[0]) if row and row[0] >= 0 else None


class RatingStatsChangeList(ChangeList):
    """A changelist that adds ``rating_count`` and ``rating_mean`` to the rows of its page
    with one grouped query over those rows' ratings (answered from an index), instead of an
    aggregate over every rating or a subquery the planner costs as if run for every row."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        rows = list(self.result_list)  # fills the queryset's cache, which the page renders
        field = self.model_admin.rating_stats_field  # type: ignore[attr-defined]
        stats = {
            row[field]: row
            for row in Rating.objects.filter(**{f"{field}__in": [obj.pk for obj in rows]})
            .order_by()
            .values(field)
            .annotate(count=Count("*"), mean=Avg("rating"))
        }
        for obj in rows:
            found = stats.get(obj.pk, {})
            obj.rating_count = found.get("count", 0)
            obj.rating_mean = found.get("mean")


def _is_changelist(request: HttpRequest) -> bool:
    match = request.resolver_match
    return bool(match and match.url_name and match.url_name.endswith("_changelist"))


def _ratings_link(field: str, pk: int, count: int) -> str:
    url = reverse("admin:catalog_rating_changelist") + f"?{field}__id__exact={pk}"
    return format_html('<a href="{}">{}</a>', url, count)


@admin.register(Genre)
class GenreAdmin(admin.ModelAdmin):
    list_display = ("name", "ml_id", "movie_count")
    search_fields = ("name",)
    ordering = ("ml_id",)
    paginator = LargeTablePaginator

    def get_queryset(self, request: HttpRequest) -> QuerySet[Genre]:
        return super().get_queryset(request).annotate(movie_count=Count("movies"))

    @admin.display(description="movies", ordering="movie_count")
    def movie_count(self, genre: Genre) -> int:
        return genre.movie_count  # type: ignore[attr-defined]


class ReleaseYearFilter(admin.SimpleListFilter):
    title = "release year"
    parameter_name = "release_year"
    _NONE = "none"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        years = (
            Movie.objects.filter(release_date__isnull=False)
            .annotate(year=ExtractYear("release_date"))
            .order_by("-year")
            .values_list("year", flat=True)
            .distinct()
        )
        return [(str(year), str(year)) for year in years] + [(self._NONE, "No date")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Movie]) -> QuerySet[Movie]:
        value = self.value()
        if value == self._NONE:
            return queryset.filter(release_date__isnull=True)
        if value and value.isdigit():
            return queryset.filter(release_date__year=int(value))
        return queryset


@admin.register(Movie)
class MovieAdmin(admin.ModelAdmin):
    form = _MlIdForm
    list_display = (
        "title",
        "ml_id",
        "release_date",
        "genre_list",
        "rating_count",
        "rating_mean",
    )
    list_display_links = ("title",)
    list_filter = ("genres", ReleaseYearFilter)
    search_fields = ("title",)
    ordering = ("ml_id",)
    filter_horizontal = ("genres",)
    # Django 6 will assume https for scheme-less URLs; say so now (and silence the warning).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fields = ("ml_id", "title", "release_date", "video_release_date", "imdb_url", "genres")
    readonly_fields = ("updated_at",)
    list_per_page = 100
    show_full_result_count = False  # the filtered count is enough; skip a second COUNT(*)
    paginator = LargeTablePaginator

    rating_stats_field = "movie"

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return RatingStatsChangeList

    def get_queryset(self, request: HttpRequest) -> QuerySet[Movie]:
        queryset = super().get_queryset(request)
        if _is_changelist(request):
            queryset = queryset.prefetch_related("genres")
        return queryset

    def get_readonly_fields(self, request: HttpRequest, obj: Movie | None = None) -> Any:
        # The ingest matches on ml_id: changing it would make the next run add a duplicate.
        return (*self.readonly_fields, "ml_id") if obj is not None else self.readonly_fields

    def get_fields(self, request: HttpRequest, obj: Movie | None = None) -> Any:
        return (*self.fields, "updated_at") if obj is not None else self.fields

    @admin.display(description="genres")
    def genre_list(self, movie: Movie) -> str:
        return ", ".join(genre.name for genre in movie.genres.all())

    # Not sortable: ordering by them would aggregate every rating, not just a page's.
    @admin.display(description="ratings")
    def rating_count(self, movie: Movie) -> str:
        count = movie.rating_count  # type: ignore[attr-defined]
        return _ratings_link("movie", movie.pk, count)

    @admin.display(description="mean rating")
    def rating_mean(self, movie: Movie) -> str:
        mean = movie.rating_mean  # type: ignore[attr-defined]
        return "-" if mean is None else f"{mean:.2f}"


@admin.register(Rater)
class RaterAdmin(admin.ModelAdmin):
    form = _MlIdForm
    list_display = ("__str__", "ml_id", "age", "gender", "occupation", "zip_code", "rating_count")
    list_filter = ("gender", "occupation")
    # "=ml_id" so that the rating form's autocomplete finds "Rater 196" by typing 196;
    # "occupation" so that "doctor" finds the doctors.
    search_fields = ("=ml_id", "zip_code", "occupation")
    ordering = ("ml_id",)
    list_per_page = 100
    show_full_result_count = False
    paginator = LargeTablePaginator

    rating_stats_field = "rater"

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return RatingStatsChangeList

    def get_readonly_fields(self, request: HttpRequest, obj: Rater | None = None) -> Any:
        return ("ml_id",) if obj is not None else ()

    @admin.display(description="ratings")
    def rating_count(self, rater: Rater) -> str:
        count = rater.rating_count  # type: ignore[attr-defined]
        return _ratings_link("rater", rater.pk, count)


class RatedFilter(admin.SimpleListFilter):
    """Year, then month, of the rating: the choices span the first to the last rating, read
    from the ends of the rated_at index (date_hierarchy would scan every row for them)."""

    title = "rated"
    parameter_name = "rated"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        dates = Rating.objects.order_by("rated_at").values_list("rated_at", flat=True)
        first, last = dates.first(), dates.reverse().first()
        if first is None or last is None:
            return []
        years = [(str(year), str(year)) for year in range(last.year, first.year - 1, -1)]
        chosen = self._period()
        if chosen is None:
            return years
        year = chosen[0]
        months = [(f"{year}-{month:02d}", f"{year}-{month:02d}") for month in range(1, 13)]
        return [(str(year), str(year)), *months]

    def _period(self) -> tuple[int, int | None] | None:
        value = self.value() or ""
        year, _, month = value.partition("-")
        if not (year.isdigit() and len(year) == 4):
            return None
        if not month:
            return int(year), None
        if month.isdigit() and 1 <= int(month) <= 12:
            return int(year), int(month)
        return None

    def queryset(self, request: HttpRequest, queryset: QuerySet[Rating]) -> QuerySet[Rating]:
        period = self._period()
        if period is None:
            return queryset
        year, month = period
        if month is None:
            start, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
        else:
            start = datetime(year, month, 1, tzinfo=UTC)
            end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        # A range on the indexed column (not __year, which some backends cannot index).
        return queryset.filter(rated_at__gte=start, rated_at__lt=end)


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ("rater", "movie", "rating", "rated_at")
    list_select_related = ("rater", "movie")
    list_filter = ("rating", RatedFilter)
    autocomplete_fields = ("rater", "movie")
    search_fields = ("movie__title",)
    ordering = ("-rated_at", "-pk")
    list_per_page = 100
    show_full_result_count = False
    paginator = LargeTablePaginator

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Rating], search_term: str
    ) -> tuple[QuerySet[Rating], bool]:
        # The matching movies first, as a list of ids: the planner then knows how few they
        # are and reads their ratings by index, instead of walking the newest-first index
        # through millions of ratings in the hope of meeting them. Every word must match.
        words = search_term.split()
        if not words:
            return queryset, False
        movies = Movie.objects.all()
        for word in words:
            movies = movies.filter(title__icontains=word)
        ids = list(movies.values_list("pk", flat=True))
        matches = queryset.filter(movie_id__in=ids)
        # The list's default order (the changelist repeats its fields), not a column's.
        if tuple(dict.fromkeys(matches.query.order_by)) == self.ordering:
            few = Rating.objects.filter(movie_id__in=ids).order_by()[:SORT_BELOW].count()
            if few < SORT_BELOW:
                # Sorting a few thousand matches beats walking the newest-first index past
                # millions of other ratings to meet them, but the planner cannot know how
                # the matches fall in time: the same order, on an expression no index has.
                newest = Coalesce("rated_at", "rated_at").desc()
                matches = matches.order_by(newest, "-pk")
        return matches, False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Rating]:
        # The change form's title and breadcrumbs print str(rating): rater and movie.
        return super().get_queryset(request).select_related("rater", "movie")
