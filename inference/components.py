"""Connected components of a prediction and their measurements: what a finding reports.

Components are 26-connected (voxels that share a face, an edge or a corner belong together), as
in the viewer's findings panel. Distances are measured between voxel centres in mm; the grid's
direction cosines are orthonormal, so index-space distances scaled by the spacing are patient
distances.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError
from scipy.spatial.distance import cdist, pdist

from inference.volume import Volume

CONNECTIVITY_26 = np.ones((3, 3, 3), dtype=bool)
NODULE_SEGMENT = 1
# Below this many points every pair is compared; above it only the convex hull's vertices.
EXACT_POINTS = 1500


@dataclass(frozen=True, slots=True)
class Component:
    label: int  # its value in the label image
    voxel_count: int
    volume_mm3: float
    long_axis_mm: float  # the largest distance between two of its voxel centres
    centroid_voxel: tuple[float, float, float]  # slice, row, column (fractional)
    centroid_mm: tuple[float, float, float]  # patient x, y, z
    slices: tuple[slice, slice, slice]  # its bounding box in the grid


def connected_components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """The 26-connected components of a boolean mask: an int32 label image (0 = background,
    1..count) and the count."""
    labels, count = ndimage.label(mask, structure=CONNECTIVITY_26, output=np.int32)
    return labels, int(count)


def measure(labels: np.ndarray, volume: Volume) -> list[Component]:
    """One `Component` per label present in `labels` (on `volume`'s grid), in label order."""
    if labels.shape != volume.voxels.shape:
        raise ValueError(
            f"labels {labels.shape} are not on the volume's grid {volume.voxels.shape}"
        )
    spacing = np.asarray(volume.spacing, dtype=float)
    voxel_mm3 = float(np.prod(spacing))
    components = []
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        inside = labels[box] == index
        offset = np.array([s.start for s in box], dtype=float)
        points = np.argwhere(inside).astype(float) + offset
        k, j, i = (float(v) for v in points.mean(axis=0))
        components.append(
            Component(
                label=index,
                voxel_count=len(points),
                volume_mm3=len(points) * voxel_mm3,
                long_axis_mm=_long_axis(inside, offset, spacing),
                centroid_voxel=(k, j, i),
                centroid_mm=volume.to_world((k, j, i)),
                slices=(box[0], box[1], box[2]),
            )
        )
    return components


def mean_per_component(values: np.ndarray, labels: np.ndarray, count: int) -> list[float]:
    """The mean of `values` within each label 1..count."""
    if count == 0:
        return []
    means = ndimage.mean(values, labels=labels, index=np.arange(1, count + 1))
    return [float(m) for m in np.atleast_1d(means)]


def finding(component: Component, number: int, confidence: float) -> dict[str, Any]:
    """The finding a component becomes in a revision's findings list."""
    return {
        "id": f"finding-{number}",
        "segment": NODULE_SEGMENT,
        "voxel_count": component.voxel_count,
        "volume_mm3": round(component.volume_mm3, 3),
        "long_axis_mm": round(component.long_axis_mm, 3),
        "centroid_mm": [round(v, 3) for v in component.centroid_mm],
        "centroid_voxel": [round(v, 3) for v in component.centroid_voxel],
        "attributes": {},
        "confidence": round(min(max(float(confidence), 0.0), 1.0), 4),
        "comments": [],
    }


def findings(components: Sequence[Component], confidences: Sequence[float]) -> list[dict[str, Any]]:
    """Findings numbered from 1 in the order given."""
    return [
        finding(component, number, confidence)
        for number, (component, confidence) in enumerate(
            zip(components, confidences, strict=True), start=1
        )
    ]


def relabel(labels: np.ndarray, keep: Sequence[int]) -> np.ndarray:
    """A label image holding only the labels in `keep`, renumbered 1..len(keep) in that order."""
    lookup = np.zeros(int(labels.max(initial=0)) + 1, dtype=np.int32)
    lookup[np.asarray(keep, dtype=np.intp)] = np.arange(1, len(keep) + 1, dtype=np.int32)
    return lookup[labels]


def _long_axis(inside: np.ndarray, offset: np.ndarray, spacing: np.ndarray) -> float:
    if inside.sum() > EXACT_POINTS:
        # The farthest pair lies on the surface, and among the surface on the convex hull.
        inside = inside & ~ndimage.binary_erosion(inside, border_value=0)
    points = (np.argwhere(inside) + offset) * spacing
    if len(points) < 2:
        return 0.0
    if len(points) > EXACT_POINTS:
        points = points[_hull_vertices(points)]
    if len(points) <= EXACT_POINTS:
        return float(pdist(points).max())
    # A large smooth surface keeps thousands of hull vertices: compare them in blocks.
    return max(
        float(cdist(points[start : start + EXACT_POINTS], points).max())
        for start in range(0, len(points), EXACT_POINTS)
    )


def _hull_vertices(points: np.ndarray) -> np.ndarray:
    try:
        return np.asarray(ConvexHull(points).vertices)
    except QhullError:  # flat (one slice or plane): joggle the input to get a hull anyway
        return np.asarray(ConvexHull(points, qhull_options="QJ").vertices)
