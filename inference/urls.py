"""API routes of inference (/api/inference/): model versions and runs arrive here."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
