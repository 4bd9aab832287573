"""recommender: the model registry, one row per trained version."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class ModelVersion(models.Model):
    """A trained model with its evaluation, provenance and artifact.

    The artifact bytes live in the database, so every web worker and replica can load the
    active version with nothing but a database connection (no shared volume to keep in sync).
    """

    version = models.PositiveIntegerField(unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    seed = models.IntegerField()
    params = models.JSONField(default=dict)
    # The EvaluationReport: model metrics, per fold and per segment, and the baselines.
    metrics = models.JSONField(default=dict)
    # What the gate said when this version was trained (or last tried for activation).
    gate = models.JSONField(default=dict)
    data_fingerprint = models.CharField(max_length=64)
    library_versions = models.JSONField(default=dict)
    artifact = models.BinaryField(editable=False)
    artifact_sha256 = models.CharField(max_length=64, editable=False)
    # HMAC-SHA256 of version + artifact under MODEL_SIGNING_KEY (recommender.ml.artifacts.sign).
    # Empty on versions trained before artifacts were signed: those are refused, retrain.
    artifact_signature = models.CharField(max_length=64, blank=True, default="", editable=False)
    artifact_size = models.PositiveIntegerField(editable=False)
    train_seconds = models.FloatField(default=0.0)
    is_active = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-version"]
        permissions = [("activate_modelversion", "Can activate or roll back a model version")]
        constraints = [
            # At most one active version, enforced by the database itself.
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="one_active_model_version"
            ),
        ]

    def __str__(self) -> str:
        return f"v{self.version}{' (active)' if self.is_active else ''}"

    @property
    def ndcg_at_10(self) -> float | None:
        value = self.metrics.get("ndcg_at_10")
        return float(value) if value is not None else None


class FeedbackPerson(models.Model):
    """A person some client sent ratings for: demographics only, never a name or contact.

    ``client_ref`` is the client's opaque id for the person (unique per key), so later calls
    add to the same person; without one, each call is a person of its own.
    """

    api_key = models.ForeignKey(
        "accounts.ApiKey", on_delete=models.CASCADE, related_name="feedback_people"
    )
    # "" when the client sent none (a person of one call).
    client_ref = models.CharField(max_length=64, blank=True, default="")
    age = models.PositiveSmallIntegerField()
    gender = models.CharField(max_length=1)
    occupation = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Last time feedback arrived for this person: retention counts from here.
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "feedback people"
        constraints = [
            models.UniqueConstraint(
                fields=["api_key", "client_ref"],
                condition=~Q(client_ref=""),
                name="feedback_person_one_per_client_ref",
            ),
        ]

    def __str__(self) -> str:
        return f"feedback person {self.client_ref or self.pk}"


class FeedbackRating(models.Model):
    """One movie's stars from a feedback person; a later rating of the same movie replaces it."""

    person = models.ForeignKey(FeedbackPerson, on_delete=models.CASCADE, related_name="ratings")
    movie = models.ForeignKey("catalog.Movie", on_delete=models.CASCADE, related_name="+")
    rating = models.SmallIntegerField()
    rated_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["person", "movie"], name="feedback_rating_one_per_movie"
            ),
            models.CheckConstraint(
                condition=Q(rating__gte=1) & Q(rating__lte=5), name="feedback_rating_1_to_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} → {self.movie_id}: {self.rating}"
