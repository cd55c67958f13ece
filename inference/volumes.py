"""A series as a 3D volume in HU with its geometry: the input of every network.

Slices are stacked in the series' geometry order (ascending along the slice normal), the same
order as the labelmap wire format, so a prediction's voxels map one-to-one onto a labelmap.
"""

import numpy as np

from annotations.labelmaps import LabelmapHeader, series_header
from config.errors import PlatformError
from imaging.models import Instance, Series
from imaging.pixels import frame_values
from inference.volume import Volume


class SeriesUnfit(PlatformError):
    code = "series_unfit"


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
