"""Series geometry: slice order, spacing, gaps and orientation, and whether it is fit for 3D."""

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

# A step this much larger than the typical one means slices are missing.
GAP_FACTOR = 1.5
ORIENTATION_TOLERANCE = 1e-3


@dataclass(frozen=True, slots=True)
class SliceInfo:
    instance_id: int
    position: list[float] | None
    orientation: list[float] | None
    pixel_spacing: list[float] | None
    rows: int
    columns: int


@dataclass(frozen=True, slots=True)
class SeriesGeometry:
    slice_count: int
    rows: int = 0
    columns: int = 0
    pixel_spacing: list[float] | None = None
    slice_spacing: float | None = None
    orientation: str = ""
    missing_slices: int = 0
    # Instance ids from feet to head (along the slice normal): the order a volume is built in.
    order: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def fit_for_3d(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["fit_for_3d"] = self.fit_for_3d
        return data


def measure(slices: list[SliceInfo]) -> SeriesGeometry:
    """Sort slices along their normal and say, in words, anything that rules out a 3D volume."""
    count = len(slices)
    if count < 3:
        return SeriesGeometry(count, problems=[f"only {count} image(s); a volume needs 3 or more"])
    if any(s.position is None or s.orientation is None for s in slices):
        return SeriesGeometry(count, problems=["some images lack position or orientation"])
    orientations = np.array([s.orientation for s in slices], dtype=float)
    problems: list[str] = []
    if np.abs(orientations - orientations[0]).max() > ORIENTATION_TOLERANCE:
        problems.append("images have different orientations")
    shapes = {(s.rows, s.columns) for s in slices}
    if len(shapes) > 1:
        problems.append(f"images have different sizes: {sorted(shapes)}")
    spacings = {tuple(s.pixel_spacing or ()) for s in slices}
    if len(spacings) > 1:
        problems.append("images have different pixel spacings")
    row, column = orientations[0][:3], orientations[0][3:]
    normal = np.cross(row, column)
    along = np.array([s.position for s in slices], dtype=float) @ normal
    order = np.argsort(along, kind="stable")
    steps = np.diff(along[order])
    step = float(np.median(steps))
    missing = 0
    if step <= 1e-6:
        problems.append("several images share one position")
    else:
        if (steps <= 1e-6).any():
            problems.append("several images share one position")
        gaps = steps[steps > GAP_FACTOR * step]
        missing = int(sum(round(g / step) - 1 for g in gaps))
        if missing:
            problems.append(f"{missing} slice(s) missing (gaps in slice positions)")
    rows, columns = next(iter(shapes))
    return SeriesGeometry(
        slice_count=count,
        rows=rows,
        columns=columns,
        pixel_spacing=slices[0].pixel_spacing,
        slice_spacing=round(step, 4),
        orientation=_plane(normal),
        missing_slices=missing,
        order=[slices[i].instance_id for i in order],
        problems=problems,
    )


def _plane(normal: np.ndarray) -> str:
    axis = int(np.argmax(np.abs(normal)))
    name = ("sagittal", "coronal", "axial")[axis]
    return name if abs(normal[axis]) > 0.9 else f"oblique (closest: {name})"
