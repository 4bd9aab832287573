"""POST /api/recommend request options: exclude, genres, years, paging, details, children.

On the synthetic catalogue of conftest (men like the action movies, women the romances,
"Twin Title (1990)" under two ids), with release dates, one Horror title and two unrated
movies without a year in their titles added before training.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from django.db.models import Q
from rest_framework.test import APIClient

from catalog.models import Genre, Movie, Rating
from recommender import registry
from recommender.ml.features import age_bucket
from recommender.models import ModelVersion
from recommender.services import model_train
from recommender.tests.conftest import ACTION, COMEDY, ROMANCE, TWIN

pytestmark = pytest.mark.django_db

URL = "/api/recommend"
WOMAN: dict[str, Any] = {"age": 30, "gender": "F", "occupation": "writer"}
MAN: dict[str, Any] = {"age": 30, "gender": "M", "occupation": "student"}
SCARY = ACTION[0]  # also Horror
DATED_ONLY = "Dated Only"  # no year in the title, released 1993
NAMELESS = "Nameless"  # no year in the title, no date
ALL_TITLES = {*ACTION, *ROMANCE, *COMEDY, TWIN, DATED_ONLY, NAMELESS}


def _invalid(**errors: list[str]) -> dict[str, Any]:
    return {"detail": "Invalid input.", "code": "invalid", "errors": errors}


@pytest.fixture
def steered(catalogue: None) -> ModelVersion:
    """The synthetic catalogue with release dates (Action 1990; the romances, titled 1991,
    re-released 1997; none for the rest), ACTION[0] also a Horror title, two comedies
    nobody rated, and a model trained on it."""
    horror = Genre.objects.create(ml_id=11, name="Horror")
    Movie.objects.get(title=SCARY).genres.add(horror)
    for year, titles in ((1990, ACTION), (1997, ROMANCE)):
        Movie.objects.filter(title__in=titles).update(release_date=date(year, 6, 1))
    comedy = Genre.objects.get(name="Comedy")
    Movie.objects.create(ml_id=100, title=DATED_ONLY, release_date=date(1993, 1, 1))
    Movie.objects.create(ml_id=101, title=NAMELESS)
    for movie in Movie.objects.filter(ml_id__in=[100, 101]):
        movie.genres.add(comedy)
    outcome = model_train(seed=42)
    assert outcome.activated, outcome.gate
    return outcome.version


def _post(client: APIClient, body: Any) -> Any:
    return client.post(URL, json.dumps(body), content_type="application/json")


def _titles(client: APIClient, body: dict[str, Any]) -> list[str]:
    response = _post(client, body)
    assert response.status_code == 200, response.content
    return list(response.json())


def _everything(client: APIClient, profile: dict[str, Any]) -> list[str]:
    return _titles(client, {**profile, "limit": 100})


def _genres(title: str) -> set[str]:
    return set(Genre.objects.filter(movies__title=title).values_list("name", flat=True))


# --- absent options, exclude ------------------------------------------------------------------


def test_if_options_are_their_defaults_then_answer_is_the_plain_one(
    steered: ModelVersion, auth_client: APIClient
) -> None:
    plain = _post(auth_client, MAN)
    spelled_out = _post(auth_client, {**MAN, "offset": 0, "detail": False, "exclude": []})
    assert plain.content == spelled_out.content
    assert len(plain.json()) == 10


def test_if_titles_excluded_then_ranking_is_the_default_minus_them(
    steered: ModelVersion, auth_client: APIClient
) -> None:
    everything = _everything(auth_client, WOMAN)
    gone = [everything[0], everything[3]]
    titles = _titles(auth_client, {**WOMAN, "limit": 100, "exclude": gone})
    assert titles == [t for t in everything if t not in gone]


def test_if_movielens_ids_excluded_then_those_movies_are_gone(
    steered: ModelVersion, auth_client: APIClient
) -> None:
    everything = _everything(auth_client, MAN)
    ids = list(Movie.objects.filter(title__in=everything[:2]).values_list("ml_id", flat=True))
    assert _titles(auth_client, {**MAN, "limit": 100, "exclude": ids}) == everything[2:]


def test_if_twice_listed_title_excluded_then_neither_of_its_movies_comes_back(
    steered: ModelVersion, auth_client: APIClient
) -> None:
    assert TWIN in _everything(auth_client, MAN)
    assert TWIN not in _titles(auth_client, {**MAN, "limit": 100, "exclude": [TWIN]})
    # One of the two ids leaves the other: the title still comes back, once.
    one = Movie.objects.filter(title=TWIN).order_by("ml_id").first()
    assert one is not None
    titles = _titles(auth_client, {**MAN, "limit": 100, "exclude": [one.ml_id]})
    assert titles.count(TWIN) == 1


@pytest.mark.parametrize(
    ("exclude", "messages"),
    [
        (["No Such Film (1990)"], ['"No Such Film (1990)" is not a title in the catalogue.']),
        (
            ["romance 1 (1991)", ROMANCE[0], 9999],
            [
                '"romance 1 (1991)" is not a title in the catalogue.',
                "9999 is not a MovieLens id in the catalogue.",
            ],
        ),
        ([1, True, None, 2.5, ["x"]], [
            "true is not a title (string) or a MovieLens id (integer).",
            "null is not a title (string) or a MovieLens id (integer).",
            "2.5 is not a title (string) or a MovieLens id (integer).",
            '["x"] is not a title (string) or a MovieLens id (integer).',
        ]),
        ("Action 1 (1990)", ['Expected a list of titles or MovieLens ids but got type "str".']),
        ({"a": 1}, ['Expected a list of titles or MovieLens ids but got type "dict".']),
        (None, ["This field may not be null."]),
        ([1] * 501, ["Ensure this field has no more than 500 elements."]),
        (["x" * 200], [f'"{"x" * 78}… is not a title in the catalogue.']),
    ],
)  # fmt: skip
def test_if_exclude_is_bad_then_400_naming_each_bad_value(
    steered: ModelVersion, auth_client: APIClient, exclude: Any, messages: list[str]
) -> None:
    response = _post(auth_client, {**WOMAN, "exclude": exclude})
    assert response.status_code == 400
    assert response.json() == _invalid(exclude=messages)


def test_if_500_known_movies_excluded_then_accepted(
    steered: ModelVersion, auth_client: APIClient
) -> None:
    ids = list(Movie.objects.values_list("ml_id", flat=True))
    response = _post(auth_client, {**WOMAN, "exclude": (ids * 40)[:500]})
    assert response.status_code == 200
    assert response.json() == []


# --- genres and years -------------------------------------------------------------------------


def test_if_genres_given_then_only_movies_with_one_of_them_in_default_order(
    steered: ModelVersion, auth_client: APIClient
) -> None:
    everything = _everything(auth_client, MAN)
    titles = _titles(auth_client, {**MAN, "genres": ["Romance", "Horror"]})
    assert titles == [t for t in everything if _genres(t) & {"Romance", "Horror"}][:10]
    assert set(titles) == {*ROMANCE, SCARY}


def test_if_genres_excluded_then_no_movie_with_any_of_them(
    steered: ModelVersion, auth_client: APIClient
) -> None:
    everything = _everything(auth_client, MAN)
    titles = _titles(auth_client, {**MAN, "limit": 100, "exclude_genres": ["Action", "Comedy"]})
    assert titles == [t for t in everything if not _genres(t) & {"Action", "Comedy"}]
    assert set(titles) == set(ROMANCE)


def test_if_filters_leave_nothing_then_empty_list_not_padding(
    steered: ModelVersion, auth_client: APIClient
) -> None:
    assert _titles(auth_client, {**MAN, "genres": ["Western"]}) == []
    body = {**MAN, "genres": ["Romance"], "exclude_genres": ["Romance"], "detail": True}
    assert _titles(auth_client, body) == []


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"genres": ["Scifi"]}, {"genres": ['"Scifi" is not an ml-100k genre.']}),
        (
            {"exclude_genres": ["horror", 3]},
            {"exclude_genres": ['"horror" is not an ml-100k genre.', "3 is not an ml-100k genre."]},
        ),
        ({"genres": "Action"}, {"genres": ['Expected a list of genre names but got type "str".']}),
        ({"genres": ["Action"] * 20},
         {"genres": ["Ensure this field has no more than 19 elements."]}),
        ({"released_from": 1995, "released_to": 1990},
         {"released_to": ["Must not be before released_from (1995), got 1990."]}),
        ({"released_from": "1995"}, {"released_from": ["A valid integer is required."]}),
        ({"released_to": 1799},
         {"released_to": ["Ensure this value is greater than or equal to 1800."]}),
        ({"released_from": 2101},
         {"released_from": ["Ensure this value is less than or equal to 2100."]}),
        ({"offset": -1}, {"offset": ["Ensure this value is greater than or equal to 0."]}),
        ({"offset": 1.0}, {"offset": ["A valid integer is required."]}),
        ({"offset": 491}, {"offset": ["offset + limit must be at most 500, got 491 + 10."]}),
        ({"offset": 401, "limit": 100},
         {"offset": ["offset + limit must be at most 500, got 401 + 100."]}),
        ({"detail": "true"}, {"detail": ["Must be true or false."]}),
        ({"detail": 1}, {"detail": ["Must be true or false."]}),
        ({"detail": None}, {"detail": ["This field may not be null."]}),
    ],
)  # fmt: skip
def test_if_option_invalid_then_400_naming_the_field_and_value(
    steered: ModelVersion, auth_client: APIClient, body: dict[str, Any], errors: dict[str, Any]
) -> None:
    response = _post(auth_client, {**WOMAN, **body})
    assert response.status_code == 400
    assert response.json() == _invalid(**errors)


def test_if_years_given_then_range_inclusive_and_undated_movies_left_out(
    steered: ModelVersion, auth_client: APIClient
) -> None:
    everything = _everything(auth_client, WOMAN)
    assert NAMELESS in everything
    assert set(_titles(auth_client, {**WOMAN, "released_to": 1990, "limit": 100})) == {
        *ACTION,
        TWIN,
    }
    # The romances are titled 1991 and dated 1997: the title's year counts.
    titles = _titles(auth_client, {**WOMAN, "released_from": 1991, "released_to": 1992})
    assert titles == [t for t in everything if t in {*ROMANCE, *COMEDY}][:10]
    assert _titles(auth_client, {**WOMAN, "released_from": 1993, "limit": 100}) == [DATED_ONLY]
    assert _titles(auth_client, {**WOMAN, "released_from": 1994}) == []
    assert NAMELESS not in _titles(auth_client, {**WOMAN, "released_from": 1800, "limit": 100})


# --- paging -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("offset", "limit"), [(0, 3), (3, 3), (5, 4), (10, 5), (13, 10), (16, 1)])
def test_if_offset_given_then_the_same_ranking_sliced(
    steered: ModelVersion, auth_client: APIClient, offset: int, limit: int
) -> None:
    everything = _everything(auth_client, WOMAN)
    assert len(everything) == 16
    page = _titles(auth_client, {**WOMAN, "offset": offset, "limit": limit})
    assert page == everything[offset : offset + limit]


def test_if_paging_with_filters_then_slices_of_the_filtered_ranking(
    steered: ModelVersion, auth_client: APIClient
) -> None:
    body = {**MAN, "exclude_genres": ["Romance"], "exclude": [TWIN]}
    filtered = _titles(auth_client, {**body, "limit": 100})
    pages = [_titles(auth_client, {**body, "offset": k, "limit": 3}) for k in range(0, 15, 3)]
    assert [t for page in pages for t in page] == filtered
    assert _titles(auth_client, {**body, "offset": 490, "limit": 10}) == []


# --- detail -----------------------------------------------------------------------------------


def test_if_detail_then_objects_for_the_same_titles_in_the_same_order(
    steered: ModelVersion, auth_client: APIClient
) -> None:
    body = {**WOMAN, "limit": 5, "offset": 2, "exclude_genres": ["Comedy"]}
    titles = _titles(auth_client, body)
    response = _post(auth_client, {**body, "detail": True})
    assert response.status_code == 200
    assert response["X-Model-Version"] == str(steered.version)
    items = response.json()
    assert [item["title"] for item in items] == titles
    movie = Movie.objects.get(title=items[0]["title"])
    assert items[0]["id"] == movie.ml_id
    assert items[0]["year"] == 1991  # the title's year, not the 1997 re-release
    assert items[0]["genres"] == ["Romance"]
    assert items[0]["imdb_url"] is None
    assert set(items[0]) == {"id", "title", "year", "genres", "imdb_url", "score", "reason"}
    scores = [item["score"] for item in items]
    assert scores == sorted(scores, reverse=True)


def _segment_counts(title: str, segment: Q) -> tuple[int, int]:
    ratings = Rating.objects.filter(segment, movie__title=title)
    return ratings.count(), ratings.filter(rating__gte=4).count()


def test_if_detail_then_reason_is_true_of_the_training_data(
    steered: ModelVersion, auth_client: APIClient
) -> None:
    items = _post(auth_client, {**WOMAN, "limit": 100, "detail": True}).json()
    checked = 0
    bucket = age_bucket(WOMAN["age"])
    low, high = (int(x) for x in bucket.split("-"))
    for item in items:
        if Movie.objects.filter(title=item["title"]).count() != 1:
            continue
        segments = [
            (Q(rater__gender="F", rater__age__gte=low, rater__age__lte=high),
             f"women aged {bucket}"),
            (Q(rater__gender="F"), "women"),
            (Q(rater__age__gte=low, rater__age__lte=high), f"people aged {bucket}"),
            (Q(rater__occupation="writer"), "writers"),
            (Q(), "people"),
        ]  # fmt: skip
        for segment, words in segments:
            raters, likes = _segment_counts(item["title"], segment)
            if raters >= 20:
                percent = round(100 * likes / raters)
                assert item["reason"] == f"Liked by {percent}% of the {raters} {words} who rated it"
                checked += 1
                break
        else:
            total, _ = _segment_counts(item["title"], Q())
            if total == 0:
                assert item["reason"] == (
                    "Nobody rated it in the training data: ranked by its genres"
                )
            else:
                assert item["reason"].startswith(f"Rated by only {total} ")
    assert checked >= 10


def test_if_movie_added_after_training_then_its_reason_says_so(
    steered: ModelVersion, auth_client: APIClient
) -> None:
    movie = Movie.objects.create(ml_id=999, title="Brand New (1999)", release_date=date(1999, 1, 1))
    movie.genres.add(Genre.objects.get(name="Romance"))
    items = _post(auth_client, {**WOMAN, "limit": 100, "detail": True}).json()
    new = [item for item in items if item["title"] == "Brand New (1999)"]
    assert new == [
        {
            "id": 999,
            "title": "Brand New (1999)",
            "year": 1999,
            "genres": ["Romance"],
            "imdb_url": None,
            "score": new[0]["score"],
            "reason": "Nobody rated it in the training data: ranked by its genres",
        }
    ]


# --- children ---------------------------------------------------------------------------------


@pytest.mark.parametrize("age", [1, 7, 12])
def test_if_child_then_default_list_has_no_horror_thriller_crime_noir_or_war(
    steered: ModelVersion, auth_client: APIClient, age: int
) -> None:
    child = {**MAN, "age": age, "occupation": "none"}
    titles = _titles(auth_client, {**child, "limit": 100})
    assert SCARY not in titles
    assert set(titles) == ALL_TITLES - {SCARY}
    # The rest keeps the model's order for that profile.
    unfiltered = _titles(auth_client, {**child, "limit": 100, "exclude_genres": []})
    assert SCARY in unfiltered
    assert titles == [t for t in unfiltered if t != SCARY]


def test_if_child_request_gives_genres_then_it_decides(
    steered: ModelVersion, auth_client: APIClient
) -> None:
    child = {**MAN, "age": 9}
    assert SCARY in _titles(auth_client, {**child, "genres": ["Action"]})
    assert SCARY in _titles(auth_client, {**child, "exclude_genres": ["Comedy"]})
    assert SCARY not in _titles(auth_client, {**child, "exclude_genres": ["Horror"]})


def test_if_thirteen_then_no_childrens_default(
    steered: ModelVersion, auth_client: APIClient
) -> None:
    assert SCARY in _titles(auth_client, {**MAN, "age": 13, "limit": 100})


# --- caching ----------------------------------------------------------------------------------


def test_if_many_distinct_filtered_requests_then_answer_cache_stays_bounded(
    steered: ModelVersion, auth_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = registry.active_model()
    monkeypatch.setattr(loaded._ranked, "size", 5)
    for age in range(20, 32):
        _titles(auth_client, {**MAN, "age": age, "exclude": [ROMANCE[0]]})
    assert len(loaded._ranked) == 5
    assert registry.active_model() is loaded
