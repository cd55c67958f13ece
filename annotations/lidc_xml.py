"""The LIDC-IDRI read XML (`LidcReadMessage`, namespace http://www.nih.gov): parse and rasterise.

A read message holds up to four reading sessions of one CT series. Each session's
`unblindedReadNodule`s carry the nine characteristics (their element names are the attribute
names of our LIDC schema) and per-slice `roi` outlines in pixel x/y at a slice's SOP Instance UID
and z position. Nodules under 3 mm have one roi of a single point and no characteristics: they
are parsed (`Nodule.small`) but have no voxels, so rasterising leaves them out of the labelmap and
out of the findings. `nonNodule` marks are not read.

Outline convention: LIDC readers drew each inclusion outline just outside the nodule, so by
default (as pylidc's `Annotation.boolean_mask`) a nodule is the outline's interior without the
outline's pixels; `boundary=True` counts the outline too. Exclusion rois are holes: their
interior and their outline are removed.
"""

import statistics
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom

from annotations.agreement import LIDC_SCALES, ReaderNodule, Spacing, Voxel, nodule_from_mask

NS = {"lidc": "http://www.nih.gov"}
CHARACTERISTICS = tuple(LIDC_SCALES)
# Caps the pixels x edges tested at once when filling an outline (2 M booleans, 2 MB).
FILL_CHUNK = 2_000_000


@dataclass(frozen=True, slots=True)
class Roi:
    """One outline on one slice; `points` are pixel (x, y) = (column, row) as in the XML."""

    z_mm: float
    sop_instance_uid: str
    inclusion: bool
    points: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class Nodule:
    """One reader's nodule: its characteristics (empty for small nodules) and outlines."""

    id: str
    characteristics: Mapping[str, int]
    rois: tuple[Roi, ...]

    @property
    def small(self) -> bool:
        """A nodule under 3 mm: marked by its centre only, one point per roi."""
        return all(len(roi.points) <= 1 for roi in self.rois)


@dataclass(frozen=True, slots=True)
class Reading:
    """One reading session; `reader` is the radiologist's id, or "reader N" (1-based)."""

    reader: str
    nodules: tuple[Nodule, ...]


@dataclass(frozen=True, slots=True)
class ReadMessage:
    series_instance_uid: str
    study_instance_uid: str
    readings: tuple[Reading, ...]


def parse_read_message(source: Path | bytes) -> ReadMessage:
    """Parse a LIDC read XML file (or its bytes). Raises ValueError if it is not one."""
    # The standard library parser, not defusedxml (not a dependency): ElementTree never fetches
    # external entities, and the bundled expat (>= 2.4) refuses entity-expansion bombs.
    root = ET.fromstring(source if isinstance(source, bytes) else source.read_bytes())  # noqa: S314
    if root.tag != f"{{{NS['lidc']}}}LidcReadMessage":
        raise ValueError(f"not a LIDC read message: the root element is {root.tag}")
    readings: list[Reading] = []
    for number, session in enumerate(root.findall("lidc:readingSession", NS), start=1):
        reader = _text(session, "lidc:servicingRadiologistID") or f"reader {number}"
        if any(reading.reader == reader for reading in readings):
            reader = f"reader {number}"  # two sessions under one id are still two readers
        nodules = tuple(_nodule(n) for n in session.findall("lidc:unblindedReadNodule", NS))
        readings.append(Reading(reader=reader, nodules=nodules))
    return ReadMessage(
        series_instance_uid=_text(root, "lidc:ResponseHeader/lidc:SeriesInstanceUid"),
        study_instance_uid=_text(root, "lidc:ResponseHeader/lidc:StudyInstanceUID"),
        readings=tuple(readings),
    )


def _text(element: ET.Element, path: str) -> str:
    return (element.findtext(path, default="", namespaces=NS) or "").strip()


def _nodule(element: ET.Element) -> Nodule:
    characteristics = {}
    for name in CHARACTERISTICS:
        value = _text(element, f"lidc:characteristics/lidc:{name}")
        if value:
            characteristics[name] = int(value)
    rois = tuple(
        Roi(
            z_mm=float(_text(roi, "lidc:imageZposition")),
            sop_instance_uid=_text(roi, "lidc:imageSOP_UID"),
            inclusion=_text(roi, "lidc:inclusion").upper() == "TRUE",
            points=tuple(
                (int(_text(edge, "lidc:xCoord")), int(_text(edge, "lidc:yCoord")))
                for edge in roi.findall("lidc:edgeMap", NS)
            ),
        )
        for roi in element.findall("lidc:roi", NS)
    )
    return Nodule(id=_text(element, "lidc:noduleID"), characteristics=characteristics, rois=rois)


@dataclass(frozen=True, slots=True)
class SliceGrid:
    """A series' voxel grid, slices in ascending order along their normal, and where a roi lands.

    A roi lands on the slice of its SOP Instance UID, else on the slice whose position is nearest
    its z, within `z_tolerance_mm` (half the slice spacing when None).
    """

    shape: tuple[int, int, int]
    spacing: Spacing
    slice_by_sop: Mapping[str, int]
    slice_z_mm: tuple[float, ...]
    z_tolerance_mm: float | None = None

    def slice_of(self, roi: Roi) -> int | None:
        index = self.slice_by_sop.get(roi.sop_instance_uid)
        if index is not None:
            return index
        if not self.slice_z_mm:
            return None
        distances = np.abs(np.asarray(self.slice_z_mm) - roi.z_mm)
        nearest = int(distances.argmin())
        tolerance = self.spacing[0] / 2 if self.z_tolerance_mm is None else self.z_tolerance_mm
        return nearest if distances[nearest] <= tolerance else None


def grid_from_dicom(paths: Iterable[Path]) -> SliceGrid:
    """The grid of one series from its files' headers (no pixel data is read)."""
    headers = [pydicom.dcmread(path, stop_before_pixels=True) for path in paths]
    if not headers:
        raise ValueError("a series needs at least one slice")
    orientation = np.asarray(headers[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(orientation[:3], orientation[3:])
    headers.sort(key=lambda h: float(np.dot(normal, np.asarray(h.ImagePositionPatient, float))))
    along = [float(np.dot(normal, np.asarray(h.ImagePositionPatient, float))) for h in headers]
    steps = np.diff(along)
    rows, columns = int(headers[0].Rows), int(headers[0].Columns)
    row_spacing, column_spacing = (float(v) for v in headers[0].PixelSpacing)
    return SliceGrid(
        shape=(len(headers), rows, columns),
        spacing=(
            float(statistics.median(steps)) if len(steps) else float(headers[0].SliceThickness),
            row_spacing,
            column_spacing,
        ),
        slice_by_sop={str(h.SOPInstanceUID): i for i, h in enumerate(headers)},
        slice_z_mm=tuple(float(h.ImagePositionPatient[2]) for h in headers),
    )


def outline_mask(
    points: Sequence[tuple[int, int]], rows: int, columns: int, *, boundary: bool = False
) -> tuple[tuple[int, int], np.ndarray] | None:
    """The pixels of a closed outline on a rows x columns slice, as (row, column) of the box's
    corner and a boolean box; None when the outline leaves no pixel inside the slice.

    A pixel is inside when a ray from its centre crosses the outline an odd number of times
    (the even-odd rule, as matplotlib's Path.contains_points); the outline's own pixels are
    added (`boundary`) or removed.
    """
    xy = np.asarray(points, dtype=np.int64).reshape(-1, 2)
    if len(xy) == 0:
        return None
    x0, y0 = np.maximum(xy.min(axis=0), 0)
    x1, y1 = np.minimum(xy.max(axis=0), (columns - 1, rows - 1))
    if x0 > x1 or y0 > y1:
        return None
    inside = _even_odd(xy.astype(float), int(y0), int(y1), int(x0), int(x1))
    on_slice = (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
    inside[xy[on_slice, 1] - y0, xy[on_slice, 0] - x0] = boundary
    return (int(y0), int(x0)), inside


def _even_odd(xy: np.ndarray, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    start, end = xy, np.roll(xy, -1, axis=0)  # each edge, the last closing back to the first
    xa, ya, xb, yb = start[:, 0], start[:, 1], end[:, 0], end[:, 1]
    rising = yb != ya
    slope = np.where(rising, (xb - xa) / np.where(rising, yb - ya, 1.0), 0.0)
    columns = np.arange(x0, x1 + 1, dtype=float)
    rows_at_once = max(1, FILL_CHUNK // max(1, len(columns) * len(xy)))
    inside = np.zeros((y1 - y0 + 1, len(columns)), dtype=bool)
    for first in range(y0, y1 + 1, rows_at_once):
        py = np.arange(first, min(first + rows_at_once, y1 + 1), dtype=float)[:, None]
        # Half-open in y, so a ray through a vertex counts the two edges meeting there once.
        straddles = (ya > py) != (yb > py)  # rows x edges
        crossing_x = xa + (py - ya) * slope
        hits = straddles[:, None, :] & (columns[None, :, None] < crossing_x[:, None, :])
        inside[first - y0 : first - y0 + len(py)] = hits.sum(axis=2) % 2 == 1
    return inside


def nodule_region(
    nodule: Nodule, grid: SliceGrid, *, boundary: bool = False
) -> tuple[Voxel, np.ndarray] | None:
    """A nodule's voxels on the grid as (origin, boolean box); None if it has none (a small
    nodule, or outlines all off the grid)."""
    _, rows, columns = grid.shape
    pieces: list[tuple[int, bool, tuple[int, int], np.ndarray]] = []
    for roi in nodule.rois:
        index = grid.slice_of(roi)
        if index is None or len(roi.points) < 2:
            continue
        # An exclusion's outline goes with its hole, whatever `boundary` says of inclusions.
        outline = outline_mask(roi.points, rows, columns, boundary=boundary or not roi.inclusion)
        if outline is not None:
            pieces.append((index, roi.inclusion, *outline))
    included = [piece for piece in pieces if piece[1]]
    if not included:
        return None
    z0 = min(p[0] for p in included)
    y0 = min(p[2][0] for p in included)
    x0 = min(p[2][1] for p in included)
    z1 = max(p[0] for p in included)
    y1 = max(p[2][0] + p[3].shape[0] for p in included)
    x1 = max(p[2][1] + p[3].shape[1] for p in included)
    mask = np.zeros((z1 - z0 + 1, y1 - y0, x1 - x0), dtype=bool)
    # Inclusions first (several on one slice add up), then every exclusion cuts its hole.
    for index, inclusion, (top, left), box in sorted(pieces, key=lambda p: not p[1]):
        if not z0 <= index <= z1:
            continue
        region = _clip(mask[index - z0], top - y0, left - x0, box)
        if region is None:
            continue
        target, part = region
        if inclusion:
            target |= part
        else:
            target &= ~part
    if not mask.any():
        return None
    return (z0, y0, x0), mask


def _clip(
    plane: np.ndarray, top: int, left: int, box: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """The overlap of `box` placed at (top, left) with `plane`, as views of both."""
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + box.shape[0], plane.shape[0]), min(left + box.shape[1], plane.shape[1])
    if r0 >= r1 or c0 >= c1:
        return None
    return plane[r0:r1, c0:c1], box[r0 - top : r1 - top, c0 - left : c1 - left]


def reading_nodules(
    reading: Reading, grid: SliceGrid, *, boundary: bool = False
) -> list[ReaderNodule]:
    """The reading's nodules that have voxels on the grid, with their characteristics."""
    nodules = []
    for position, nodule in enumerate(reading.nodules, start=1):
        region = nodule_region(nodule, grid, boundary=boundary)
        if region is None:
            continue
        origin, mask = region
        nodules.append(
            nodule_from_mask(
                reader=reading.reader,
                index=position,
                origin=origin,
                mask=mask,
                spacing=grid.spacing,
                attributes=nodule.characteristics,
                finding_id=nodule.id,
            )
        )
    return nodules


@dataclass(frozen=True, slots=True)
class RasterisedReading:
    """One reading as the platform stores a revision: a uint8 labelmap (segment 1 = nodule)
    on the series grid and one finding per nodule that has voxels."""

    reader: str
    labelmap: np.ndarray
    findings: list[dict[str, Any]] = field(default_factory=list)


def rasterise_reading(
    reading: Reading, grid: SliceGrid, *, boundary: bool = False
) -> RasterisedReading:
    """The labelmap and findings of one reading; small nodules are left out of both."""
    labelmap = np.zeros(grid.shape, dtype=np.uint8)
    findings = []
    for nodule in reading_nodules(reading, grid, boundary=boundary):
        z, y, x = nodule.origin
        depth, height, width = nodule.mask.shape
        labelmap[z : z + depth, y : y + height, x : x + width][nodule.mask] = 1
        findings.append(
            {
                "id": nodule.finding_id,
                "segment": 1,
                "centroid_voxel": [round(c, 3) for c in nodule.centroid_voxel],
                "voxel_count": nodule.voxel_count,
                "volume_mm3": round(nodule.volume_mm3, 2),
                "attributes": dict(nodule.attributes),
            }
        )
    return RasterisedReading(reader=reading.reader, labelmap=labelmap, findings=findings)
