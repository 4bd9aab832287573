"""recommender: the model registry in admin (metrics beside baselines, activate, roll back)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.http import HttpRequest

from recommender import registry
from recommender.errors import ModelRejected
from recommender.models import FeedbackPerson, FeedbackRating, ModelVersion
from recommender.services import feedback_delete_for_keys


def _figure(version: ModelVersion, *path: str) -> str:
    value: Any = version.metrics
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return f"{value:.4f}" if isinstance(value, float) else "-"


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = [
        "version",
        "created_at",
        "is_active",
        "ndcg",
        "precision",
        "like_popularity_ndcg",
        "count_popularity_ndcg",
        "distinct_lists",
        "gate_passed",
    ]
    list_filter = ["is_active"]
    ordering = ["-version"]
    actions = ["activate", "roll_back"]
    readonly_fields = [
        "version",
        "created_at",
        "is_active",
        "activated_at",
        "seed",
        "params",
        "metrics",
        "gate",
        "data_fingerprint",
        "library_versions",
        "artifact_sha256",
        "artifact_size",
        "train_seconds",
    ]
    exclude = ["artifact"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ModelVersion]:
        # The artifact is hundreds of kB a row: never load it for a list or a form.
        return super().get_queryset(request).defer("artifact")

    @admin.display(description="NDCG@10")
    def ndcg(self, obj: ModelVersion) -> str:
        return _figure(obj, "ndcg_at_10")

    @admin.display(description="P@10")
    def precision(self, obj: ModelVersion) -> str:
        return _figure(obj, "precision_at_10")

    @admin.display(description="pop-likes NDCG@10")
    def like_popularity_ndcg(self, obj: ModelVersion) -> str:
        return _figure(obj, "baselines", "popularity_likes", "ndcg_at_10")

    @admin.display(description="pop-count NDCG@10")
    def count_popularity_ndcg(self, obj: ModelVersion) -> str:
        return _figure(obj, "baselines", "popularity_count", "ndcg_at_10")

    @admin.display(description="distinct top-10 lists")
    def distinct_lists(self, obj: ModelVersion) -> str:
        return str(obj.metrics.get("distinct_lists", "-"))

    @admin.display(description="gate", boolean=True)
    def gate_passed(self, obj: ModelVersion) -> bool | None:
        passed = obj.gate.get("passed")
        return bool(passed) if passed is not None else None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # versions come from `train_model`, never from a form

    def has_change_permission(self, request: HttpRequest, obj: ModelVersion | None = None) -> bool:
        return False  # a version's record is history: read-only

    def has_delete_permission(self, request: HttpRequest, obj: ModelVersion | None = None) -> bool:
        return obj is None or not obj.is_active

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
        per_key = (
            FeedbackPerson.objects.filter(api_key=OuterRef("api_key"))
            .order_by()
            .values("api_key")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(ratings_count=Count("ratings"), key_people_count=Subquery(per_key))
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
