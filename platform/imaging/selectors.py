"""Reads on the imaging hierarchy."""

from django.db.models import Count, Prefetch, Q, QuerySet

from imaging.models import Series, Study
from projects.models import Project


def studies_of(project: Project) -> QuerySet[Study]:
    """A project's studies with their patient and series count, newest first."""
    return (
        Study.objects.filter(project=project)
        .select_related("patient")
        .annotate(series_count=Count("series"))
        .order_by("-created_at", "-id")
    )


def studies_page_of(project: Project, query: str, ordering: tuple[str, ...]) -> QuerySet[Study]:
    """Studies matching `query` with their patient, series count and series (for thumbnail and
    state) in three queries whatever the page size."""
    studies = Study.objects.filter(project=project)
    if query:
        studies = studies.filter(
            Q(patient__patient_name__icontains=query)
            | Q(patient__patient_id__icontains=query)
            | Q(description__icontains=query)
            | Q(accession_number__iexact=query)
        )
    series = Series.objects.order_by("series_number", "pk").only(
        "pk", "study_id", "series_number", "state", "thumbnail", "modality"
    )
    return (
        studies.select_related("patient")
        .annotate(series_count=Count("series"))
        .prefetch_related(Prefetch("series", queryset=series, to_attr="series_list"))
        .order_by(*ordering)
    )
