"""Post-processing of a series after ingest: geometry, the 3D check, thumbnail, metadata cache."""

import io
import logging
from datetime import timedelta

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from imaging.geometry import SeriesGeometry, SliceInfo, measure
from imaging.models import Instance, Series, SeriesState
from imaging.pixels import frame_values, windowed
from imaging.series_metadata import build_series_metadata
from imaging.signals import series_ready

logger = logging.getLogger(__name__)
THUMBNAIL_SIZE = 128
LUNG_WINDOW = (-600.0, 1500.0)


def process_series(*, series_id: int, settle: timedelta = timedelta(0)) -> bool:
    """Post-process a series unless instances arrived within `settle` (a later run will come).

    Returns whether it ran. Safe to run twice: it recomputes everything from the rows.
    """
    series = Series.objects.filter(pk=series_id).first()
    if series is None:
        return False
    if settle and series.updated_at > timezone.now() - settle:
        return False
    Series.objects.filter(pk=series_id).update(state=SeriesState.PROCESSING)
    try:
        geometry = _geometry(series)
        thumbnail = _thumbnail(series, geometry)
        build_series_metadata(series)
    except Exception as error:
        logger.exception("processing: series %s failed", series_id)
        Series.objects.filter(pk=series_id).update(
            state=SeriesState.FAILED, state_detail=f"post-processing failed: {type(error).__name__}"
        )
        return True
    Series.objects.filter(pk=series_id).update(
        state=SeriesState.READY,
        state_detail="",
        geometry=geometry.to_json(),
        fit_for_3d=geometry.fit_for_3d,
        unfit_reason="; ".join(geometry.problems),
        thumbnail=thumbnail,
    )
    logger.info("processing: series %s ready (fit for 3D: %s)", series_id, geometry.fit_for_3d)
    series_ready.send(sender=Series, series_id=series_id)
    return True


def _geometry(series: Series) -> SeriesGeometry:
    rows = Instance.objects.filter(series=series, number_of_frames__gte=1).values_list(
        "pk", "image_position", "image_orientation", "pixel_spacing", "rows", "columns"
    )
    return measure([SliceInfo(*row) for row in rows])


def _thumbnail(series: Series, geometry: SeriesGeometry) -> str:
    """A small PNG of the middle slice in the lung window (min-max for other modalities)."""
    ids = geometry.order or list(
        Instance.objects.filter(series=series, number_of_frames__gte=1)
        .order_by("instance_number", "pk")
        .values_list("pk", flat=True)
    )
    if not ids:
        return ""
    instance = Instance.objects.get(pk=ids[len(ids) // 2])
    values = frame_values(instance)
    if series.modality == "CT":
        center, width = LUNG_WINDOW
    else:
        low, high = float(values.min()), float(values.max())
        center, width = (low + high) / 2, max(high - low, 1.0)
    image = Image.fromarray(windowed(values, center, width))
    image.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    out = io.BytesIO()
    image.save(out, format="PNG")
    name = f"thumbnails/{series.project_id}/{series.pk}.png"
    if default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(out.getvalue()))
