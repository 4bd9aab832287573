"""accounts: API routes."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
