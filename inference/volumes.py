"""A series as a 3D volume in HU with its geometry: the input of every network.

Slices are stacked in the series' geometry order (ascending along the slice normal), the same
order as the labelmap wire format, so a prediction's voxels map one-to-one onto a labelmap.
"""

from dataclasses import dataclass

import numpy as np

from annotations.labelmaps import LabelmapHeader, series_header
from config.errors import PlatformError
from imaging.models import Instance, Series
from imaging.pixels import frame_values


class SeriesUnfit(PlatformError):
    code = "series_unfit"


@dataclass(frozen=True, slots=True)
class Volume:
    voxels: np.ndarray  # float32 HU, (slices, rows, columns)
    spacing: tuple[float, ...]  # mm: slice, row, column
    origin: tuple[float, ...]  # mm: x, y, z of slice 0
    direction: tuple[float, ...]  # row, column, normal directions (9 numbers)

    def to_world(self, index: tuple[float, float, float]) -> tuple[float, float, float]:
        """Patient coordinates (mm) of a (slice, row, column) voxel index."""
        k, j, i = index
        d = np.asarray(self.direction, dtype=float).reshape(3, 3)
        row_dir, column_dir, normal = d[0], d[1], d[2]
        # Moving along a row changes the column index (DICOM: IOP first vector = row direction).
        point = (
            np.asarray(self.origin, dtype=float)
            + row_dir * i * self.spacing[2]
            + column_dir * j * self.spacing[1]
            + normal * k * self.spacing[0]
        )
        return float(point[0]), float(point[1]), float(point[2])


def load_volume(series: Series) -> tuple[Volume, LabelmapHeader]:
    """Read every slice of a series fit for 3D; SeriesUnfit (with the reason) otherwise."""
    if series.fit_for_3d is False:
        raise SeriesUnfit(f"series is not fit for 3D: {series.unfit_reason}")
    if not series.geometry:
        raise SeriesUnfit("series has not been processed yet")
    header = series_header(series)
    order = series.geometry["order"]
    instances = Instance.objects.in_bulk(order)
    voxels = np.stack([frame_values(instances[pk]) for pk in order]).astype(np.float32)
    volume = Volume(
        voxels=voxels, spacing=header.spacing, origin=header.origin, direction=header.direction
    )
    return volume, header
