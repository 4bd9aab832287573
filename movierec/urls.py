"""Project wiring: admin, probes, metrics, the OpenAPI schema, then each app's API routes."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from movierec import guards, health, views
from movierec.metrics import metrics_view

# The admin's "View site" link: this service's site is its API, so the link opens the API docs.
admin.site.site_url = "/api/docs/"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/", include("accounts.urls")),
    path("api/", include("recommender.urls")),
]

handler400 = guards.bad_request
handler403 = guards.permission_denied
handler404 = views.not_found
handler500 = views.server_error
