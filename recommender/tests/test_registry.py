"""recommender.registry: activation, the one-active rule, hot reload and refusing bad artifacts."""

from __future__ import annotations

import time
import types
from typing import Any

import numpy as np
import pytest
from django.db import IntegrityError, transaction

from catalog.models import Genre, Movie
from recommender import registry
from recommender.errors import ModelNotReady, ModelRejected
from recommender.ml import artifacts
from recommender.ml.filters import CHILD_AGE_LIMIT, CHILD_FILTERS
from recommender.ml.profile import GENDERS, MAX_AGE, MIN_AGE, OCCUPATIONS, Profile
from recommender.models import ModelVersion
from recommender.services import model_train

pytestmark = pytest.mark.django_db


def _second_version() -> ModelVersion:
    return model_train(seed=42, activate=False).version


def test_if_two_versions_marked_active_then_database_refuses(trained: ModelVersion) -> None:
    other = _second_version()
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=other.pk).update(is_active=True)


def test_if_activated_then_running_worker_serves_it_without_restart(
    trained: ModelVersion, django_capture_on_commit_callbacks: Any
) -> None:
    assert registry.active_model().version == 1
    other = _second_version()
    with django_capture_on_commit_callbacks(execute=True):
        registry.model_version_activate(version=other)
    assert registry.active_model().version == 2
    assert ModelVersion.objects.get(is_active=True).version == 2


def test_if_within_check_interval_then_no_reload_and_after_it_then_reload(
    trained: ModelVersion,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.RECOMMENDER_VERSION_CHECK_SECONDS = 2.0
    clock = [1000.0]
    monkeypatch.setattr(registry.time, "monotonic", lambda: clock[0])
    assert registry.active_model().version == 1
    with django_capture_on_commit_callbacks(execute=True):
        registry.model_version_activate(version=_second_version())
    clock[0] += 1.0
    assert registry.active_model().version == 1  # polled at most every 2 s
    clock[0] += 1.5
    assert registry.active_model().version == 2


def test_if_artifact_tampered_then_not_ready_with_reason(trained: ModelVersion) -> None:
    blob = bytearray(bytes(trained.artifact))
    blob[len(blob) // 2] ^= 0xFF
    ModelVersion.objects.filter(pk=trained.pk).update(artifact=bytes(blob))
    with pytest.raises(ModelNotReady, match=r"Model version 1 cannot be loaded: .*SHA-256"):
        registry.active_model()


def test_if_new_active_artifact_broken_then_last_good_version_keeps_serving(
    trained: ModelVersion, django_capture_on_commit_callbacks: Any
) -> None:
    assert registry.active_model().version == 1
    other = _second_version()
    with django_capture_on_commit_callbacks(execute=True):
        registry.model_version_activate(version=other)
    ModelVersion.objects.filter(pk=other.pk).update(artifact=b"not an artifact at all")
    assert registry.active_model().version == 1


def test_if_library_versions_differ_then_load_refused(
    trained: ModelVersion, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(artifacts.sklearn, "__version__", "0.24.2")
    with pytest.raises(ModelNotReady, match=r"cannot be loaded: .*scikit-learn"):
        registry.active_model()


def test_if_candidate_artifact_broken_then_activation_rejected(trained: ModelVersion) -> None:
    other = _second_version()
    ModelVersion.objects.filter(pk=other.pk).update(artifact=b"garbage")
    other.refresh_from_db()
    with pytest.raises(ModelRejected, match="version 2 cannot be loaded"):
        registry.model_version_activate(version=other)
    assert ModelVersion.objects.get(is_active=True).version == 1


def test_if_rollback_then_earlier_version_serves_even_if_champion_measured_better(
    trained: ModelVersion, django_capture_on_commit_callbacks: Any
) -> None:
    newer = _second_version()
    with django_capture_on_commit_callbacks(execute=True):
        registry.model_version_activate(version=newer)
    ModelVersion.objects.filter(pk=newer.pk).update(metrics=dict(newer.metrics, ndcg_at_10=0.99))
    trained.refresh_from_db()
    with pytest.raises(ModelRejected, match=r"below the champion's 0\.9900"):
        registry.model_version_activate(version=trained)
    with django_capture_on_commit_callbacks(execute=True):
        decision = registry.model_version_activate(version=trained, rollback=True)
    assert decision["passed"] is True
    assert registry.active_model().version == 1


def test_if_catalogue_edited_then_titles_reload_without_new_model(
    trained: ModelVersion, django_capture_on_commit_callbacks: Any
) -> None:
    first = registry.active_model()
    with django_capture_on_commit_callbacks(execute=True):
        movie = Movie.objects.create(ml_id=500, title="Late Addition (1999)")
        movie.genres.add(Genre.objects.get(name="Romance"))
    reloaded = registry.active_model()
    assert reloaded.version == first.version
    assert "Late Addition (1999)" in reloaded.catalogue.titles
    assert "Late Addition (1999)" not in first.catalogue.titles


def test_if_nothing_changed_then_request_path_runs_no_query(
    trained: ModelVersion, django_assert_num_queries: Any
) -> None:
    registry.active_model()
    with django_assert_num_queries(0):
        registry.active_model()


# --- signed artifacts -----------------------------------------------------------------------


def _replace_artifact(version: ModelVersion, *, seed: int) -> None:
    """What someone with write access to the table could do: another valid artifact in the
    row, its SHA-256 recomputed, the signature left as it was."""
    other_model = artifacts.loads(bytes(version.artifact), expected_sha256=version.artifact_sha256)
    blob, sha256 = artifacts.dumps(other_model, meta={"seed": seed})
    ModelVersion.objects.filter(pk=version.pk).update(artifact=blob, artifact_sha256=sha256)


def test_if_registered_then_the_artifact_is_signed_for_its_version(trained: ModelVersion) -> None:
    row = ModelVersion.objects.get(pk=trained.pk)
    assert row.artifact_signature == artifacts.sign(
        bytes(row.artifact), key=registry.signing_key(), version=1
    )


def test_if_signing_key_unset_then_derived_from_the_secret_key(settings: Any) -> None:
    settings.MODEL_SIGNING_KEY = ""
    derived = artifacts.derive_signing_key(settings.SECRET_KEY.encode())
    assert registry.signing_key() == derived
    assert registry.signing_key() != settings.SECRET_KEY.encode()
    settings.MODEL_SIGNING_KEY = "an operator's key"
    assert registry.signing_key() == b"an operator's key"


def test_if_artifact_and_sha256_replaced_in_the_row_then_refused_with_a_log_line(
    trained: ModelVersion, caplog: pytest.LogCaptureFixture
) -> None:
    _replace_artifact(trained, seed=7)
    caplog.set_level("ERROR", logger="recommender.registry")

    with pytest.raises(ModelNotReady, match=r"Model version 1 cannot be loaded: .*signature"):
        registry.active_model()

    assert [record.getMessage() for record in caplog.records] == [
        "model version 1 refused (nothing serves): the artifact's signature does not match: "
        "it was replaced outside movierec (a SHA-256 recomputed with it does not help), or "
        "MODEL_SIGNING_KEY is not the key it was signed with; tried again every 0s"
    ]


def test_if_another_versions_signed_artifact_is_copied_in_then_refused(
    trained: ModelVersion,
) -> None:
    other = _second_version()
    ModelVersion.objects.filter(pk=trained.pk).update(
        artifact=bytes(other.artifact),
        artifact_sha256=other.artifact_sha256,
        artifact_signature=other.artifact_signature,
    )
    with pytest.raises(ModelNotReady, match="signature does not match"):
        registry.active_model()


def test_if_signing_key_changed_then_stored_versions_refused(
    trained: ModelVersion, settings: Any
) -> None:
    settings.MODEL_SIGNING_KEY = "a new key"
    with pytest.raises(ModelNotReady, match="MODEL_SIGNING_KEY is not the key it was signed with"):
        registry.active_model()


def test_if_version_predates_signing_then_refused_telling_to_retrain(
    trained: ModelVersion,
) -> None:
    ModelVersion.objects.filter(pk=trained.pk).update(artifact_signature="")
    with pytest.raises(ModelNotReady, match=r"not signed .*retrain with `python manage.py"):
        registry.active_model()


def test_if_unsigned_champion_then_train_if_stale_retrains(trained: ModelVersion) -> None:
    ModelVersion.objects.filter(pk=trained.pk).update(artifact_signature="")
    outcome = model_train(seed=42, if_stale=True)
    assert outcome.skipped is False
    assert outcome.version.version == 2
    assert registry.active_model().version == 2


def test_if_forged_candidate_then_activation_rejected(trained: ModelVersion) -> None:
    other = _second_version()
    _replace_artifact(other, seed=9)
    other.refresh_from_db()
    with pytest.raises(ModelRejected, match=r"version 2 cannot be loaded: .*signature"):
        registry.model_version_activate(version=other)


def test_if_refused_artifact_repaired_then_served_at_the_next_check_without_restart(
    trained: ModelVersion, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.RECOMMENDER_VERSION_CHECK_SECONDS = 2.0
    clock = [1000.0]
    monkeypatch.setattr(registry.time, "monotonic", lambda: clock[0])
    good = bytes(trained.artifact)
    broken = bytearray(good)
    broken[len(broken) // 2] ^= 0xFF
    ModelVersion.objects.filter(pk=trained.pk).update(artifact=bytes(broken))
    with pytest.raises(ModelNotReady):
        registry.active_model()

    ModelVersion.objects.filter(pk=trained.pk).update(artifact=good)  # the repair
    clock[0] += 1.0
    with pytest.raises(ModelNotReady):  # within the check interval: not tried yet
        registry.active_model()
    clock[0] += 1.5
    assert registry.active_model().version == 1


def test_if_refused_version_is_retried_then_the_log_line_is_not_repeated(
    trained: ModelVersion, caplog: pytest.LogCaptureFixture
) -> None:
    ModelVersion.objects.filter(pk=trained.pk).update(artifact_signature="0" * 64)
    caplog.set_level("ERROR", logger="recommender.registry")
    for _ in range(3):
        with pytest.raises(ModelNotReady):
            registry.active_model()
    assert len(caplog.records) == 1


# --- default answers computed ahead -----------------------------------------------------------

PROFILES = (MAX_AGE - MIN_AGE + 1) * len(GENDERS) * len(OCCUPATIONS)
ADULT_PROFILES = (MAX_AGE - CHILD_AGE_LIMIT + 1) * len(GENDERS) * len(OCCUPATIONS)


def test_warm_answers_computes_every_default_answer_as_a_request_would(
    trained: ModelVersion,
) -> None:
    warmed = registry.active_model()
    registry.reset_process_cache()
    cold = registry.active_model()
    assert cold is not warmed

    assert warmed.warm_answers() == PROFILES
    assert warmed.warm_answers() == 0  # nothing left to compute

    for profile in (
        Profile(age=CHILD_AGE_LIMIT, gender="F", occupation="writer"),
        Profile(age=35, gender="M", occupation="engineer"),
        Profile(age=MAX_AGE, gender="O", occupation="none"),
    ):
        assert warmed.titles_for(profile, 100) == cold.titles_for(profile, 100)
    child = Profile(age=7, gender="F", occupation="student")
    held = warmed.ranked(child, CHILD_FILTERS, 100)
    assert held is warmed.ranked(child, CHILD_FILTERS, 100)  # computed ahead, not again
    assert list(held.positions) == list(cold.ranked(child, CHILD_FILTERS, 100).positions)


def test_warm_answers_stops_once_the_model_no_longer_serves(trained: ModelVersion) -> None:
    assert registry.active_model().warm_answers(still_serving=lambda: False) == 0


def test_if_preloaded_then_every_model_this_process_loads_is_warmed_in_the_background(
    trained: ModelVersion, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry._state, "warm_answers", False)
    registry.model_preload()
    loaded = registry.active_model()

    deadline = time.monotonic() + 30
    while len(loaded._answers) < ADULT_PROFILES:
        assert time.monotonic() < deadline, f"{len(loaded._answers)} answers after 30 s"
        time.sleep(0.05)
    assert len(loaded._answers) == ADULT_PROFILES


@pytest.mark.parametrize("seed", range(5))
def test_if_liked_titles_repeat_then_every_position_of_those_titles_is_found(seed: int) -> None:
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, 40, size=300)  # 40 titles over 300 movies: many repeats
    fake: Any = types.SimpleNamespace(dedupe_keys=keys, title_groups=registry.title_groups(keys))
    liked = rng.choice(300, size=int(rng.integers(0, 6)), replace=False)
    found = registry.LoadedModel._same_titles(fake, liked)
    assert sorted(found.tolist()) == np.flatnonzero(np.isin(keys, keys[liked])).tolist()
