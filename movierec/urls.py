"""Project wiring: admin, then each app's API routes under /api/."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from movierec import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("accounts.urls")),
    path("api/", include("recommender.urls")),
]

handler404 = views.not_found
handler500 = views.server_error
