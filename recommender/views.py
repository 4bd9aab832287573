"""recommender: POST /api/recommend."""

from __future__ import annotations

import copy
from typing import Any, cast

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.throttling import AuthenticateRateThrottle
from movierec.guards import PostOnlyAPIView
from movierec.metrics import RECOMMENDATIONS, RECOMMENDED_ITEMS
from movierec.schema import error_responses
from recommender.fields import (
    ClientRefField,
    GenreListField,
    MovieRatingListField,
    MovieRefListField,
    StrictBooleanField,
)
from recommender.ml.filters import CHILD_AGE_LIMIT, CHILD_EXCLUDED_GENRES
from recommender.ml.profile import GENDERS, MAX_AGE, MIN_AGE, OCCUPATIONS, Profile
from recommender.registry import MAX_DEPTH
from recommender.services import (
    feedback_delete,
    feedback_record,
    recommendation_details_for,
    recommendations_for,
)

MAX_EXCLUDE = 500
# The most liked movies a request may name (warm start).
MAX_LIKED = 50
MIN_YEAR, MAX_YEAR = 1800, 2100
CHILDREN_RULE = (
    f"For ages under {CHILD_AGE_LIMIT} the default list leaves out "
    f"{', '.join(CHILD_EXCLUDED_GENRES)} titles, because ml-100k has no content ratings "
    f"and only 3 raters under {CHILD_AGE_LIMIT}, so the model cannot know what suits a "
    "child; a request that gives `genres` or `exclude_genres` decides instead."
)
SCORE_MEANING = (
    "The model's estimate that a person with this profile rated the movie 4-5 stars "
    "(a linear fit of 0/1 likes, so roughly 0-1 and occasionally just outside): it orders "
    "one answer and compares movies for one profile and model version; it is not a rating."
)


class StrictIntegerField(serializers.IntegerField):
    """An integer given as a JSON number: "30", 30.0, true and null are refused."""

    default_error_messages = {"invalid": "A valid integer is required."}

    def to_internal_value(self, data: Any) -> int:
        if not isinstance(data, int) or isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictChoiceField(serializers.ChoiceField):
    """A choice given as a JSON string, matched case-sensitively."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


class RecommendationSerializer(serializers.Serializer):
    """Schema of one `detail: true` item (answers are built by the service, not here)."""

    id = serializers.IntegerField(help_text="MovieLens id.")
    title = serializers.CharField(help_text="The exact title, as in `exclude`.")
    year = serializers.IntegerField(
        allow_null=True,
        help_text="Release year: the title's, else the release date's; null if neither.",
    )
    genres = serializers.ListField(child=serializers.CharField(), help_text="ml-100k genres.")
    imdb_url = serializers.CharField(allow_null=True, help_text="IMDb link; null if unknown.")
    score = serializers.FloatField(help_text=SCORE_MEANING)
    reason = serializers.CharField(
        help_text=(
            "One sentence true of the data the serving model was trained on: the share of "
            "the profile's most specific segment (gender and age group, gender, age group, "
            "occupation, everyone) with at least 20 raters of the movie who rated it 4-5."
        )
    )


class RecommendResponseSerializer(serializers.Serializer):
    """Schema only: the 200 body, titles or (with `detail: true`) objects."""


class RecommendResponseSchema(OpenApiSerializerExtension):
    target_class = RecommendResponseSerializer

    def get_name(self, auto_schema: Any, direction: Any) -> str:
        return "RecommendResponse"

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        detail = auto_schema.resolve_serializer(RecommendationSerializer, direction)
        return {
            "oneOf": [
                {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Without `detail` (or `detail: false`): titles, best first.",
                },
                {
                    "type": "array",
                    "items": detail.ref,
                    "minItems": 1,
                    "description": (
                        "With `detail: true`: objects, best first (an empty answer is `[]`)."
                    ),
                },
            ]
        }


EXAMPLES: dict[str, Any] = {
    "age": 30,
    "gender": "F",
    "occupation": "writer",
    "limit": 10,
    "offset": 0,
    "exclude": ["Star Wars (1977)", 181],
    "liked": ["Fargo (1996)", 127],
    "genres": ["Comedy", "Romance"],
    "exclude_genres": ["Horror"],
    "released_from": 1990,
    "released_to": 1998,
    "detail": False,
}


class _ProfileSerializer(serializers.Serializer):
    age = StrictIntegerField(min_value=MIN_AGE, max_value=MAX_AGE, help_text="Age in years.")
    gender = StrictChoiceField(choices=GENDERS, help_text="M, F or O (other).")
    occupation = StrictChoiceField(
        choices=OCCUPATIONS, help_text="One of the 21 ml-100k occupations."
    )
    limit = StrictIntegerField(
        min_value=1, max_value=100, default=10, required=False, help_text="How many movies."
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        # DRF deep-copies every declared field for every request (a third of this
        # view's cost, mostly re-building the 21 occupation choices). These fields hold
        # no per-request state, so a shallow copy per instance is enough.
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}


class RecommendView(PostOnlyAPIView):
    # A body without options is validated by the profile fields alone: the most frequent
    # request does not pay for seven more fields it does not use.
    ProfileSerializer = _ProfileSerializer

    @extend_schema_serializer(component_name="Recommend")
    class InputSerializer(_ProfileSerializer):
        offset = StrictIntegerField(
            min_value=0,
            max_value=MAX_DEPTH - 1,
            default=0,
            required=False,
            help_text=(
                f"Skip the first `offset` movies of the same ranking (page 2 of 10 = offset "
                f"10); `offset + limit` is at most {MAX_DEPTH}."
            ),
        )
        exclude = MovieRefListField(
            max_length=MAX_EXCLUDE,
            required=False,
            help_text=(
                "Movies never to return (for example those the person has seen): exact "
                "titles as returned, or MovieLens ids. A title listed twice in ml-100k "
                "excludes both. Each unknown one is a 400."
            ),
        )
        liked = MovieRefListField(
            max_length=MAX_LIKED,
            required=False,
            help_text=(
                f"Up to {MAX_LIKED} movies the person rated 4-5 stars: exact titles as "
                "returned, or MovieLens ids. The ranking then uses them (item-to-item "
                "evidence blended with the demographic prior) and never returns them. Each "
                "unknown one is a 400."
            ),
        )
        genres = GenreListField(
            required=False, help_text="Only movies with at least one of these genres."
        )
        exclude_genres = GenreListField(
            required=False, help_text=f"No movie with any of these genres. {CHILDREN_RULE}"
        )
        released_from = StrictIntegerField(
            min_value=MIN_YEAR,
            max_value=MAX_YEAR,
            required=False,
            help_text=(
                "Released in this year or later (the year in the title, else the release "
                "date's); movies with neither are left out when either bound is given."
            ),
        )
        released_to = StrictIntegerField(
            min_value=MIN_YEAR,
            max_value=MAX_YEAR,
            required=False,
            help_text=(
                "Released in this year or earlier (the year in the title, else the release "
                "date's); movies with neither are left out when either bound is given."
            ),
        )
        detail = StrictBooleanField(
            default=False,
            required=False,
            help_text="Return objects with id, year, genres, IMDb URL, score and reason.",
        )

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            start, end = attrs.get("released_from"), attrs.get("released_to")
            if start is not None and end is not None and start > end:
                raise serializers.ValidationError(
                    {"released_to": [f"Must not be before released_from ({start}), got {end}."]}
                )
            depth = attrs["offset"] + attrs["limit"]
            if depth > MAX_DEPTH:
                raise serializers.ValidationError(
                    {
                        "offset": [
                            f"offset + limit must be at most {MAX_DEPTH}, got "
                            f"{attrs['offset']} + {attrs['limit']}."
                        ]
                    }
                )
            return attrs

    @extend_schema(
        operation_id="recommend",
        summary="Movies a person is most likely to rate highly",
        description=(
            "Titles of the movies of the ml-100k catalogue that a person of this age, "
            "gender and occupation is most likely to rate 4 or 5 stars, best first, "
            "without duplicates. The same input gives the same answer under the same "
            "model version (sent in the `X-Model-Version` header).\n\n"
            "Every option is optional; without them the answer is the plain ranking. With "
            "them it is the same ranking with the filtered movies removed, then "
            "`offset`/`limit` applied; fewer than `limit` (possibly none) when the filters "
            f"leave fewer. {CHILDREN_RULE}"
        ),
        request=InputSerializer,
        examples=[
            OpenApiExample(
                "Profile only", value={"age": 30, "gender": "F", "occupation": "writer"}
            ),
            OpenApiExample("Every option", value=EXAMPLES, request_only=True),
        ],
        responses={
            200: OpenApiResponse(
                response=RecommendResponseSerializer,
                description="Movie titles, best first; objects with `detail: true`.",
                examples=[
                    OpenApiExample(
                        "Titles", value=["Star Wars (1977)", "Fargo (1996)", "Contact (1997)"]
                    ),
                    OpenApiExample(
                        "Details",
                        value=[
                            {
                                "id": 50,
                                "title": "Star Wars (1977)",
                                "year": 1977,
                                "genres": ["Action", "Adventure", "Romance", "Sci-Fi", "War"],
                                "imdb_url": "http://us.imdb.com/M/title-exact?Star%20Wars%20(1977)",
                                "score": 0.4123,
                                "reason": "Liked by 89% of the 153 men aged 25-34 who rated it",
                            }
                        ],
                    ),
                ],
            ),
            **error_responses(400, 401, 405, 411, 413, 415, 503),
        },
    )
    def post(self, request: Request) -> Response:
        body = request.data
        plain = not isinstance(body, dict) or OPTIONS.isdisjoint(body)
        data = (self.ProfileSerializer if plain else self.InputSerializer)(data=body)
        data.is_valid(raise_exception=True)
        options = dict(data.validated_data)
        profile = Profile(
            age=options.pop("age"),
            gender=options.pop("gender"),
            occupation=options.pop("occupation"),
        )
        detail = options.pop("detail", False)
        answer: list[Any]
        if detail:
            version, items = recommendation_details_for(profile=profile, **options)
            answer = [item.to_dict() for item in items]
        else:
            version, answer = recommendations_for(profile=profile, **options)
        RECOMMENDATIONS.inc()
        RECOMMENDED_ITEMS.inc(len(answer))
        return Response(answer, headers={"X-Model-Version": str(version)})


OPTIONS = frozenset(RecommendView.InputSerializer._declared_fields) - frozenset(
    _ProfileSerializer._declared_fields
)


class RecommendInputSchema(OpenApiSerializerExtension):
    """Adds an example to every property of the request schema."""

    target_class = RecommendView.InputSerializer

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_basic_serializer(self.target, direction)
        for name, prop in schema.get("properties", {}).items():
            if name in EXAMPLES:
                prop["example"] = EXAMPLES[name]
        return schema


MAX_FEEDBACK_RATINGS = 100


class FeedbackRateThrottle(AuthenticateRateThrottle):
    """At most ``FEEDBACK_RATE`` feedback calls per API key per window (atomic counts)."""

    scope = "feedback"

    def get_cache_key(self, request: Request, view: Any) -> str:
        return f"throttle:{self.scope}:{request.user.pk}"


class FeedbackView(PostOnlyAPIView):
    throttle_classes = [FeedbackRateThrottle]

    @extend_schema_serializer(component_name="Feedback")
    class InputSerializer(_ProfileSerializer):
        limit = None  # type: ignore[assignment]
        ratings = MovieRatingListField(
            max_length=MAX_FEEDBACK_RATINGS,
            help_text=(
                "What the person rated: movies named as in `exclude` of /api/recommend, with "
                "stars 1-5. A movie rated again (here or later under the same client_ref) "
                "keeps only the latest stars."
            ),
        )
        client_ref = ClientRefField(
            required=False,
            help_text=(
                "Your opaque id for this person, so later calls add to the same person and "
                "DELETE /api/feedback/{client_ref} can remove them. 1-64 printable ASCII "
                "characters without spaces; never an e-mail address, a name or anything "
                "else that identifies someone. Without it each call is a new person."
            ),
        )

    class OutputSerializer(serializers.Serializer):
        stored = serializers.IntegerField(help_text="How many movies' ratings were stored.")

    @extend_schema(
        operation_id="feedback",
        summary="Ratings a person gave, for training the next model",
        description=(
            "Stores a person's demographics and ratings (no personal data) under the API key "
            "that sent them; the next `train_model` learns from them. Kept for "
            "`FEEDBACK_RETENTION_DAYS` after the person's last rating. Limited per key: "
            "`FEEDBACK_RATE` calls and `FEEDBACK_MAX_PEOPLE_PER_KEY` people (429 beyond)."
        ),
        request=InputSerializer,
        examples=[
            OpenApiExample(
                "Two ratings",
                value={
                    "age": 30,
                    "gender": "F",
                    "occupation": "writer",
                    "ratings": [
                        {"movie": "Fargo (1996)", "rating": 5},
                        {"movie": 50, "rating": 4},
                    ],
                    "client_ref": "u-7f3a9c",
                },
                request_only=True,
            )
        ],
        responses={
            201: OpenApiResponse(OutputSerializer, description="Stored."),
            **error_responses(400, 401, 405, 411, 413, 415, 429, 503),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        stored = feedback_record(
            api_key_id=cast(int, request.user.pk),
            profile=Profile(
                age=values["age"], gender=values["gender"], occupation=values["occupation"]
            ),
            ratings=values["ratings"],
            client_ref=values.get("client_ref", ""),
        )
        return Response({"stored": stored}, status=201)


class FeedbackPersonView(PostOnlyAPIView):
    # The guard's method check (before authentication), for DELETE instead of POST.
    http_method_names = ["delete"]
    throttle_classes = [FeedbackRateThrottle]

    @extend_schema(
        operation_id="feedback_delete",
        summary="Delete a person this key sent feedback for",
        description="Deletes the person and every rating sent for them under this client_ref.",
        responses={
            204: OpenApiResponse(description="Deleted."),
            **error_responses(401, 404, 405, 429),
        },
    )
    def delete(self, request: Request, client_ref: str) -> Response:
        feedback_delete(api_key_id=cast(int, request.user.pk), client_ref=client_ref)
        return Response(status=204)
