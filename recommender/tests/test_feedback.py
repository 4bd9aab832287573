"""POST /api/feedback and DELETE /api/feedback/{client_ref}: storage, limits, retention,
admin, and training on the feedback people (on the synthetic catalogue of conftest)."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey
from accounts.services import api_key_create, api_key_revoke
from catalog.models import Movie
from recommender.datasets import catalogue_snapshot
from recommender.ml import artifacts
from recommender.ml.profile import Profile
from recommender.ml.scoring import Scorer
from recommender.models import FeedbackPerson, FeedbackRating, ModelVersion
from recommender.services import model_train
from recommender.tests.conftest import ACTION, COMEDY, ROMANCE, TWIN

pytestmark = pytest.mark.django_db

URL = "/api/feedback"
PERSON: dict[str, Any] = {"age": 40, "gender": "F", "occupation": "doctor"}
BAD_REF = "Must be 1-64 printable ASCII characters without spaces (an opaque id)."


def _invalid(**errors: list[str]) -> dict[str, Any]:
    return {"detail": "Invalid input.", "code": "invalid", "errors": errors}


def _post(client: APIClient, body: Any) -> Any:
    return client.post(URL, json.dumps(body), content_type="application/json")


def _client_for(raw_key: str) -> APIClient:
    token = APIClient().post("/api/authenticate", {"key": raw_key}, format="json").json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _ml_id(title: str) -> int:
    return int(Movie.objects.filter(title=title).order_by("ml_id")[0].ml_id)


# --- storing --------------------------------------------------------------------------------


def test_if_ratings_sent_then_201_with_the_number_stored_and_rows_for_the_key(
    trained: ModelVersion, auth_client: APIClient, api_key: tuple[ApiKey, str]
) -> None:
    body = {
        **PERSON,
        "ratings": [{"movie": ACTION[0], "rating": 5}, {"movie": _ml_id(ROMANCE[1]), "rating": 2}],
        "client_ref": "u-1",
    }
    response = _post(auth_client, body)
    assert response.status_code == 201
    assert response.json() == {"stored": 2}
    person = FeedbackPerson.objects.get()
    assert (person.api_key_id, person.client_ref, person.age, person.gender, person.occupation) == (
        api_key[0].pk,
        "u-1",
        40,
        "F",
        "doctor",
    )
    stored = sorted(person.ratings.values_list("movie__title", "rating"))
    assert stored == [(ACTION[0], 5), (ROMANCE[1], 2)]


def test_if_same_client_ref_and_movie_again_then_one_person_latest_rating_wins(
    trained: ModelVersion, auth_client: APIClient
) -> None:
    first = {**PERSON, "client_ref": "u-1", "ratings": [{"movie": ACTION[0], "rating": 5}]}
    assert _post(auth_client, first).json() == {"stored": 1}
    again = {
        **PERSON,
        "age": 41,
        "client_ref": "u-1",
        "ratings": [
            {"movie": ACTION[0], "rating": 1},
            {"movie": COMEDY[0], "rating": 3},
            {"movie": COMEDY[0], "rating": 4},
        ],
    }
    assert _post(auth_client, again).json() == {"stored": 2}
    person = FeedbackPerson.objects.get()
    assert person.age == 41
    assert sorted(person.ratings.values_list("movie__title", "rating")) == [
        (ACTION[0], 1),
        (COMEDY[0], 4),
    ]


def test_if_no_client_ref_then_each_call_is_a_new_person(
    trained: ModelVersion, auth_client: APIClient
) -> None:
    body = {**PERSON, "ratings": [{"movie": ACTION[0], "rating": 5}]}
    _post(auth_client, body)
    _post(auth_client, body)
    assert FeedbackPerson.objects.count() == 2
    assert set(FeedbackPerson.objects.values_list("client_ref", flat=True)) == {""}


def test_if_two_keys_use_the_same_client_ref_then_two_people(
    trained: ModelVersion, auth_client: APIClient
) -> None:
    _, other_raw = api_key_create(name="other client")
    body = {**PERSON, "client_ref": "same", "ratings": [{"movie": ACTION[0], "rating": 5}]}
    _post(auth_client, body)
    _post(_client_for(other_raw), body)
    assert FeedbackPerson.objects.filter(client_ref="same").count() == 2


def test_if_twice_listed_title_rated_then_one_rating_for_its_first_movie(
    trained: ModelVersion, auth_client: APIClient
) -> None:
    _post(auth_client, {**PERSON, "ratings": [{"movie": TWIN, "rating": 4}]})
    assert list(FeedbackRating.objects.values_list("movie__ml_id", flat=True)) == [_ml_id(TWIN)]


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        ({"ratings": []}, {"ratings": ["Send at least one rating."]}),
        ({"ratings": None}, {"ratings": ["This field may not be null."]}),
        ({"ratings": {"movie": 1}},
         {"ratings": ['Expected a list of ratings but got type "dict".']}),
        ({"ratings": [{"movie": 1, "rating": 3}] * 101},
         {"ratings": ["Ensure this field has no more than 100 elements."]}),
        ({"ratings": [{"movie": "Nope (1990)", "rating": 3}, {"movie": 999, "rating": 3}]},
         {"ratings": ['Item 1: "Nope (1990)" is not a title in the catalogue.',
                      "Item 2: 999 is not a MovieLens id in the catalogue."]}),
        ({"ratings": [{"movie": 1, "rating": 6}, {"movie": 1, "rating": "5"},
                      {"movie": True, "rating": 3}, {"movie": 1}, 7]},
         {"ratings": ["Item 1: rating must be an integer from 1 to 5.",
                      "Item 2: rating must be an integer from 1 to 5.",
                      "Item 3: true is not a title (string) or a MovieLens id (integer).",
                      'Item 4: expected {"movie": ..., "rating": 1-5}.',
                      'Item 5: expected {"movie": ..., "rating": 1-5}.']}),
        ({"client_ref": "has space"}, {"client_ref": [BAD_REF]}),
        ({"client_ref": "é"}, {"client_ref": [BAD_REF]}),
        ({"client_ref": 12}, {"client_ref": [BAD_REF]}),
        ({"client_ref": "x" * 65},
         {"client_ref": ["Ensure this field has no more than 64 characters."]}),
        ({"client_ref": ""}, {"client_ref": ["This field may not be blank."]}),
        ({"age": 0}, {"age": ["Ensure this value is greater than or equal to 1."]}),
        ({"gender": "f"}, {"gender": ['"f" is not a valid choice.']}),
    ],
)  # fmt: skip
def test_if_body_invalid_then_400_naming_the_field_and_nothing_stored(
    trained: ModelVersion, auth_client: APIClient, change: dict[str, Any], errors: dict[str, Any]
) -> None:
    body = {**PERSON, "ratings": [{"movie": ACTION[0], "rating": 5}], **change}
    response = _post(auth_client, body)
    assert response.status_code == 400
    assert response.json() == _invalid(**errors)
    assert not FeedbackPerson.objects.exists()


def test_if_fields_missing_then_400_naming_each(
    trained: ModelVersion, auth_client: APIClient
) -> None:
    response = _post(auth_client, {})
    required = ["This field is required."]
    assert response.json() == _invalid(
        age=required, gender=required, occupation=required, ratings=required
    )


def test_if_no_token_then_401(trained: ModelVersion, api_client: APIClient) -> None:
    response = _post(api_client, {**PERSON, "ratings": [{"movie": 1, "rating": 5}]})
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


# --- limits ---------------------------------------------------------------------------------


def test_if_key_calls_too_often_then_429_with_retry_after(
    trained: ModelVersion, auth_client: APIClient, settings: Any
) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "feedback": "2/min",
        },
    }
    body = {**PERSON, "client_ref": "u", "ratings": [{"movie": 1, "rating": 5}]}
    assert [_post(auth_client, body).status_code for _ in range(2)] == [201, 201]
    response = _post(auth_client, body)
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response.json()["code"] == "throttled"
    # Another key has its own budget.
    _, other_raw = api_key_create(name="other client")
    assert _post(_client_for(other_raw), body).status_code == 201


def test_if_key_has_its_cap_of_people_then_429_for_a_new_one_not_for_known_ones(
    trained: ModelVersion, auth_client: APIClient, settings: Any
) -> None:
    settings.FEEDBACK_MAX_PEOPLE_PER_KEY = 2
    for ref in ("a", "b"):
        body = {**PERSON, "client_ref": ref, "ratings": [{"movie": 1, "rating": 5}]}
        assert _post(auth_client, body).status_code == 201
    response = _post(
        auth_client, {**PERSON, "client_ref": "c", "ratings": [{"movie": 1, "rating": 4}]}
    )
    assert response.status_code == 429
    assert response.json() == {
        "detail": "This API key has stored the most feedback people it may (2): delete some "
        "with DELETE /api/feedback/{client_ref} or ask for a higher limit.",
        "code": "feedback_limit_reached",
    }
    known = {**PERSON, "client_ref": "a", "ratings": [{"movie": 2, "rating": 4}]}
    assert _post(auth_client, known).status_code == 201
    assert FeedbackPerson.objects.count() == 2


# --- deleting and retention -----------------------------------------------------------------


def test_if_key_deletes_its_person_then_204_and_gone_then_404(
    trained: ModelVersion, auth_client: APIClient
) -> None:
    body = {**PERSON, "client_ref": "a/b:c", "ratings": [{"movie": 1, "rating": 5}]}
    _post(auth_client, body)
    _, other_raw = api_key_create(name="other client")
    assert _client_for(other_raw).delete(f"{URL}/a/b:c").status_code == 404
    response = auth_client.delete(f"{URL}/a/b:c")
    assert response.status_code == 204
    assert not FeedbackPerson.objects.exists()
    assert not FeedbackRating.objects.exists()
    again = auth_client.delete(f"{URL}/a/b:c")
    assert again.status_code == 404
    assert again.json() == {
        "detail": "This API key has sent no feedback under that client_ref.",
        "code": "not_found",
    }


def test_if_purge_runs_then_people_past_retention_go_and_recent_ones_stay(
    trained: ModelVersion, auth_client: APIClient, settings: Any
) -> None:
    settings.FEEDBACK_RETENTION_DAYS = 30
    for ref in ("old", "new"):
        _post(auth_client, {**PERSON, "client_ref": ref, "ratings": [{"movie": 1, "rating": 5}]})
    FeedbackPerson.objects.filter(client_ref="old").update(
        updated_at=timezone.now() - timedelta(days=31)
    )
    out = StringIO()
    call_command("purge_feedback", stdout=out)
    assert out.getvalue() == "deleted 1 feedback people last rated over 30 days ago\n"
    assert list(FeedbackPerson.objects.values_list("client_ref", flat=True)) == ["new"]
    assert FeedbackRating.objects.count() == 1


# --- training -------------------------------------------------------------------------------


def _doctor_feedback(
    client: APIClient, *, people: int = 40, loved: tuple[str, ...], genders: str = "MF"
) -> None:
    """Doctors (none among the MovieLens raters) who love ``loved`` and dislike the rest."""
    for i in range(people):
        ratings = [{"movie": title, "rating": 5} for title in loved]
        ratings += [{"movie": ACTION[i % 5], "rating": 1}, {"movie": ROMANCE[i % 5], "rating": 1}]
        ratings = [r for r in ratings if r["rating"] == 5 or r["movie"] not in loved]
        body = {
            "age": 30 + i % 20,
            "gender": genders[i % len(genders)],
            "occupation": "doctor",
            "client_ref": f"doc-{i}",
            "ratings": ratings,
        }
        assert _post(client, body).status_code == 201


DOCTOR = Profile(age=40, gender="F", occupation="doctor")


def _ranking(version: ModelVersion, profile: Profile) -> list[str]:
    model = artifacts.loads(bytes(version.artifact), expected_sha256=version.artifact_sha256)
    catalogue = catalogue_snapshot()
    flags = catalogue.genre_flags[:, [catalogue.genre_names.index(g) for g in model.genre_names]]
    scorer = Scorer(model, catalogue.movie_ids, flags)
    return [catalogue.titles[i] for i in scorer.top_k(profile, len(catalogue.titles))]


def test_if_feedback_favours_movies_for_a_segment_then_retraining_moves_them_up_there(
    trained: ModelVersion, auth_client: APIClient
) -> None:
    before = _ranking(trained, DOCTOR)
    assert min(before.index(COMEDY[0]), before.index(COMEDY[1])) >= 5
    _doctor_feedback(auth_client, loved=(COMEDY[0], COMEDY[1]))
    # Not activated here: the gate judges the candidate on the MovieLens raters, which
    # this feedback contradicts for comedies (it may well refuse it, as it should).
    candidate = model_train(seed=42, activate=False).version
    assert candidate.metrics["training_data"] == {
        "movielens_raters": 100,
        "movielens_ratings": trained.metrics["training_data"]["movielens_ratings"],
        "feedback_people": 40,
        "feedback_ratings": 160,
    }
    after = _ranking(candidate, DOCTOR)
    assert set(after[:2]) == {COMEDY[0], COMEDY[1]}
    # The evaluation still tests on the MovieLens raters alone.
    assert candidate.metrics["n_raters_evaluated"] == trained.metrics["n_raters_evaluated"]


def test_if_feedback_key_is_revoked_or_flag_given_then_training_leaves_it_out(
    trained: ModelVersion, auth_client: APIClient, api_key: tuple[ApiKey, str]
) -> None:
    _doctor_feedback(auth_client, loved=(COMEDY[0], COMEDY[1]))
    left_out = model_train(seed=42, feedback=False, activate=False)
    assert left_out.version.metrics["training_data"]["feedback_people"] == 0
    assert left_out.version.data_fingerprint == trained.data_fingerprint
    api_key_revoke(api_key=api_key[0])
    revoked = model_train(seed=42, activate=False)
    assert revoked.version.metrics["training_data"]["feedback_people"] == 0
    assert revoked.version.data_fingerprint == trained.data_fingerprint
    assert revoked.version.artifact_sha256 == trained.artifact_sha256


def test_if_trained_without_feedback_then_command_says_so(trained: ModelVersion) -> None:
    out = StringIO()
    call_command("train_model", "--no-feedback", "--no-activate", stdout=out, stderr=StringIO())
    assert "  data: 100 MovieLens raters, 0 feedback people (0 ratings)\n" in out.getvalue()


# --- admin and the round trip ---------------------------------------------------------------


@pytest.fixture
def staff() -> Client:
    user = User.objects.create_superuser("staff", "staff@example.org", "pw")
    client = Client()
    client.force_login(user)
    return client


def test_if_feedback_round_trips_then_admin_shows_it_and_a_gated_version_learns_from_it(
    trained: ModelVersion,
    auth_client: APIClient,
    api_key: tuple[ApiKey, str],
    staff: Client,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # Women doctors who love the romances: in line with the MovieLens women, so the gate
    # lets the retrained version serve.
    _doctor_feedback(auth_client, people=40, loved=(ROMANCE[0], ROMANCE[1]), genders="F")
    _, other_raw = api_key_create(name="other client")
    _post(_client_for(other_raw), {**PERSON, "ratings": [{"movie": 1, "rating": 5}]})

    page = staff.get("/admin/recommender/feedbackperson/", {"api_key__id__exact": api_key[0].pk})
    assert page.status_code == 200
    assert page.context["cl"].result_count == 40
    first = page.context["cl"].result_list[0]
    assert (first.ratings_count, first.key_people_count) == (4, 40)
    today = timezone.now()
    dated = staff.get(
        "/admin/recommender/feedbackperson/",
        {"created_at__year": today.year, "created_at__month": today.month},
    )
    assert dated.context["cl"].result_count == 41
    detail = staff.get(f"/admin/recommender/feedbackperson/{first.pk}/change/")
    assert detail.status_code == 200
    assert ROMANCE[0] in detail.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        outcome = model_train(seed=42)
    assert outcome.activated, outcome.gate
    assert outcome.gate["passed"]
    assert outcome.version.metrics["training_data"] == {
        **outcome.version.metrics["training_data"],
        "feedback_people": 41,
        "feedback_ratings": FeedbackRating.objects.count(),
    }
    response = auth_client.post(
        "/api/recommend",
        {"age": 40, "gender": "F", "occupation": "doctor", "limit": 2},
        format="json",
    )
    assert response["X-Model-Version"] == str(outcome.version.version) == "2"
    assert set(response.json()) == {ROMANCE[0], ROMANCE[1]}

    # Staff delete by key: everything the first key sent, nothing of the other's.
    one = FeedbackPerson.objects.filter(api_key=api_key[0]).values_list("pk", flat=True)[:1]
    deleted = staff.post(
        "/admin/recommender/feedbackperson/",
        {"action": "delete_keys_feedback", "_selected_action": list(one)},
    )
    assert deleted.status_code == 302
    assert list(FeedbackPerson.objects.values_list("api_key__name", flat=True)) == ["other client"]
