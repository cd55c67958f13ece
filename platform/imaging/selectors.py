"""Reads on the imaging hierarchy."""

import math

import numpy as np
from django.db.models import Count, F, Prefetch, Q, QuerySet

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
    the normal of their orientation (ties in metadata order), the middle one rounded up. Only a
    series of single-frame slices that all share a size and orientation and have a position is
    named here; for any other, None (the viewer finds its first slice from the metadata).
    """
    rows = list(
        Instance.objects.filter(series=series)
        .order_by(F("instance_number").asc(nulls_last=True), "pk")
        .values_list(
            "sop_instance_uid", "number_of_frames", "rows", "columns", "image_position",
            "image_orientation", "pixel_spacing",
        )
    )  # fmt: skip
    if not rows:
        return None
    first = rows[0]
    if not (_numbers(first[5], 6) and _numbers(first[6], 2)):
        return None
    orientation: list[float] = list(first[5] or [])
    spacing: list[float] = list(first[6] or [])
    for _, frames, height, width, position, other, other_spacing in rows:
        uniform = (frames or 1) == 1 and (height, width) == (first[2], first[3])
        if not (uniform and _numbers(position, 3) and _numbers(other, 6)):
            return None
        if not (_close(other, orientation, 1e-3) and _close(other_spacing, spacing, 1e-4)):
            return None
    normal = np.cross(
        np.asarray(orientation[:3], np.float64), np.asarray(orientation[3:], np.float64)
    )
    along = np.array([np.dot(np.asarray(row[4], np.float64), normal) for row in rows])
    order = np.argsort(along, kind="stable")
    return str(rows[int(order[math.floor((len(rows) - 1) / 2 + 0.5)])][0])


def _numbers(value: object, count: int) -> bool:
    return isinstance(value, list) and len(value) == count


def _close(value: object, reference: list[float], tolerance: float) -> bool:
    return (
        isinstance(value, list)
        and len(value) == len(reference)
        and all(abs(a - b) <= tolerance for a, b in zip(value, reference, strict=True))
    )
