"""recommender: API routes."""

from django.urls import path

from recommender.views import RecommendView

urlpatterns = [
    path("recommend", RecommendView.as_view(), name="recommend"),
]
