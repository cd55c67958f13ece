"""Reads on the imaging hierarchy."""

from django.db.models import Count, QuerySet

from imaging.models import Study
from projects.models import Project


def studies_of(project: Project) -> QuerySet[Study]:
    """A project's studies with their patient and series count, newest first."""
    return (
        Study.objects.filter(project=project)
        .select_related("patient")
        .annotate(series_count=Count("series"))
        .order_by("-created_at", "-id")
    )
