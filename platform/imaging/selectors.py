"""Reads on the imaging hierarchy."""

import math

from django.db.models import Count, Prefetch, Q, QuerySet

from imaging.models import Instance, Series, Study
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


def opening_slice(series: Series) -> str | None:
    """The SOPInstanceUID of the slice the viewer opens on, so that the task page can name it
    and the viewer fetch it alongside the series' metadata instead of after it.

    The viewer's own rule (frontend/src/viewer/series.ts, preview.ts): the slices sorted along
    the normal of their orientation, the middle one rounded up. That order is the one processing
    stored (imaging.geometry.measure); it is used for a series fit for 3D of single-frame slices
    (no shared positions, so no ties to break), and for any other the answer is None (the viewer
    finds its first slice from the metadata).
    """
    order = (series.geometry or {}).get("order") or []
    if not series.fit_for_3d or not order:
        return None
    if Instance.objects.filter(series=series, number_of_frames__gt=1).exists():
        return None
    middle = order[math.floor((len(order) - 1) / 2 + 0.5)]
    found = Instance.objects.filter(pk=middle, series=series).values_list("sop_instance_uid")
    return next((uid for (uid,) in found), None)
