"""Test-only URLconf: the real /api/authenticate plus a protected no-op endpoint."""

from __future__ import annotations

from typing import cast

from django.urls import include, path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import ApiKeyAccessToken, ApiKeyPrincipal


class ProtectedNoopView(APIView):
    """Uses the project's default authentication and permission classes, like any API view."""

    def get(self, request: Request) -> Response:
        principal = cast(ApiKeyPrincipal, request.user)
        token = cast(ApiKeyAccessToken, request.auth)
        return Response(
            {
                "key_id": principal.pk,
                "name": principal.name,
                "prefix": principal.prefix,
                "claims": dict(token.payload),
            }
        )


urlpatterns = [
    path("api/", include("accounts.urls")),
    path("api/protected", ProtectedNoopView.as_view()),
]
