"""After ingest a worker computes geometry, flags series unfit for 3D, and makes a thumbnail."""

import time

import pytest
from PIL import Image

from imaging.geometry import SliceInfo, measure
from imaging.models import Series, SeriesState
from imaging.processing import process_series
from imaging.services import ingest_batch
from tests.dicom_factory import series_bytes
from tests.factories import ProjectFactory


def slices(positions, orientation=(1, 0, 0, 0, 1, 0)):
    return [
        SliceInfo(i, [0.0, 0.0, z], list(orientation), [1.0, 1.0], 32, 32)
        for i, z in enumerate(positions)
    ]


def test_slices_are_ordered_along_the_normal_whatever_order_they_arrived_in():
    geometry = measure(slices([5.0, 0.0, 2.5, 7.5]))
    assert geometry.order == [1, 2, 0, 3]
    assert geometry.slice_spacing == 2.5
    assert geometry.orientation == "axial"
    assert geometry.fit_for_3d


def test_missing_slices_make_a_series_unfit_for_3d_with_a_reason():
    geometry = measure(slices([0.0, 2.5, 5.0, 12.5, 15.0]))
    assert geometry.missing_slices == 2
    assert geometry.problems == ["2 slice(s) missing (gaps in slice positions)"]
    assert not geometry.fit_for_3d


def test_mixed_orientation_makes_a_series_unfit_for_3d():
    mixed = slices([0.0, 2.5, 5.0])
    mixed[1] = SliceInfo(1, [0.0, 2.5, 0.0], [1, 0, 0, 0, 0, -1], [1.0, 1.0], 32, 32)
    assert "images have different orientations" in measure(mixed).problems


def test_a_single_image_is_not_a_volume():
    assert measure(slices([0.0])).problems == ["only 1 image(s); a volume needs 3 or more"]


def test_processing_stores_geometry_thumbnail_and_flags(db):
    project = ProjectFactory.create(deidentify=False)
    items = series_bytes(8)
    del items[4]  # a missing slice
    ingest_batch(project=project, items=items)
    series = Series.objects.get()
    assert process_series(series_id=series.pk)
    series.refresh_from_db()
    assert series.state == SeriesState.READY
    assert series.fit_for_3d is False
    assert series.unfit_reason == "1 slice(s) missing (gaps in slice positions)"
    assert series.geometry["slice_count"] == 7
    with series.thumbnail.open("rb") as thumbnail:
        assert Image.open(thumbnail).size == (32, 32)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_post_processes_a_series_after_ingest(celery_worker):
    project = ProjectFactory.create(deidentify=False)
    ingest_batch(project=project, items=series_bytes(6))
    series = Series.objects.get()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        series.refresh_from_db()
        if series.state in (SeriesState.READY, SeriesState.FAILED):
            break
        time.sleep(0.5)
    assert series.state == SeriesState.READY, series.state_detail
    assert series.fit_for_3d is True
    assert series.metadata_etag
