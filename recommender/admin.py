"""recommender: the model registry in admin: the evaluation report with charts, activate, roll
back, and the serving version protected from deletion."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.db.models import Count, FloatField, OuterRef, QuerySet, Subquery
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from recommender import registry
from recommender.errors import ModelRejected
from recommender.models import FeedbackPerson, FeedbackRating, ModelVersion
from recommender.reports import version_report_document, version_report_fragment, version_state
from recommender.services import feedback_delete_for_keys


def _figure(version: ModelVersion, *path: str) -> float | None:
    value: Any = version.metrics
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) else None


def _pretty_json(value: Any) -> str:
    return format_html(
        "<pre style='margin:0'>{}</pre>", json.dumps(value, indent=2, sort_keys=True)
    )


_STATE_COLOURS = {
    "active": ("#fff", "#116329"),
    "passed gate": ("#116329", "#dff3e3"),
    "refused": ("#b0161b", "#fde2e1"),
    "not judged": ("#555", "#eee"),
}


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    # Seven narrow columns and no filter panel: the list fits 1400 px beside the admin's
    # navigation (the state column says what a filter would).
    list_display = [
        "version",
        "created",
        "state",
        "ndcg",
        "like_popularity_ndcg",
        "delta_to_champion",
        "report_link",
    ]
    ordering = ["-version"]
    actions = ["activate", "roll_back"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "version",
                    "state",
                    "created",
                    "activated",
                    "seed",
                    "train_time",
                    "data_fingerprint",
                    "artifact_sha256",
                    "artifact_size",
                ]
            },
        ),
        ("Parameters and libraries", {"fields": ["params_json", "library_versions_json"]}),
        (
            "Stored evaluation and gate (JSON)",
            {"classes": ["collapse"], "fields": ["gate_json", "metrics_json"]},
        ),
    ]
    readonly_fields = [
        "version",
        "state",
        "created",
        "activated",
        "seed",
        "train_time",
        "data_fingerprint",
        "artifact_sha256",
        "artifact_size",
        "params_json",
        "library_versions_json",
        "gate_json",
        "metrics_json",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ModelVersion]:
        # The artifact is hundreds of kB a row: never load it for a list or a form. The
        # champion's NDCG comes along in the same query, for the delta column.
        champion_ndcg = (
            ModelVersion.objects.filter(is_active=True)
            .annotate(value=Cast(KT("metrics__ndcg_at_10"), FloatField()))
            .values("value")[:1]
        )
        return (
            super()
            .get_queryset(request)
            .defer("artifact")
            .annotate(champion_ndcg=Subquery(champion_ndcg))
        )

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: ModelVersion) -> str:
        return timezone.localtime(obj.created_at).strftime("%Y-%m-%d %H:%M %Z")

    @admin.display(description="activated")
    def activated(self, obj: ModelVersion) -> str:
        if obj.activated_at is None:
            return "never"
        return timezone.localtime(obj.activated_at).strftime("%Y-%m-%d %H:%M %Z")

    @admin.display(description="state", ordering="is_active")
    def state(self, obj: ModelVersion) -> str:
        label = version_state(obj)
        colour, background = _STATE_COLOURS[label]
        return format_html(
            '<span style="color:{};background:{};padding:1px 7px;border-radius:9px;'
            'white-space:nowrap">{}</span>',
            colour,
            background,
            label,
        )

    @admin.display(description="NDCG@10")
    def ndcg(self, obj: ModelVersion) -> str:
        value = _figure(obj, "ndcg_at_10")
        return "-" if value is None else f"{value:.4f}"

    @admin.display(description="like-popularity")
    def like_popularity_ndcg(self, obj: ModelVersion) -> str:
        value = _figure(obj, "baselines", "popularity_likes", "ndcg_at_10")
        return "-" if value is None else f"{value:.4f}"

    @admin.display(description="Δ champion")
    def delta_to_champion(self, obj: ModelVersion) -> str:
        if obj.is_active:
            return "champion"
        champion: float | None = getattr(obj, "champion_ndcg", None)
        value = _figure(obj, "ndcg_at_10")
        if champion is None or value is None:
            return "-"
        delta = value - champion
        colour = "#116329" if delta > 0 else "#b0161b" if delta < 0 else "#555"
        sign = "+" if delta >= 0 else "\N{MINUS SIGN}"  # as wide as "+": the column lines up
        text = f"{sign}{abs(delta):.4f}"
        return format_html('<span style="color:{}">{}</span>', colour, text)

    @admin.display(description="report")
    def report_link(self, obj: ModelVersion) -> str:
        return format_html(
            '<a href="{}">report</a>',
            reverse("admin:recommender_modelversion_report", args=[obj.pk]),
        )

    @admin.display(description="trained and evaluated in")
    def train_time(self, obj: ModelVersion) -> str:
        return f"{obj.train_seconds:.1f} s"

    @admin.display(description="parameters")
    def params_json(self, obj: ModelVersion) -> str:
        return _pretty_json(obj.params)

    @admin.display(description="library versions")
    def library_versions_json(self, obj: ModelVersion) -> str:
        return _pretty_json(obj.library_versions)

    @admin.display(description="gate")
    def gate_json(self, obj: ModelVersion) -> str:
        return _pretty_json(obj.gate)

    @admin.display(description="metrics")
    def metrics_json(self, obj: ModelVersion) -> str:
        return _pretty_json(obj.metrics)

    def get_urls(self) -> list[URLPattern]:
        report = self.admin_site.admin_view(self.report_view)
        return [
            path("<path:object_id>/report/", report, name="recommender_modelversion_report"),
            *super().get_urls(),
        ]

    def report_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The version's report as one self-contained, printable HTML page."""
        version = self.get_object(request, object_id)
        if version is None or not self.has_view_or_change_permission(request, version):
            raise Http404("No such model version.")
        document = version_report_document(version=version, champion=registry.champion())
        return HttpResponse(document, content_type="text/html; charset=utf-8")

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        version = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if version is not None:
            context["report"] = mark_safe(  # noqa: S308 - built from escaped parts
                version_report_fragment(version=version, champion=registry.champion())
            )
            context["report_url"] = reverse(
                "admin:recommender_modelversion_report", args=[version.pk]
            )
        return super().change_view(request, object_id, form_url, context)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        version = self.get_object(request, object_id)
        if version is not None and version.is_active:
            self.message_user(request, _protected_message([version]), messages.ERROR)
            return HttpResponseRedirect(
                reverse("admin:recommender_modelversion_change", args=[version.pk])
            )
        return super().delete_view(request, object_id, extra_context)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # Django's own action, except that it explains why the active version stays.
        actions: dict[str, Any] = dict(super().get_actions(request))
        entry = actions.get("delete_selected")
        if entry is not None:
            actions["delete_selected"] = (self._delete_selected, entry[1], entry[2])
        return actions

    @staticmethod
    def _delete_selected(
        modeladmin: ModelVersionAdmin, request: HttpRequest, queryset: QuerySet[ModelVersion]
    ) -> HttpResponse | None:
        active = [version for version in queryset if version.is_active]
        if active:
            modeladmin.message_user(request, _protected_message(active), messages.ERROR)
            return None
        return delete_selected(modeladmin, request, queryset)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # versions come from `train_model`, never from a form

    def has_change_permission(self, request: HttpRequest, obj: ModelVersion | None = None) -> bool:
        return False  # a version's record is history: read-only

    def has_activate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("recommender.activate_modelversion")

    @admin.action(
        description="Activate the selected version (through the gate)", permissions=["activate"]
    )
    def activate(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        self._activate(request, queryset, rollback=False)

    @admin.action(description="Roll back to the selected version", permissions=["activate"])
    def roll_back(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        self._activate(request, queryset, rollback=True)

    def _activate(
        self, request: HttpRequest, queryset: QuerySet[ModelVersion], *, rollback: bool
    ) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version.", messages.ERROR)
            return
        version = ModelVersion.objects.get(pk=queryset.get().pk)
        try:
            registry.model_version_activate(version=version, rollback=rollback)
        except ModelRejected as exc:
            self.message_user(
                request,
                f"Version {version.version} was not activated: {exc.message}",
                messages.ERROR,
            )
            return
        self.message_user(request, f"Version {version.version} is now active.", messages.SUCCESS)


class FeedbackRatingInline(admin.TabularInline):
    model = FeedbackRating
    fields = ("movie", "rating", "rated_at")
    readonly_fields = ("movie", "rating", "rated_at")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(FeedbackPerson)
class FeedbackPersonAdmin(admin.ModelAdmin):
    """Feedback people: filter by key and date; per-key counts; delete everything of a key."""

    list_display = [
        "id",
        "api_key",
        "client_ref",
        "age",
        "gender",
        "occupation",
        "n_ratings",
        "key_people",
        "created_at",
        "updated_at",
    ]
    list_filter = ["api_key", "created_at", "updated_at"]
    date_hierarchy = "created_at"
    search_fields = ["client_ref"]
    list_select_related = ["api_key"]
    fields = ("api_key", "client_ref", "age", "gender", "occupation", "created_at")
    readonly_fields = ("api_key", "client_ref", "age", "gender", "occupation", "created_at")
    inlines = [FeedbackRatingInline]
    actions = ["delete_keys_feedback"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[FeedbackPerson]:
        # Both counts are subqueries of the shown rows only: an aggregate over the join
        # grouped every person before the page was cut (1.9 s at 100,000 people).
        per_key = FeedbackPerson.objects.filter(api_key=OuterRef("api_key"))
        per_person = FeedbackRating.objects.filter(person=OuterRef("pk"))
        return (
            super()
            .get_queryset(request)
            .annotate(
                ratings_count=Coalesce(_row_count(per_person, "person"), 0),
                key_people_count=_row_count(per_key, "api_key"),
            )
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # feedback comes through the API only

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="ratings", ordering="ratings_count")
    def n_ratings(self, person: Any) -> int:
        return int(person.ratings_count)

    @admin.display(description="people from this key", ordering="key_people_count")
    def key_people(self, person: Any) -> int:
        return int(person.key_people_count)

    @admin.action(
        description="Delete all feedback sent with the selected people's API keys",
        permissions=["delete"],
    )
    def delete_keys_feedback(
        self, request: HttpRequest, queryset: QuerySet[FeedbackPerson]
    ) -> None:
        keys = sorted(set(queryset.values_list("api_key_id", flat=True)))
        deleted = feedback_delete_for_keys(api_key_ids=keys)
        self.message_user(
            request,
            f"Deleted {deleted} feedback people sent with {len(keys)} API key(s).",
            messages.SUCCESS,
        )


def _row_count(rows: QuerySet[Any], outer: str) -> Subquery:
    """COUNT(*) of ``rows`` (filtered on an OuterRef to ``outer``) as a subquery, computed
    for the shown rows only."""
    return Subquery(rows.order_by().values(outer).annotate(n=Count("pk")).values("n"))


def _protected_message(versions: list[ModelVersion]) -> str:
    names = ", ".join(str(version.version) for version in versions)
    return (
        f"Version {names} is active: it serves /api/recommend, so it cannot be deleted. "
        "Activate or roll back to another version first, then delete this one."
    )
