"""API routes of annotations (/api/annotations/): tasks, revisions, reviews arrive here."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
