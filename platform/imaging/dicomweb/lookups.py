"""The study, series or instance a DICOMweb path names, within one project (NotFound if none)."""

from typing import Any

from config.errors import NotFound
from imaging.models import Instance, Series, Study


def study_in(project_id: int, study: str) -> Study:
    found = Study.objects.filter(project_id=project_id, study_instance_uid=study).first()
    if found is None:
        raise NotFound("no such study")
    return found


def series_in(project_id: int, study: str, series: str, *fields: str) -> Series:
    queryset: Any = Series.objects.filter(
        project_id=project_id, series_instance_uid=series, study__study_instance_uid=study
    )
    found = (queryset.only(*fields) if fields else queryset).first()
    if found is None:
        raise NotFound("no such series in this study")
    return found


def instance_in(project_id: int, study: str, series: str, sop: str, *fields: str) -> Instance:
    """The instance, loading only `fields` when given (frames need a handful of columns)."""
    queryset: Any = Instance.objects.filter(
        project_id=project_id,
        sop_instance_uid=sop,
        series__series_instance_uid=series,
        series__study__study_instance_uid=study,
    )
    found = (queryset.only(*fields) if fields else queryset).first()
    if found is None:
        raise NotFound("no such instance in this series")
    return found
