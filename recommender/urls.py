"""recommender: API routes."""

from django.urls import path

from recommender.views import FeedbackPersonView, FeedbackView, RecommendView

urlpatterns = [
    path("recommend", RecommendView.as_view(), name="recommend"),
    path("feedback", FeedbackView.as_view(), name="feedback"),
    path("feedback/<path:client_ref>", FeedbackPersonView.as_view(), name="feedback-person"),
]
