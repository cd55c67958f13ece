"""The study, series or instance a DICOMweb path names, within one project (NotFound if none).

Stored instances never change, so the few columns a frame request needs are kept in process
for INSTANCE_TTL_SECONDS (cached_instance_in): a viewer's burst of frame requests then costs no
query. The first miss in a series loads the whole series (one query, at most SERIES_FILL_LIMIT
rows), since a viewer asks for every frame of it next; later misses in the same series within
the TTL (an instance stored since, or one that does not exist) are looked up one by one, so a
stream of requests for missing instances never reloads the series.
Like the access cache in auth.py, a deleted instance may be found for that long on a process
that has just served it; its file is gone by then, which the frame readers answer with 404.
"""

from typing import Any

from config.errors import NotFound
from imaging.dicomweb.memo import TtlCache
from imaging.models import Instance, Series, Study

INSTANCE_TTL_SECONDS = 30.0
MAX_CACHED_INSTANCES = 4096
SERIES_FILL_LIMIT = 1024

InstanceKey = tuple[tuple[str, ...], int, str, str, str]
SeriesKey = tuple[tuple[str, ...], int, str, str]
_instances: TtlCache[InstanceKey, Instance] = TtlCache(INSTANCE_TTL_SECONDS, MAX_CACHED_INSTANCES)
_filled: TtlCache[SeriesKey, bool] = TtlCache(INSTANCE_TTL_SECONDS, MAX_CACHED_INSTANCES)


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


def cached_instance_in(
    project_id: int, study: str, series: str, sop: str, *fields: str
) -> Instance:
    """instance_in, remembered for a while: treat the result as read-only, it is shared."""
    key = (fields, project_id, study, series, sop)
    found = _instances.get(key)
    if found is None and not _filled.get(key[:4]):
        _fill_series(project_id, study, series, fields)
        found = _instances.get(key)
    if found is None:
        found = instance_in(project_id, study, series, sop, *fields)
        _instances.put(key, found)
    return found


def _fill_series(project_id: int, study: str, series: str, fields: tuple[str, ...]) -> None:
    """Cache `fields` of every instance of the series, with one query (none past the limit)."""
    _filled.put((fields, project_id, study, series), True)
    queryset: Any = Instance.objects.filter(
        project_id=project_id,
        series__series_instance_uid=series,
        series__study__study_instance_uid=study,
    )
    if fields:
        queryset = queryset.only("sop_instance_uid", *fields)
    rows = list(queryset[: SERIES_FILL_LIMIT + 1])
    if len(rows) > SERIES_FILL_LIMIT:
        return  # too many to hold: each instance is looked up when asked for
    for row in rows:
        _instances.put((fields, project_id, study, series, row.sop_instance_uid), row)


def forget_instance(project_id: int, study: str, series: str, sop: str, *fields: str) -> None:
    _instances.discard((fields, project_id, study, series, sop))


def clear_cache() -> None:
    _instances.clear()
    _filled.clear()
