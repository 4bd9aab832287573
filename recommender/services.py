"""recommender: services for training, evaluating and serving recommendations."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from recommender import registry
from recommender.datasets import training_frames
from recommender.errors import TrainingDataMissing
from recommender.ml.evaluation import EvaluationReport, evaluate
from recommender.ml.profile import Profile
from recommender.ml.training import TrainParams, train
from recommender.models import ModelVersion
from recommender.registry import GateVerdict

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainOutcome:
    version: ModelVersion
    gate: GateVerdict
    activated: bool
    champion: ModelVersion | None
    # True when nothing was trained: the active version was fitted on this very data.
    skipped: bool = False


def model_train(
    *,
    seed: int = 42,
    activate: bool = True,
    params: TrainParams | None = None,
    progress: Progress | None = None,
    if_stale: bool = False,
) -> TrainOutcome:
    """Fit on every rating in the database, evaluate on held-out raters, store the version.

    The version is always recorded with the gate's verdict, so a refused candidate can be
    inspected; with ``activate`` it serves only if the gate passes (``outcome.activated``).
    With ``if_stale`` nothing is trained while the active version was fitted on the same
    data with the same parameters and its artifact can still be served (a second
    `docker compose up` retrains nothing; an unsigned or refused artifact is replaced).
    Raises TrainingDataMissing when there is nothing to train on.
    """
    say = progress or (lambda message: None)
    params = params or TrainParams()
    say("reading ratings from the database")
    frames = training_frames()
    if frames.ratings.empty:
        raise TrainingDataMissing(
            "There are no ratings to train on: run `python manage.py ingest_movielens`."
        )
    fingerprint = frames.fingerprint()
    champion = registry.champion()
    if (
        if_stale
        and champion is not None
        and champion.data_fingerprint == fingerprint
        and champion.params == params.to_dict()
        and registry.artifact_usable(champion)
    ):
        return TrainOutcome(
            version=champion,
            gate=cast(GateVerdict, champion.gate),
            activated=False,
            champion=champion,
            skipped=True,
        )
    started = time.perf_counter()
    say(f"evaluating on held-out raters ({len(frames.ratings)} ratings, 5 folds)")
    report = evaluate(
        frames.ratings, frames.raters, frames.movies, params=params, seed=seed, progress=say
    )
    say("fitting on all raters")
    model = train(frames.ratings, frames.raters, frames.movies, params=params, seed=seed)
    elapsed = time.perf_counter() - started
    version = registry.model_version_register(
        model=model,
        report=report,
        seed=seed,
        data_fingerprint=fingerprint,
        train_seconds=elapsed,
        gate={},
    )
    gate = registry.gate_decision(version, against=champion)
    ModelVersion.objects.filter(pk=version.pk).update(gate=gate)
    version.gate = gate
    activated = False
    if activate and gate["passed"]:
        registry.model_version_activate(version=version)
        activated = True
    return TrainOutcome(version=version, gate=gate, activated=activated, champion=champion)


def model_evaluate(*, version: int | None = None) -> dict[str, object]:
    """The stored evaluation of a version (default: the active one); raises DoesNotExist."""
    queryset = ModelVersion.objects.defer("artifact")
    row = queryset.get(version=version) if version is not None else queryset.get(is_active=True)
    return {
        "version": row.version,
        "created_at": row.created_at.isoformat(),
        "is_active": row.is_active,
        "seed": row.seed,
        "params": row.params,
        "data_fingerprint": row.data_fingerprint,
        "library_versions": row.library_versions,
        "artifact_sha256": row.artifact_sha256,
        "train_seconds": row.train_seconds,
        "gate": row.gate,
        "evaluation": row.metrics,
    }


def recommendations_for(*, profile: Profile, limit: int) -> tuple[int, list[str]]:
    """Titles of the ``limit`` movies ``profile`` most likely rates 4-5 stars, best first.

    Returns (model version, titles). No database query: the model, the titles and the
    answers already computed are held in memory by the registry. Raises ModelNotReady when
    no version can serve.
    """
    loaded = registry.active_model()
    return loaded.version, loaded.titles_for(profile, limit)


def evaluation_report(version: ModelVersion) -> EvaluationReport:
    return EvaluationReport.from_dict(version.metrics)
