"""accounts: API routes (no trailing slash: the URL is /api/authenticate)."""

from django.urls import path

from accounts.views import AuthenticateView

urlpatterns = [
    path("authenticate", AuthenticateView.as_view(), name="authenticate"),
]
