"""The slice the task page names for the viewer to fetch first: the one its own rule opens on."""

import pytest

from imaging.models import Series
from imaging.processing import process_series
from imaging.selectors import opening_slice
from imaging.services import ingest_batch
from tests.dicom_factory import ct_dataset, to_bytes
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def stored(datasets) -> Series:
    """The series stored and processed (processing measures its geometry)."""
    project = ProjectFactory.create(deidentify=False)
    ingest_batch(project=project, items=[(f"f{i}", to_bytes(d)) for i, d in enumerate(datasets)])
    series = Series.objects.get(project=project)
    process_series(series_id=series.pk)
    series.refresh_from_db()
    return series


def test_the_middle_slice_along_the_normal_whatever_the_instance_numbers():
    slices = [ct_dataset(i) for i in range(6)]
    for ds, number in zip(slices, [4, 1, 6, 2, 5, 3], strict=True):
        ds.InstanceNumber = number
    # Six slices: the viewer opens on index round(2.5) = 3 along the normal (z = 7.5 mm).
    assert opening_slice(stored(slices)) == slices[3].SOPInstanceUID


def test_the_normal_decides_the_order_not_z():
    # Under a flipped column direction the normal is -z: the four slices run z = 7.5 .. 0, and
    # the viewer opens on index round(1.5) = 2 of that order, the slice at z = 2.5.
    slices = [ct_dataset(i, orientation=(1, 0, 0, 0, -1, 0)) for i in range(4)]
    assert opening_slice(stored(slices)) == slices[1].SOPInstanceUID
    upright = [ct_dataset(i) for i in range(4)]
    assert opening_slice(stored(upright)) == upright[2].SOPInstanceUID


def test_a_series_the_viewer_does_not_sort_by_position_is_not_named():
    mixed = [ct_dataset(i) for i in range(3)] + [ct_dataset(3, size=16)]
    assert opening_slice(stored(mixed)) is None
    tilted = [ct_dataset(0), ct_dataset(1, orientation=(1, 0, 0, 0, 0.9, 0.4358))]
    assert opening_slice(stored(tilted)) is None
