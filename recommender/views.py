"""recommender: POST /api/recommend."""

from __future__ import annotations

import copy
from typing import Any

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from movierec.guards import PostOnlyAPIView
from movierec.metrics import RECOMMENDATIONS, RECOMMENDED_ITEMS
from movierec.schema import error_responses
from recommender.ml.profile import GENDERS, MAX_AGE, MIN_AGE, OCCUPATIONS, Profile
from recommender.services import recommendations_for


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


class RecommendView(PostOnlyAPIView):
    @extend_schema_serializer(component_name="Recommend")
    class InputSerializer(serializers.Serializer):
        age = StrictIntegerField(min_value=MIN_AGE, max_value=MAX_AGE)
        gender = StrictChoiceField(choices=GENDERS)
        occupation = StrictChoiceField(choices=OCCUPATIONS)
        limit = StrictIntegerField(min_value=1, max_value=100, default=10, required=False)

        def get_fields(self) -> dict[str, serializers.Field]:
            # DRF deep-copies every declared field for every request (a third of this
            # view's cost, mostly re-building the 21 occupation choices). These fields hold
            # no per-request state, so a shallow copy per instance is enough.
            return {name: copy.copy(field) for name, field in self._declared_fields.items()}

    @extend_schema(
        operation_id="recommend",
        summary="Movies a person is most likely to rate highly",
        description=(
            "Titles of the movies of the ml-100k catalogue that a person of this age, "
            "gender and occupation is most likely to rate 4 or 5 stars, best first, "
            "without duplicates. The same input gives the same answer under the same "
            "model version (sent in the `X-Model-Version` header)."
        ),
        request=InputSerializer,
        responses={
            200: OpenApiResponse(
                response={"type": "array", "items": {"type": "string"}},
                description="Movie titles, best first.",
                examples=[
                    OpenApiExample(
                        "Titles", value=["Star Wars (1977)", "Fargo (1996)", "Contact (1997)"]
                    )
                ],
            ),
            **error_responses(400, 401, 405, 411, 413, 415, 503),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        limit = data.validated_data.pop("limit")
        version, titles = recommendations_for(profile=Profile(**data.validated_data), limit=limit)
        RECOMMENDATIONS.inc()
        RECOMMENDED_ITEMS.inc(len(titles))
        return Response(titles, headers={"X-Model-Version": str(version)})
