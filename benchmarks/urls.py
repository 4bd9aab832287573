"""Benchmark-only routes: the service's, plus /bench/ping."""

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from movierec.urls import handler404, handler500
from movierec.urls import urlpatterns as service_urlpatterns


class PingView(APIView):
    """Authenticated (project defaults) and otherwise empty."""

    def post(self, request: Request) -> Response:
        return Response(["pong"])


urlpatterns = [*service_urlpatterns, path("bench/ping", PingView.as_view())]
__all__ = ["handler404", "handler500", "urlpatterns"]
