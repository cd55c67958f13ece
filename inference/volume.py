"""A CT volume in HU with its geometry: the value every network and pre-processing step takes.

Free of Django so that training scripts and notebooks can use it on their own.
"""

from dataclasses import dataclass

import numpy as np


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
