"""The bare reference's one route: POST /api/recommend, answering 10 constant titles."""

from django.urls import path
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from recommender.ml.profile import GENDERS, MAX_AGE, MIN_AGE, OCCUPATIONS

TITLES = [
    "Star Wars (1977)",
    "Fargo (1996)",
    "Return of the Jedi (1983)",
    "Contact (1997)",
    "English Patient, The (1996)",
    "Scream (1996)",
    "Toy Story (1995)",
    "Liar Liar (1997)",
    "Air Force One (1997)",
    "Independence Day (ID4) (1996)",
]


class RecommendInput(serializers.Serializer):
    age = serializers.IntegerField(min_value=MIN_AGE, max_value=MAX_AGE)
    gender = serializers.ChoiceField(choices=GENDERS)
    occupation = serializers.ChoiceField(choices=OCCUPATIONS)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=10, required=False)


class ReferenceRecommendView(APIView):
    """Authenticated (stateless JWT), validated, constant answer."""

    def post(self, request: Request) -> Response:
        data = RecommendInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(TITLES[: data.validated_data["limit"]])


urlpatterns = [path("api/recommend", ReferenceRecommendView.as_view())]
