"""recommender: the Django side of the model store.

Registering and activating versions, and `active_model()`: the version this worker serves,
loaded lazily on first use (never at import time) and cached per process. Each worker
re-reads a small marker (active version + catalogue version) from the shared cache at most
every ``RECOMMENDER_VERSION_CHECK_SECONDS``, so an activation or a catalogue edit is picked
up by running workers within seconds, without a restart and without a database query per
request.
"""

from __future__ import annotations

import json
import logging
import platform
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import pandas as pd
import sklearn
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, transaction
from django.utils import timezone

from recommender.datasets import Catalogue, catalogue_snapshot
from recommender.errors import ModelNotReady, ModelRejected
from recommender.ml import artifacts
from recommender.ml.evaluation import EvaluationReport, passes_gate
from recommender.ml.filters import (
    CHILD_AGE_LIMIT,
    CHILD_FILTERS,
    NO_YEAR,
    CatalogueMasks,
    Filters,
    MovieIndex,
    release_year,
)
from recommender.ml.profile import GENDERS, MAX_AGE, MIN_AGE, OCCUPATIONS, Profile
from recommender.ml.scoring import Scorer
from recommender.ml.training import RecommenderModel
from recommender.ml.warm import WarmScorer
from recommender.ml.warm_evaluation import GATE_K, WarmReport, passes_warm_gate
from recommender.models import ModelVersion

logger = logging.getLogger(__name__)

ACTIVE_MARKER_KEY = "recommender:active-version"
# Without a shared cache (no REDIS_URL), other processes learn of an activation when
# their cached marker expires; with Redis the activating process overwrites it at once.
ACTIVE_MARKER_TTL = 10


class GateVerdict(TypedDict):
    """What the gate said about one activation, as stored in ModelVersion.gate."""

    passed: bool
    reasons: list[str]
    champion_version: int | None
    margin: float
    tolerance: float


# The longest list the API hands out; answers are cached at this length and sliced.
MAX_LIST = 100
# How deep a client may page (offset + limit).
MAX_DEPTH = 500
# Answers to requests with options (filters, exclusions, paging past MAX_LIST, details):
# the request space is unbounded, so the least recently used answers are dropped beyond
# this many (each holds at most MAX_DEPTH positions and scores: about 8 KB).
RANKED_CACHE_SIZE = 2048


@dataclass(frozen=True)
class Ranked:
    """Catalogue positions best first, with the model's score of each."""

    positions: tuple[int, ...]
    scores: tuple[float, ...]
    # How many were asked for: fewer positions than this means the filters ran out.
    depth: int


class _LRU:
    """A thread-safe mapping that forgets the least recently used entries beyond ``size``."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[Any, Ranked] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Ranked | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: Any, value: Ranked) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


@dataclass(frozen=True)
class LoadedModel:
    """A model version ready to serve against the current catalogue."""

    version: int
    sha256: str
    scorer: Scorer
    catalogue: Catalogue
    # One key per catalogue position: a title that occurs twice shares a key, so it is
    # recommended once.
    dedupe_keys: np.ndarray
    # How many catalogue positions repeat an earlier title (their dedupe key).
    dedupe_slack: int
    # Positions grouped by dedupe key (``title_groups``), for leaving out liked titles.
    title_groups: tuple[np.ndarray, np.ndarray]
    # Genre and year masks, and how requests name movies (titles, MovieLens ids).
    masks: CatalogueMasks
    movies: MovieIndex
    # Per catalogue position: MovieLens id, release year (NO_YEAR if unknown), IMDb URL,
    # and the model's segment-count column (-1: not in the training data).
    ml_ids: np.ndarray
    imdb_urls: tuple[str, ...]
    segment_columns: np.ndarray
    # The warm-start item models on this catalogue (None: the artifact has none, and
    # liked movies are only left out of the answer).
    warm: WarmScorer | None = None
    # Ranked titles per profile. The profile space is finite (120 ages x 3 genders x 21
    # occupations = 7,560 entries of at most 100 titles), so the cache needs no eviction;
    # a new version or catalogue builds a new LoadedModel and so starts empty.
    _answers: dict[Profile, tuple[str, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )
    _ranked: _LRU = field(
        default_factory=lambda: _LRU(RANKED_CACHE_SIZE), compare=False, repr=False
    )

    def titles_for(self, profile: Profile, limit: int) -> list[str]:
        """The ``limit`` best titles for ``profile``, best first, each title once."""
        answer = self._answers.get(profile)
        if answer is None:
            positions = self.scorer.top_k(
                profile, MAX_LIST, dedupe_keys=self.dedupe_keys, dedupe_slack=self.dedupe_slack
            )
            titles = self.catalogue.titles
            answer = tuple(titles[i] for i in positions)
            self._answers[profile] = answer
        return list(answer[:limit])

    def warm_answers(self, *, still_serving: Any = None) -> int:
        """Compute the default answer of every profile (a child's is the ranking under
        ``CHILD_FILTERS``), so no request pays for a first answer. Stops early when
        ``still_serving()`` turns false (a newer version or catalogue replaced this one).
        Returns how many answers it computed."""
        computed = 0
        for age in range(MIN_AGE, MAX_AGE + 1):
            if still_serving is not None and not still_serving():
                break
            for gender in GENDERS:
                for occupation in OCCUPATIONS:
                    profile = Profile(age=age, gender=gender, occupation=occupation)
                    if age < CHILD_AGE_LIMIT:
                        if self._ranked.get((profile, CHILD_FILTERS, ())) is None:
                            self.ranked(profile, CHILD_FILTERS, MAX_LIST)
                            computed += 1
                    elif profile not in self._answers:
                        self.titles_for(profile, MAX_LIST)
                        computed += 1
        return computed

    def ranked(
        self, profile: Profile, filters: Filters, depth: int, *, liked: tuple[int, ...] = ()
    ) -> Ranked:
        """The ``depth`` best movies for ``profile`` that ``filters`` allow, each title
        once: the default ranking with the others removed. With ``liked`` (catalogue ids of
        movies the person liked) the scores blend their item-to-item evidence with the
        demographic prior, and no movie sharing a title with a liked one is returned.
        Cached per (profile, filters, liked)."""
        key = (profile, filters, liked)
        cached = self._ranked.get(key)
        if cached is not None and (cached.depth >= depth or len(cached.positions) < cached.depth):
            return cached
        depth = max(depth, MAX_LIST)
        scores = self.scorer.scores(profile)
        allowed = self.masks.allowed(filters)
        if liked:
            positions_liked = self.catalogue_positions(liked)
            if self.warm is not None:
                scores = self.warm.scores(scores, positions_liked)
            allowed = np.ones(len(scores), dtype=bool) if allowed is None else allowed.copy()
            allowed[self._same_titles(positions_liked)] = False
        positions = self.scorer.rank(
            scores,
            depth,
            dedupe_keys=self.dedupe_keys,
            dedupe_slack=self.dedupe_slack,
            allowed=allowed,
        )
        ranked = Ranked(
            positions=tuple(positions),
            scores=tuple(float(scores[i]) for i in positions),
            depth=depth,
        )
        self._ranked.put(key, ranked)
        return ranked

    def _same_titles(self, positions: np.ndarray) -> np.ndarray:
        """Every position whose title (dedupe key) is the title of one of these."""
        order, starts = self.title_groups
        keys = np.unique(self.dedupe_keys[positions])
        if not len(keys):
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([order[starts[key] : starts[key + 1]] for key in keys.tolist()])

    def catalogue_positions(self, movie_ids: Sequence[int]) -> np.ndarray:
        """Positions of these catalogue ids (primary keys); unknown ids are dropped."""
        ids = np.asarray(list(movie_ids), dtype=np.int64)
        catalogue = self.catalogue.movie_ids
        at = np.minimum(np.searchsorted(catalogue, ids), max(len(catalogue) - 1, 0))
        found = catalogue[at] == ids if len(catalogue) else np.zeros(len(ids), dtype=bool)
        return np.unique(at[found])


@dataclass(frozen=True)
class _Marker:
    version: int | None
    sha256: str | None
    catalogue_version: str


class _ProcessState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loaded: LoadedModel | None = None
        self.checked_at = float("-inf")
        self.marker: _Marker | None = None
        self.failed: _Marker | None = None
        self.failed_at = float("-inf")
        self.failure: str = ""
        # Set in serving processes (`model_preload`): every model loaded there has its
        # default answers computed by a background thread.
        self.warm_answers = False


_state = _ProcessState()


def active_model() -> LoadedModel:
    """The model this worker serves; raises ModelNotReady when there is none to serve.

    A version whose artifact fails to load (tampered, corrupt, built by other library
    versions) is refused: the last good version keeps serving, or, if this worker has
    none, ModelNotReady is raised (503). The refused version is tried again at the next
    version check (every ``RECOMMENDER_VERSION_CHECK_SECONDS``), so a repair heals it.
    """
    now = time.monotonic()
    loaded = _state.loaded
    if loaded is not None and now - _state.checked_at < settings.RECOMMENDER_VERSION_CHECK_SECONDS:
        return loaded
    with _state.lock:
        if (
            _state.loaded is not None
            and now - _state.checked_at < settings.RECOMMENDER_VERSION_CHECK_SECONDS
        ):
            return _state.loaded
        try:
            marker = _read_marker()
            _state.checked_at = now
            # A refused artifact is tried again once the check interval has passed, so a
            # repaired row heals without a restart.
            retry_due = now - _state.failed_at >= settings.RECOMMENDER_VERSION_CHECK_SECONDS
            if marker != _state.marker and (marker != _state.failed or retry_due):
                _reload(marker, now=now)
        except DatabaseError:
            # Database down (and the marker not in Redis): keep serving what is loaded and
            # look again after the check interval; with nothing loaded, the error is a 503.
            if _state.loaded is None:
                raise
            _state.checked_at = now
            logger.warning("model version check skipped: database unavailable")
        if _state.loaded is None:
            raise ModelNotReady(_state.failure or "No model version is active.")
        return _state.loaded


def _read_marker() -> _Marker:
    from catalog.selectors import catalogue_version

    cached = cache.get(ACTIVE_MARKER_KEY)
    if cached is None:
        row = (
            ModelVersion.objects.filter(is_active=True)
            .values_list("version", "artifact_sha256")
            .first()
        )
        cached = row if row is not None else (None, None)
        cache.set(ACTIVE_MARKER_KEY, cached, ACTIVE_MARKER_TTL)
    version, sha256 = cached
    return _Marker(version=version, sha256=sha256, catalogue_version=catalogue_version())


def signing_key() -> bytes:
    """``MODEL_SIGNING_KEY``, or a key derived from ``DJANGO_SECRET_KEY`` when it is unset."""
    configured: str = settings.MODEL_SIGNING_KEY
    if configured:
        return configured.encode("utf-8")
    return artifacts.derive_signing_key(settings.SECRET_KEY.encode("utf-8"))


def load_verified(row: ModelVersion) -> RecommenderModel:
    """The model of ``row`` once its signature, hash and format check out; raises
    ArtifactError (ArtifactUnsigned, ArtifactForged, ArtifactTampered, ...) otherwise."""
    data = bytes(row.artifact)
    artifacts.verify(data, signature=row.artifact_signature, key=signing_key(), version=row.version)
    return artifacts.loads(data, expected_sha256=row.artifact_sha256)


def artifact_usable(version: ModelVersion) -> bool:
    """Whether ``version``'s artifact would be served (signed, intact, compatible)."""
    try:
        row = ModelVersion.objects.only(
            "version", "artifact", "artifact_sha256", "artifact_signature"
        ).get(pk=version.pk)
        load_verified(row)
    except (artifacts.ArtifactError, ModelVersion.DoesNotExist):
        return False
    return True


def _reload(marker: _Marker, *, now: float) -> None:
    if marker.version is None:
        _state.loaded, _state.marker = None, marker
        _state.failure = (
            "No model version is active: train one with `python manage.py train_model`."
        )
        _set_metric(0)
        return
    current = _state.loaded
    try:
        if (
            current is not None
            and current.version == marker.version
            and current.sha256 == marker.sha256
        ):
            model = None  # same model, only the catalogue changed
            loaded = _bind(current.scorer.model, marker, *_snapshot())
        else:
            row = ModelVersion.objects.only(
                "version", "artifact", "artifact_sha256", "artifact_signature"
            ).get(version=marker.version)
            model = load_verified(row)
            loaded = _bind(model, marker, *_snapshot())
    except (artifacts.ArtifactError, ModelVersion.DoesNotExist) as exc:
        reason = f"Model version {marker.version} cannot be loaded: {exc}"
        # Once per distinct refusal: the retries at each version check would repeat it.
        if reason != _state.failure:
            serving = f"version {current.version} keeps serving" if current else "nothing serves"
            logger.error(
                "model version %s refused (%s): %s; tried again every %ss",
                marker.version,
                serving,
                exc,
                settings.RECOMMENDER_VERSION_CHECK_SECONDS,
                extra={"version": marker.version, "reason": str(exc)},
            )
        _state.failed, _state.failure, _state.failed_at = marker, reason, now
        if current is None:
            _state.marker = None
        return
    _state.loaded, _state.marker, _state.failed, _state.failure = loaded, marker, None, ""
    _set_metric(marker.version)
    logger.info(
        "model loaded", extra={"version": marker.version, "movies": len(loaded.catalogue.titles)}
    )
    if _state.warm_answers:
        threading.Thread(
            target=_warm_answers, args=(loaded,), name="answer-warmer", daemon=True
        ).start()


def _warm_answers(loaded: LoadedModel) -> None:
    started = time.perf_counter()
    try:
        computed = loaded.warm_answers(still_serving=lambda: _state.loaded is loaded)
    except Exception:  # requests compute what is missing; the thread must not take them down
        logger.exception("default answers not computed ahead", extra={"version": loaded.version})
        return
    logger.info(
        "default answers computed",
        extra={
            "version": loaded.version,
            "answers": computed,
            "seconds": round(time.perf_counter() - started, 3),
        },
    )


def _bind(
    model: RecommenderModel,
    marker: _Marker,
    catalogue: Catalogue,
    facts: dict[int, tuple[int, int | None, str]],
) -> LoadedModel:
    # Align the catalogue's genre flags with the genres the model was trained on, by name.
    column = {name: i for i, name in enumerate(catalogue.genre_names)}
    flags = np.zeros((len(catalogue.movie_ids), len(model.genre_names)), dtype=bool)
    for j, name in enumerate(model.genre_names):
        if name in column:
            flags[:, j] = catalogue.genre_flags[:, column[name]]
    _, dedupe_keys = np.unique(np.array(catalogue.titles, dtype=object), return_inverse=True)
    # A movie added between the two reads has no facts yet: it gets them on the next
    # reload (the catalogue version moved), and until then no id, year or URL.
    missing = (0, None, "")
    movie_facts = [facts.get(int(pk), missing) for pk in catalogue.movie_ids.tolist()]
    ml_ids = np.array([f[0] for f in movie_facts], dtype=np.int64)
    known_years = (
        release_year(title, f[1]) for title, f in zip(catalogue.titles, movie_facts, strict=True)
    )
    years = np.array([NO_YEAR if y is None else y for y in known_years], dtype=np.int64)
    at = np.searchsorted(model.movie_ids, catalogue.movie_ids)
    at = np.minimum(at, max(len(model.movie_ids) - 1, 0))
    in_training = (
        model.movie_ids[at] == catalogue.movie_ids
        if len(model.movie_ids)
        else np.zeros(len(catalogue.movie_ids), dtype=bool)
    )
    return LoadedModel(
        version=marker.version or 0,
        sha256=marker.sha256 or "",
        scorer=Scorer(model, catalogue.movie_ids, flags),
        catalogue=catalogue,
        dedupe_keys=dedupe_keys,
        dedupe_slack=len(dedupe_keys) - len(np.unique(dedupe_keys)),
        title_groups=title_groups(dedupe_keys),
        masks=CatalogueMasks(
            movie_ids=catalogue.movie_ids,
            genre_flags=catalogue.genre_flags,
            genre_names=catalogue.genre_names,
            years=years,
        ),
        movies=_movie_index(catalogue, ml_ids),
        ml_ids=ml_ids,
        imdb_urls=tuple(f[2] for f in movie_facts),
        segment_columns=np.where(in_training, at, -1),
        warm=WarmScorer(model.warm, catalogue.movie_ids) if model.warm is not None else None,
    )


def title_groups(dedupe_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions grouped by dedupe key: group q is ``order[starts[q]:starts[q + 1]]``."""
    order = np.argsort(dedupe_keys, kind="stable")
    groups = int(dedupe_keys.max()) + 1 if len(dedupe_keys) else 0
    return order, np.searchsorted(dedupe_keys[order], np.arange(groups + 1))


def _movie_index(catalogue: Catalogue, ml_ids: np.ndarray) -> MovieIndex:
    known = ml_ids > 0
    return MovieIndex(
        movie_ids=catalogue.movie_ids[known],
        titles=[title for title, k in zip(catalogue.titles, known.tolist(), strict=True) if k],
        ml_ids=ml_ids[known],
    )


def _snapshot() -> tuple[Catalogue, dict[int, tuple[int, int | None, str]]]:
    from catalog.selectors import movie_facts

    return catalogue_snapshot(), movie_facts()


def _set_metric(version: int) -> None:
    from movierec.metrics import MODEL_VERSION

    MODEL_VERSION.set(version)


def reset_process_cache() -> None:
    """Forget what this process loaded (tests, and after a fork)."""
    with _state.lock:
        _state.loaded = _state.marker = _state.failed = None
        _state.checked_at = _state.failed_at = float("-inf")
        _state.failure = ""


def model_version_register(
    *,
    model: RecommenderModel,
    report: EvaluationReport,
    seed: int,
    data_fingerprint: str,
    train_seconds: float,
    gate: GateVerdict | dict[str, Any],
    training_data: dict[str, int] | None = None,
    warm_report: WarmReport | None = None,
) -> ModelVersion:
    """Store a trained model (inactive) with its evaluation and artifact; ``training_data``
    (how many MovieLens raters, feedback people and their ratings) goes with the metrics,
    and the warm-start evaluation, if any, under ``metrics["warm"]``."""
    library_versions = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scikit-learn": sklearn.__version__,
    }
    blob, sha256 = artifacts.dumps(model, meta={"seed": seed, "data_fingerprint": data_fingerprint})
    with transaction.atomic():
        last = (
            ModelVersion.objects.select_for_update()
            .order_by("-version")
            .values_list("version", flat=True)
            .first()
        )
        number = (last or 0) + 1
        return ModelVersion.objects.create(
            version=number,
            seed=seed,
            params=model.params.to_dict(),
            metrics={
                **report.to_dict(),
                **({"training_data": training_data} if training_data else {}),
                **({"warm": warm_report.to_dict()} if warm_report is not None else {}),
            },
            gate=gate,
            data_fingerprint=data_fingerprint,
            library_versions=library_versions,
            artifact=blob,
            artifact_sha256=sha256,
            artifact_signature=artifacts.sign(blob, key=signing_key(), version=number),
            artifact_size=len(blob),
            train_seconds=train_seconds,
        )


def champion() -> ModelVersion | None:
    return ModelVersion.objects.defer("artifact").filter(is_active=True).first()


def reference_figures() -> dict[str, Any] | None:
    """The committed baseline figures (``RECOMMENDER_BASELINE_FILE``), if there are any."""
    path = Path(settings.RECOMMENDER_BASELINE_FILE)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        float(data["metrics"]["ndcg_at_10"])
        str(data["data_fingerprint"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ImproperlyConfigured(f"{path} is not a valid baseline file: {exc}") from exc
    return dict(data)


def gate_decision(candidate: ModelVersion, *, against: ModelVersion | None) -> GateVerdict:
    """The gate's verdict on activating ``candidate`` while ``against`` serves.

    Three bars: the like-popularity baseline of the candidate's own run (plus a margin),
    the serving champion (minus a tolerance) and, when the candidate was trained on the
    very data they were measured on, the committed reference figures (minus a tolerance).
    """
    tolerance = settings.RECOMMENDER_GATE_TOLERANCE
    report = EvaluationReport.from_dict(candidate.metrics)
    champion_ndcg = (
        against.ndcg_at_10 if against is not None and against.pk != candidate.pk else None
    )
    decision = passes_gate(
        report,
        champion_ndcg=champion_ndcg,
        margin=settings.RECOMMENDER_GATE_MARGIN,
        tolerance=tolerance,
    )
    passed, reasons = decision.passed, list(decision.reasons)
    reference = reference_figures()
    if reference is not None and reference["data_fingerprint"] == candidate.data_fingerprint:
        floor = float(reference["metrics"]["ndcg_at_10"]) - tolerance
        if report.ndcg >= floor:
            reasons.append(
                f"NDCG@10 {report.ndcg:.4f} is within tolerance of the committed baseline "
                f"(floor {floor:.4f})"
            )
        else:
            passed = False
            reasons.append(
                f"NDCG@10 {report.ndcg:.4f} is below the committed baseline's floor {floor:.4f}"
            )
    elif reference is not None:
        reasons.append("the committed baseline was measured on other data: not compared")
    warm = _warm_gate(candidate, against=against, reference=reference, tolerance=tolerance)
    if warm is not None:
        passed = passed and warm[0]
        reasons.extend(warm[1])
    return {
        "passed": passed,
        "reasons": reasons,
        "champion_version": against.version if against is not None else None,
        "margin": settings.RECOMMENDER_GATE_MARGIN,
        "tolerance": tolerance,
    }


def _warm_gate(
    candidate: ModelVersion,
    *,
    against: ModelVersion | None,
    reference: dict[str, Any] | None,
    tolerance: float,
) -> tuple[bool, list[str]] | None:
    """The warm-start bars at k = GATE_K: the champion's figure and, on the very data
    they were measured on, the committed one, each minus the tolerance."""
    if "warm" not in candidate.metrics:
        return None
    report = WarmReport.from_dict(candidate.metrics["warm"])
    rival = against if against is not None and against.pk != candidate.pk else None
    if rival is not None and "warm" not in rival.metrics:
        passed = True
        reasons = ["warm start: the champion has no warm-start figures: not compared"]
    else:
        champion_ndcg = (
            WarmReport.from_dict(rival.metrics["warm"]).ndcg(GATE_K) if rival is not None else None
        )
        decision = passes_warm_gate(report, champion_ndcg=champion_ndcg, tolerance=tolerance)
        passed, reasons = decision.passed, list(decision.reasons)
    committed = (reference or {}).get("warm", {}).get(f"ndcg_at_10_k{GATE_K}")
    same_data = (
        reference is not None and reference["data_fingerprint"] == candidate.data_fingerprint
    )
    if committed is not None and same_data:
        floor = float(committed) - tolerance
        ndcg = report.ndcg(GATE_K)
        passed = passed and ndcg >= floor
        relation = "is within tolerance of" if ndcg >= floor else "is below"
        reasons.append(
            f"warm start: NDCG@10 at k={GATE_K} {ndcg:.4f} {relation} the committed "
            f"baseline's floor {floor:.4f}"
        )
    return passed, reasons


def model_version_activate(*, version: ModelVersion, rollback: bool = False) -> GateVerdict:
    """Make ``version`` the one that serves, if the gate lets it; returns the decision.

    The gate compares with the active version's NDCG@10 (tolerance) and with the
    like-popularity baseline of the candidate's own run (margin). ``rollback=True`` skips
    the comparison with the active version (going back to an earlier, known-good model is
    allowed even if the active one measured better) but never the baseline check. The
    artifact must load cleanly. Raises ModelRejected; the active version keeps serving.
    """
    with transaction.atomic():
        current = (
            ModelVersion.objects.select_for_update()
            .defer("artifact")
            .filter(is_active=True)
            .first()
        )
        decision = gate_decision(version, against=None if rollback else current)
        if not decision["passed"]:
            raise ModelRejected(
                "; ".join(decision["reasons"]) or "the gate refused",
                extra={"gate": decision},
            )
        if current is not None and current.pk == version.pk:
            return decision
        try:
            load_verified(version)
        except artifacts.ArtifactError as exc:
            raise ModelRejected(f"version {version.version} cannot be loaded: {exc}") from exc
        if current is not None:
            ModelVersion.objects.filter(pk=current.pk).update(is_active=False)
        now = timezone.now()
        ModelVersion.objects.filter(pk=version.pk).update(
            is_active=True, activated_at=now, gate=decision
        )
        version.is_active, version.activated_at, version.gate = True, now, decision
        marker = (version.version, version.artifact_sha256)
        transaction.on_commit(lambda: cache.set(ACTIVE_MARKER_KEY, marker, ACTIVE_MARKER_TTL))
    logger.info("model activated", extra={"version": version.version, "rollback": rollback})
    return decision


def model_preload() -> None:
    """Load the active model now, so no request pays for it: a new worker calls this before it
    takes traffic (gunicorn's ``post_worker_init``, after a crash, a recycle or a deploy).

    Never raises: with no model, or the database or cache unreachable, the worker still starts,
    `active_model()` tries again on the first request and the failure is logged. From then on,
    every model this process loads has every profile's default answer computed by a
    background thread (`LoadedModel.warm_answers`), so requests only look them up.
    """
    _state.warm_answers = True
    try:
        active_model()
    except ModelNotReady as exc:
        logger.warning("no model preloaded", extra={"reason": exc.message})
    except Exception:  # the worker must start; the first request retries and reports
        logger.exception("model preload failed")
