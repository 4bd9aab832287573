"""Test-only URLconf: the real /api/authenticate plus a protected no-op endpoint."""

from __future__ import annotations

from django.urls import include, path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class ProtectedNoopView(APIView):
    """Uses the project's default authentication and permission classes, like any API view."""

    def get(self, request: Request) -> Response:
        return Response(
            {
                "key_id": request.user.pk,
                "name": request.user.name,
                "prefix": request.user.prefix,
                "claims": dict(request.auth.payload),
            }
        )


urlpatterns = [
    path("api/", include("accounts.urls")),
    path("api/protected", ProtectedNoopView.as_view()),
]
