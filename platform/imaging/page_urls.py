"""Imaging pages under /projects/<project id>/: study list, study page, upload."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
