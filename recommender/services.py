"""recommender: services for training, evaluating and serving recommendations."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import cast

import pandas as pd
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from recommender import registry
from recommender.datasets import feedback_frames, training_frames
from recommender.errors import FeedbackLimitReached, FeedbackPersonNotFound, TrainingDataMissing
from recommender.ml.evaluation import EvaluationReport, evaluate
from recommender.ml.filters import NO_YEAR, Filters, effective_filters
from recommender.ml.profile import Profile
from recommender.ml.training import TrainParams, train, with_segments
from recommender.ml.warm import WarmParams, fit_warm
from recommender.ml.warm_evaluation import WarmReport, evaluate_warm
from recommender.models import FeedbackPerson, FeedbackRating, ModelVersion
from recommender.registry import GateVerdict

Progress = Callable[[str], None]


def _no_feedback() -> tuple[pd.DataFrame, pd.DataFrame]:
    return (
        pd.DataFrame({"rater_id": [], "movie_id": [], "rating": []}, dtype="int64"),
        pd.DataFrame(
            {
                "rater_id": pd.Series([], dtype="int64"),
                "age": pd.Series([], dtype="int64"),
                "gender": pd.Series([], dtype=object),
                "occupation": pd.Series([], dtype=object),
            }
        ),
    )


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
    warm_params: WarmParams | None = None,
    progress: Progress | None = None,
    if_stale: bool = False,
    feedback: bool = True,
) -> TrainOutcome:
    """Fit on every rating in the database, evaluate on held-out raters, store the version.

    The version is always recorded with the gate's verdict, so a refused candidate can be
    inspected; with ``activate`` it serves only if the gate passes (``outcome.activated``).
    With ``if_stale`` nothing is trained while the active version was fitted on the same
    data with the same parameters and its artifact can still be served (a second
    `docker compose up` retrains nothing; an unsigned or refused artifact is replaced).
    With ``feedback`` the people sent to POST /api/feedback (except with revoked keys)
    join the training data; the evaluation still tests on the MovieLens raters alone.
    The warm-start item models are evaluated with their own protocol (k liked movies
    revealed) and fitted alongside; both evaluations are stored and gated.
    Raises TrainingDataMissing when there is nothing to train on.
    """
    say = progress or (lambda message: None)
    params = params or TrainParams()
    warm_params = warm_params or WarmParams()
    say("reading ratings from the database")
    frames = training_frames()
    feedback_ratings, feedback_raters = feedback_frames() if feedback else _no_feedback()
    training_data = {
        "movielens_raters": len(frames.raters),
        "movielens_ratings": len(frames.ratings),
        "feedback_people": len(feedback_raters),
        "feedback_ratings": len(feedback_ratings),
    }
    if len(feedback_raters):
        # A feedback person is named by its (negative) rater id in the fingerprint.
        feedback_ids = feedback_raters["rater_id"].tolist()
        frames = replace(
            frames,
            ratings=pd.concat([frames.ratings, feedback_ratings], ignore_index=True),
            raters=pd.concat([frames.raters, feedback_raters], ignore_index=True),
            rater_ml_ids={**frames.rater_ml_ids, **{rid: rid for rid in feedback_ids}},
        )
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
        and champion.metrics.get("warm", {}).get("params") == warm_params.to_dict()
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
        frames.ratings,
        frames.raters,
        frames.movies,
        params=params,
        seed=seed,
        progress=say,
        train_only=feedback_raters["rater_id"].tolist(),
    )
    say("evaluating warm start (liked movies revealed) on the same folds")
    warm_report = evaluate_warm(
        frames.ratings,
        frames.raters,
        frames.movies,
        params=params,
        warm_params=warm_params,
        seed=seed,
        progress=say,
        train_only=feedback_raters["rater_id"].tolist(),
    )
    say("fitting on all raters")
    model = train(frames.ratings, frames.raters, frames.movies, params=params, seed=seed)
    warm = fit_warm(
        frames.ratings,
        frames.raters,
        frames.movies,
        demographic=model,
        params=params,
        warm_params=warm_params,
        seed=seed,
        train_only=feedback_raters["rater_id"].tolist(),
    )
    model = dataclasses.replace(with_segments(model, frames.ratings, frames.raters), warm=warm)
    elapsed = time.perf_counter() - started
    version = registry.model_version_register(
        model=model,
        report=report,
        warm_report=warm_report,
        seed=seed,
        data_fingerprint=fingerprint,
        train_seconds=elapsed,
        gate={},
        training_data=training_data,
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


@dataclass(frozen=True)
class Recommendation:
    """One recommended movie with what the model says about it (``detail: true``)."""

    id: int  # MovieLens id
    title: str
    year: int | None
    genres: list[str]
    imdb_url: str | None
    score: float
    reason: str

    def to_dict(self) -> dict[str, object]:
        # dataclasses.asdict deep-copies every field: a third of a detailed answer's cost.
        return {
            "id": self.id,
            "title": self.title,
            "year": self.year,
            "genres": self.genres,
            "imdb_url": self.imdb_url,
            "score": self.score,
            "reason": self.reason,
        }


def _serving(
    profile: Profile,
    *,
    exclude: Iterable[int],
    liked: Iterable[int],
    genres: Iterable[str] | None,
    exclude_genres: Iterable[str] | None,
    released_from: int | None,
    released_to: int | None,
) -> tuple[registry.LoadedModel, Filters, tuple[int, ...]]:
    """What both answers start from: the model that serves (raises ModelNotReady), the
    filters the request means and its liked ids, sorted and each once."""
    loaded = registry.active_model()
    filters = effective_filters(
        profile,
        exclude=exclude,
        genres=genres,
        exclude_genres=exclude_genres,
        released_from=released_from,
        released_to=released_to,
    )
    return loaded, filters, tuple(sorted(set(liked)))


def recommendations_for(
    *,
    profile: Profile,
    limit: int,
    offset: int = 0,
    exclude: Iterable[int] = (),
    liked: Iterable[int] = (),
    genres: Iterable[str] | None = None,
    exclude_genres: Iterable[str] | None = None,
    released_from: int | None = None,
    released_to: int | None = None,
) -> tuple[int, list[str]]:
    """Titles of the ``limit`` movies ``profile`` most likely rates 4-5 stars, best first,
    after skipping the first ``offset``.

    Returns (model version, titles). ``exclude`` holds catalogue movie ids; the filters
    are those of ``recommender.ml.filters.effective_filters`` (children get a default).
    ``liked`` holds catalogue ids of movies the person rated 4-5: the ranking then blends
    their item-to-item evidence with the demographic prior and never contains them (nor
    another movie of the same title); without it the ranking is the demographic one.
    No database query: the model, the titles, the masks and the answers already computed
    are held in memory by the registry. Raises ModelNotReady when no version can serve.
    """
    loaded, filters, liked_ids = _serving(
        profile,
        exclude=exclude,
        liked=liked,
        genres=genres,
        exclude_genres=exclude_genres,
        released_from=released_from,
        released_to=released_to,
    )
    if filters.is_empty and not liked_ids and offset + limit <= registry.MAX_LIST:
        return loaded.version, loaded.titles_for(profile, offset + limit)[offset:]
    ranked = loaded.ranked(profile, filters, offset + limit, liked=liked_ids)
    titles = loaded.catalogue.titles
    return loaded.version, [titles[i] for i in ranked.positions[offset : offset + limit]]


def recommendation_details_for(
    *,
    profile: Profile,
    limit: int,
    offset: int = 0,
    exclude: Iterable[int] = (),
    liked: Iterable[int] = (),
    genres: Iterable[str] | None = None,
    exclude_genres: Iterable[str] | None = None,
    released_from: int | None = None,
    released_to: int | None = None,
) -> tuple[int, list[Recommendation]]:
    """Like ``recommendations_for`` (the same movies in the same order), with each movie's
    MovieLens id, year, genres, IMDb URL, score and reason. Raises ModelNotReady."""
    loaded, filters, liked_ids = _serving(
        profile,
        exclude=exclude,
        liked=liked,
        genres=genres,
        exclude_genres=exclude_genres,
        released_from=released_from,
        released_to=released_to,
    )
    ranked = loaded.ranked(profile, filters, offset + limit, liked=liked_ids)
    catalogue = loaded.catalogue
    names = catalogue.genre_names
    segments = loaded.scorer.model.segments
    profile_segments = segments.segments_of(profile) if segments is not None else []
    details = []
    window = slice(offset, offset + limit)
    for position, score in zip(ranked.positions[window], ranked.scores[window], strict=True):
        year = int(loaded.masks.years[position])
        flags = catalogue.genre_flags[position]
        column = int(loaded.segment_columns[position])
        if segments is None:
            reason = "This model version was trained before rating counts were kept"
        elif column < 0:
            reason = "Nobody rated it in the training data: ranked by its genres"
        else:
            reason = segments.reason(profile_segments, column)
        details.append(
            Recommendation(
                id=int(loaded.ml_ids[position]),
                title=catalogue.titles[position],
                year=year if year != NO_YEAR else None,
                genres=[names[j] for j in range(len(names)) if flags[j]],
                imdb_url=loaded.imdb_urls[position] or None,
                score=round(score, 4),
                reason=reason,
            )
        )
    return loaded.version, details


def evaluation_report(version: ModelVersion) -> EvaluationReport:
    return EvaluationReport.from_dict(version.metrics)


def warm_report(version: ModelVersion) -> WarmReport | None:
    """The warm-start evaluation of a version; None for versions trained without one."""
    warm = version.metrics.get("warm")
    return WarmReport.from_dict(warm) if warm else None


@transaction.atomic
def feedback_record(
    *,
    api_key_id: int,
    profile: Profile,
    ratings: Sequence[tuple[int, int]],
    client_ref: str = "",
) -> int:
    """Store ``ratings`` ((catalogue movie id, stars 1-5), ...) for one person; returns how
    many movies were stored.

    With a ``client_ref`` the person is the one this key sent under it before (created on
    first use; the demographics are the latest ones sent), and a movie rated again keeps only
    the latest stars. Without one, the call is a person of its own. Raises
    FeedbackLimitReached when the call would create a person beyond
    ``FEEDBACK_MAX_PEOPLE_PER_KEY`` for this key.
    """
    now = timezone.now()
    person = _feedback_person(api_key_id=api_key_id, client_ref=client_ref) if client_ref else None
    if person is None:
        cap = settings.FEEDBACK_MAX_PEOPLE_PER_KEY
        if FeedbackPerson.objects.filter(api_key_id=api_key_id).count() >= cap:
            raise FeedbackLimitReached(
                f"This API key has stored the most feedback people it may ({cap}): delete "
                "some with DELETE /api/feedback/{client_ref} or ask for a higher limit."
            )
        try:
            with transaction.atomic():
                person = FeedbackPerson.objects.create(
                    api_key_id=api_key_id,
                    client_ref=client_ref,
                    age=profile.age,
                    gender=profile.gender,
                    occupation=profile.occupation,
                )
        except IntegrityError:
            # A concurrent call created this client_ref first: add to that person.
            person = _feedback_person(api_key_id=api_key_id, client_ref=client_ref)
            if person is None:
                raise
    if (person.age, person.gender, person.occupation) != (
        profile.age,
        profile.gender,
        profile.occupation,
    ) or person.updated_at < now:
        person.age, person.gender, person.occupation = (
            profile.age,
            profile.gender,
            profile.occupation,
        )
        person.save(update_fields=["age", "gender", "occupation", "updated_at"])
    latest = dict(ratings)  # a movie given twice in one call: the last one wins
    FeedbackRating.objects.bulk_create(
        [
            FeedbackRating(person=person, movie_id=movie_id, rating=stars, rated_at=now)
            for movie_id, stars in latest.items()
        ],
        update_conflicts=True,
        unique_fields=["person", "movie"],
        update_fields=["rating", "rated_at"],
    )
    return len(latest)


def _feedback_person(*, api_key_id: int, client_ref: str) -> FeedbackPerson | None:
    return (
        FeedbackPerson.objects.select_for_update()
        .filter(api_key_id=api_key_id, client_ref=client_ref)
        .first()
    )


def feedback_delete(*, api_key_id: int, client_ref: str) -> None:
    """Delete the person this key sent under ``client_ref``, with their ratings; raises
    FeedbackPersonNotFound."""
    deleted, _ = FeedbackPerson.objects.filter(
        api_key_id=api_key_id, client_ref=client_ref
    ).delete()
    if not deleted:
        raise FeedbackPersonNotFound("This API key has sent no feedback under that client_ref.")


def feedback_delete_for_keys(*, api_key_ids: Sequence[int]) -> int:
    """Delete every feedback person (and rating) sent with these API keys; returns how many
    people."""
    people = FeedbackPerson.objects.filter(api_key_id__in=list(api_key_ids))
    count = people.count()
    people.delete()
    return count


def feedback_purge(*, older_than_days: int | None = None) -> int:
    """Delete the feedback people whose last rating is older than ``older_than_days``
    (default ``FEEDBACK_RETENTION_DAYS``), with their ratings; returns how many."""
    days = settings.FEEDBACK_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    people = FeedbackPerson.objects.filter(updated_at__lt=cutoff)
    count = people.count()
    people.delete()
    return count
