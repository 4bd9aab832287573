"""catalog: admin. Built for 100,000 ratings: every list costs a fixed number of queries.

Counts and averages come from annotations, foreign keys from ``list_select_related``, genre
lists from one prefetch, and rating forms pick raters and movies through autocomplete instead
of rendering 1,682 options.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db import models
from django.db.models import Avg, Count, QuerySet
from django.db.models.functions import ExtractYear
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

    def get_queryset(self, request: HttpRequest) -> QuerySet[Movie]:
        queryset = super().get_queryset(request)
        if _is_changelist(request):
            # Only the list needs these: annotating the change form's lookup would aggregate
            # the movie's ratings for nothing.
            queryset = queryset.annotate(
                rating_count=Count("ratings"), rating_mean=Avg("ratings__rating")
            ).prefetch_related("genres")
        return queryset

    def get_readonly_fields(self, request: HttpRequest, obj: Movie | None = None) -> Any:
        # The ingest matches on ml_id: changing it would make the next run add a duplicate.
        return (*self.readonly_fields, "ml_id") if obj is not None else self.readonly_fields

    def get_fields(self, request: HttpRequest, obj: Movie | None = None) -> Any:
        return (*self.fields, "updated_at") if obj is not None else self.fields

    @admin.display(description="genres")
    def genre_list(self, movie: Movie) -> str:
        return ", ".join(genre.name for genre in movie.genres.all())

    @admin.display(description="ratings", ordering="rating_count")
    def rating_count(self, movie: Movie) -> str:
        return _ratings_link("movie", movie.pk, movie.rating_count)  # type: ignore[attr-defined]

    @admin.display(description="mean rating", ordering="rating_mean")
    def rating_mean(self, movie: Movie) -> str:
        mean = movie.rating_mean  # type: ignore[attr-defined]
        return "-" if mean is None else f"{mean:.2f}"


@admin.register(Rater)
class RaterAdmin(admin.ModelAdmin):
    form = _MlIdForm
    list_display = ("__str__", "ml_id", "age", "gender", "occupation", "zip_code", "rating_count")
    list_filter = ("gender", "occupation")
    # "=ml_id" so that the rating form's autocomplete finds "Rater 196" by typing 196.
    search_fields = ("=ml_id", "zip_code")
    ordering = ("ml_id",)
    list_per_page = 100

    def get_queryset(self, request: HttpRequest) -> QuerySet[Rater]:
        queryset = super().get_queryset(request)
        if _is_changelist(request):
            queryset = queryset.annotate(rating_count=Count("ratings"))
        return queryset

    def get_readonly_fields(self, request: HttpRequest, obj: Rater | None = None) -> Any:
        return ("ml_id",) if obj is not None else ()

    @admin.display(description="ratings", ordering="rating_count")
    def rating_count(self, rater: Rater) -> str:
        return _ratings_link("rater", rater.pk, rater.rating_count)  # type: ignore[attr-defined]


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ("rater", "movie", "rating", "rated_at")
    list_select_related = ("rater", "movie")
    list_filter = ("rating",)
    autocomplete_fields = ("rater", "movie")
    search_fields = ("movie__title",)
    date_hierarchy = "rated_at"
    ordering = ("-rated_at", "-pk")
    list_per_page = 100
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Rating]:
        # The change form's title and breadcrumbs print str(rating): rater and movie.
        return super().get_queryset(request).select_related("rater", "movie")
