"""The LIDC read XML of the shared cases: parsed, rasterised and compared across readers."""

import math
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image, ImageDraw

from annotations.agreement import (
    MatchedNodule,
    attach_findings,
    consensus_labelmap,
    match_nodules,
    measure_agreement,
    split_labelmap,
)
from annotations.findings import validate_findings
from annotations.labelmaps import Labelmap, LabelmapHeader
from annotations.lidc_xml import (
    Nodule,
    Reading,
    ReadMessage,
    Roi,
    SliceGrid,
    grid_from_dicom,
    outline_mask,
    parse_read_message,
    rasterise_reading,
    reading_nodules,
)
from inference.evaluation import read_luna16_annotations
from projects.schema import default_schema

LIDC = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lidc"
LUNA16 = read_luna16_annotations(LIDC / "luna16_annotations_subset.csv")


def series_folder(case: str) -> Path:
    return next(LIDC.glob(f"{case}/*/*/*.xml")).parent


@pytest.fixture(scope="module", params=["LIDC-IDRI-0001", "LIDC-IDRI-0003"])
def case(request) -> tuple[ReadMessage, SliceGrid, Path]:
    folder = series_folder(request.param)
    message = parse_read_message(next(folder.glob("*.xml")))
    return message, grid_from_dicom(sorted(folder.glob("*.dcm"))), folder


@pytest.fixture(scope="module")
def case_0001() -> tuple[ReadMessage, SliceGrid]:
    folder = series_folder("LIDC-IDRI-0001")
    message = parse_read_message(next(folder.glob("*.xml")))
    return message, grid_from_dicom(sorted(folder.glob("*.dcm")))


def characterised(message: ReadMessage) -> list[int]:
    return [sum(1 for n in r.nodules if n.characteristics) for r in message.readings]


def test_the_two_shared_read_messages_hold_four_reading_sessions_each():
    first = parse_read_message(next(series_folder("LIDC-IDRI-0001").glob("*.xml")))
    third = parse_read_message(next(series_folder("LIDC-IDRI-0003").glob("*.xml")))

    assert [r.reader for r in first.readings] == [
        "540461523",
        "1428348137",
        "-750896469",
        "2103845659",
    ]
    assert characterised(first) == [1, 1, 1, 1]
    assert [sum(n.small for n in r.nodules) for r in first.readings] == [3, 0, 3, 3]
    assert characterised(third) == [3, 3, 3, 4]
    assert first.series_instance_uid.endswith(".179049373636438705059720603192")


def test_a_nodule_keeps_its_characteristics_and_outlines_as_the_xml_gives_them():
    message = parse_read_message(next(series_folder("LIDC-IDRI-0001").glob("*.xml")))

    nodule = message.readings[0].nodules[0]

    assert nodule.id == "Nodule 001"
    assert dict(nodule.characteristics) == {
        "subtlety": 5,
        "internalStructure": 1,
        "calcification": 6,
        "sphericity": 3,
        "margin": 3,
        "lobulation": 3,
        "spiculation": 4,
        "texture": 5,
        "malignancy": 5,
    }
    assert nodule.rois[0].z_mm == -125.0
    assert nodule.rois[0].inclusion is True
    assert nodule.rois[0].points[:2] == ((312, 355), (311, 356))
    assert not nodule.small
    small = message.readings[0].nodules[1]
    assert small.small and dict(small.characteristics) == {}


def test_a_file_that_is_not_a_read_message_is_refused():
    with pytest.raises(ValueError, match="not a LIDC read message"):
        parse_read_message(b"<IdriReadMessage/>")


def test_the_grid_comes_from_the_dicom_headers_in_ascending_z(case):
    _, grid, folder = case

    assert grid.shape[1:] == (512, 512)
    assert grid.shape[0] == len(list(folder.glob("*.dcm")))
    assert grid.spacing[0] == 2.5
    assert list(grid.slice_z_mm) == sorted(grid.slice_z_mm)
    assert sorted(grid.slice_by_sop.values()) == list(range(grid.shape[0]))


def test_rasterised_readings_have_the_platforms_findings_shape(case):
    message, grid, _ = case
    header = LabelmapHeader(
        shape=grid.shape, spacing=grid.spacing, origin=(0, 0, 0), direction=(1,) * 9, series=""
    )

    for reading in message.readings:
        result = rasterise_reading(reading, grid)

        assert result.labelmap.dtype == np.uint8
        assert set(np.unique(result.labelmap)) == {0, 1}
        assert len(result.findings) == sum(not n.small for n in reading.nodules)
        labelmap = Labelmap(header=header, voxels=result.labelmap)
        assert validate_findings(result.findings, default_schema(), labelmap.header)


def test_the_big_nodule_of_lidc_idri_0001_has_the_size_luna16_gives(case_0001):
    message, grid = case_0001
    luna = next(n for n in LUNA16 if n.series == message.series_instance_uid)

    sizes = [n.equivalent_diameter_mm for r in message.readings for n in reading_nodules(r, grid)]

    # LUNA16's 23.4 mm is the readers' mean; each reader's own outline is within 10%.
    assert luna.diameter_mm == pytest.approx(23.35, abs=0.01)
    assert len(sizes) == 4
    assert all(s == pytest.approx(luna.diameter_mm, rel=0.1) for s in sizes)
    assert np.mean(sizes) == pytest.approx(luna.diameter_mm, rel=0.05)


def test_the_outline_is_left_out_unless_asked_for_and_the_consensus_lies_between(case_0001):
    message, grid = case_0001
    inside = [rasterise_reading(r, grid).labelmap for r in message.readings]
    with_outline = rasterise_reading(message.readings[0], grid, boundary=True).labelmap

    consensus = consensus_labelmap(inside)

    assert np.count_nonzero(with_outline) > np.count_nonzero(inside[0])
    union = np.count_nonzero(np.any(inside, axis=0))
    intersection = np.count_nonzero(np.all(inside, axis=0))
    assert intersection < np.count_nonzero(consensus) < union


def world_centre(nodule: MatchedNodule, grid: SliceGrid, folder: Path) -> tuple[float, ...]:
    """The centroid in patient millimetres (LIDC CT is axial: rows along y, columns along x)."""
    header = pydicom.dcmread(next(folder.glob("*.dcm")), stop_before_pixels=True)
    z, y, x = np.mean([m.centroid_voxel for m in nodule.members], axis=0)
    origin_x, origin_y = (float(v) for v in header.ImagePositionPatient[:2])
    return (
        origin_x + x * grid.spacing[2],
        origin_y + y * grid.spacing[1],
        float(np.interp(z, range(grid.shape[0]), grid.slice_z_mm)),
    )


def test_nodules_three_readers_agree_on_are_the_luna16_nodules(case):
    message, grid, folder = case
    nodules = [n for r in message.readings for n in reading_nodules(r, grid)]
    luna = [n for n in LUNA16 if n.series == message.series_instance_uid]

    matched = match_nodules(nodules)

    accepted = [m for m in matched if m.reader_count >= 3]
    assert len(accepted) == len(luna)
    for nodule in luna:
        distances = [math.dist(world_centre(m, grid, folder), nodule.centre_mm) for m in accepted]
        assert min(distances) <= nodule.diameter_mm / 2


def test_agreement_of_the_four_readers_of_lidc_idri_0003():
    folder = series_folder("LIDC-IDRI-0003")
    message = parse_read_message(next(folder.glob("*.xml")))
    grid = grid_from_dicom(sorted(folder.glob("*.dcm")))
    readers = [r.reader for r in message.readings]

    matched = match_nodules([n for r in message.readings for n in reading_nodules(r, grid)])
    agreement = measure_agreement(readers, matched)

    assert sorted(m.reader_count for m in matched) == [1, 4, 4, 4]
    # Reader -671528798 alone drew a fourth nodule: F1 3*2 / (3*2 + 1) against each other.
    for score in agreement.f1:
        alone = "-671528798" in (score.first, score.second)
        assert score.value == pytest.approx(6 / 7 if alone else 1.0)
    assert all(0.6 < n.mean_dice < 0.95 for n in agreement.nodules if n.reader_count == 4)
    kappas = {k.characteristic: k for k in agreement.kappas}
    assert kappas["malignancy"].subjects == 3
    assert math.isnan(kappas["calcification"].kappa)  # all rated 6: chance agreement is 1


def test_one_readers_touching_nodules_become_one_in_a_single_segment_labelmap():
    folder = series_folder("LIDC-IDRI-0003")
    message = parse_read_message(next(folder.glob("*.xml")))
    grid = grid_from_dicom(sorted(folder.glob("*.dcm")))
    reading = next(r for r in message.readings if r.reader == "-671528798")

    result = rasterise_reading(reading, grid)
    nodules = attach_findings(
        split_labelmap(reading.reader, result.labelmap, grid.spacing), result.findings
    )

    # Nodule "12" lies on the slices just below nodule "0": one connected component.
    assert len(result.findings) == 4
    assert len(nodules) == 3
    assert sorted(n.finding_id or "" for n in nodules) == ["0", "8", "9"]


def square(inclusion: bool, left: int, top: int, size: int, z: float = 0.0) -> Roi:
    """An outline around a square, as LIDC draws it: one pixel chain, clockwise."""
    right, bottom = left + size - 1, top + size - 1
    edge = [(x, top) for x in range(left, right)] + [(right, y) for y in range(top, bottom)]
    edge += [(x, bottom) for x in range(right, left, -1)]
    edge += [(left, y) for y in range(bottom, top, -1)]
    return Roi(z_mm=z, sop_instance_uid="", inclusion=inclusion, points=tuple(edge))


GRID = SliceGrid(shape=(3, 32, 32), spacing=(2.0, 1.0, 1.0), slice_by_sop={}, slice_z_mm=(0, 2, 4))


def test_an_outline_fills_its_interior_and_its_pixels_only_when_asked():
    roi = square(True, 4, 6, 10)

    (top, left), inside = outline_mask(roi.points, 32, 32)
    _, with_outline = outline_mask(roi.points, 32, 32, boundary=True)

    assert (top, left) == (6, 4)
    assert np.count_nonzero(inside) == 8 * 8
    assert np.count_nonzero(with_outline) == 10 * 10


def chain(*corners: tuple[int, int]) -> tuple[tuple[int, int], ...]:
    """Every pixel along a closed outline with axis-aligned sides, corner to corner."""
    points = []
    for (x0, y0), (x1, y1) in zip(corners, corners[1:] + corners[:1], strict=True):
        steps = max(abs(x1 - x0), abs(y1 - y0))
        dx, dy = (x1 - x0) // steps, (y1 - y0) // steps
        points += [(x0 + i * dx, y0 + i * dy) for i in range(steps)]
    return tuple(points)


def test_a_concave_outline_fills_only_its_inside():
    # An L: [0, 10] x [0, 4] and [0, 4] x [0, 10] in pixel x, y.
    points = chain((0, 0), (10, 0), (10, 4), (4, 4), (4, 10), (0, 10))

    _, inside = outline_mask(points, 32, 32)
    _, with_outline = outline_mask(points, 32, 32, boundary=True)

    assert len(points) == 40
    assert np.count_nonzero(inside) == 9 * 3 + 3 * 6
    assert np.count_nonzero(with_outline) == 9 * 3 + 3 * 6 + 40
    assert not inside[6:, 6:].any()  # the notch of the L


def test_real_outlines_fill_as_pillow_draws_a_polygon_with_its_outline(case_0001):
    message, _ = case_0001
    rois = [roi for r in message.readings for n in r.nodules for roi in n.rois if not n.small]

    for roi in rois:
        (top, left), box = outline_mask(roi.points, 512, 512, boundary=True)
        ours = np.zeros((512, 512), dtype=bool)
        ours[top : top + box.shape[0], left : left + box.shape[1]] = box
        image = Image.new("1", (512, 512), 0)
        ImageDraw.Draw(image).polygon(list(roi.points), fill=1, outline=1)

        assert np.array_equal(ours, np.array(image))
    assert len(rois) == 32


def test_an_exclusion_outline_cuts_a_hole_and_an_outline_off_the_slice_is_clipped():
    ring = Nodule(
        id="ring",
        characteristics={"malignancy": 3},
        rois=(square(True, 2, 2, 12, z=2.0), square(False, 5, 5, 6, z=2.0)),
    )
    edge = Nodule(id="edge", characteristics={}, rois=(square(True, 26, 26, 12, z=4.1),))

    nodules = reading_nodules(Reading(reader="ann", nodules=(ring, edge)), GRID)

    assert [n.finding_id for n in nodules] == ["ring", "edge"]
    assert nodules[0].origin[0] == 1 and nodules[0].voxel_count == 10 * 10 - 6 * 6
    assert nodules[1].origin == (2, 27, 27) and nodules[1].voxel_count == 5 * 5


def test_an_outline_on_no_slice_of_the_grid_has_no_voxels():
    lost = Nodule(id="lost", characteristics={}, rois=(square(True, 2, 2, 8, z=9.0),))

    assert reading_nodules(Reading(reader="ann", nodules=(lost,)), GRID) == []
