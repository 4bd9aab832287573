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
