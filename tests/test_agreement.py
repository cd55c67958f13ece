"""Consensus maths on small phantoms: spheres and boxes with known centres and sizes."""

import json
import math

import numpy as np
import pytest

from annotations.agreement import (
    LIDC_SCALES,
    MatchedNodule,
    ReaderNodule,
    attach_findings,
    consensus_attributes,
    consensus_labelmap,
    dice,
    fleiss_kappa,
    match_nodules,
    measure_agreement,
    nodule_from_mask,
    split_labelmap,
    votes_needed,
)
from projects.schema import LIDC_ATTRIBUTES

SHAPE = (32, 48, 48)
SPACING = (2.0, 0.5, 0.5)
READERS = ("ann", "bob", "cat", "dan")


def sphere(centre: tuple[float, float, float], radius_mm: float) -> np.ndarray:
    """A ball of `radius_mm` around a voxel centre, on the anisotropic SPACING grid."""
    z, y, x = np.indices(SHAPE, dtype=float)
    distance = np.sqrt(
        ((z - centre[0]) * SPACING[0]) ** 2
        + ((y - centre[1]) * SPACING[1]) ** 2
        + ((x - centre[2]) * SPACING[2]) ** 2
    )
    return distance <= radius_mm


def labelmap(*masks: np.ndarray, label: int = 1) -> np.ndarray:
    volume = np.zeros(SHAPE, dtype=np.uint8)
    for mask in masks:
        volume[mask] = label
    return volume


def reader_nodules(reader: str, volume: np.ndarray, ratings: list[int]) -> list[ReaderNodule]:
    """The reader's nodules with a malignancy rating each, given through findings."""
    nodules = split_labelmap(reader, volume, SPACING)
    findings = [
        {
            "id": f"{reader}-{n.index}",
            "centroid_voxel": list(n.centroid_voxel),
            "attributes": {"malignancy": rating},
        }
        for n, rating in zip(nodules, ratings, strict=True)
    ]
    return attach_findings(nodules, findings)


LEFT = sphere((10, 12, 12), 4.0)
RIGHT = sphere((20, 30, 34), 6.0)


def test_identical_readers_agree_perfectly():
    nodules = [n for r in READERS for n in reader_nodules(r, labelmap(LEFT, RIGHT), [2, 5])]

    matched = match_nodules(nodules)
    agreement = measure_agreement(READERS, matched)

    assert [m.reader_count for m in matched] == [4, 4]
    assert [n.mean_dice for n in agreement.nodules] == [1.0, 1.0]
    assert [score.value for score in agreement.f1] == [1.0] * 6
    assert agreement.mean_f1 == 1.0
    kappas = {k.characteristic: k for k in agreement.kappas}
    assert kappas["malignancy"].kappa == pytest.approx(1.0)
    assert kappas["malignancy"].subjects == 2
    assert math.isnan(kappas["texture"].kappa)  # nobody rated it: no subjects


def test_a_sphere_marked_by_three_of_four_readers_lowers_only_the_fourth_readers_f1():
    volumes = {r: labelmap(LEFT, RIGHT) for r in READERS[:3]} | {"dan": labelmap(RIGHT)}
    nodules = [n for r, v in volumes.items() for n in split_labelmap(r, v, SPACING)]

    matched = match_nodules(nodules)
    agreement = measure_agreement(READERS, matched)

    assert sorted(m.reader_count for m in matched) == [3, 4]
    left = next(m for m in matched if m.reader_count == 3)
    assert left.readers == ("ann", "bob", "cat")
    f1 = {(s.first, s.second): s.value for s in agreement.f1}
    assert f1[("ann", "bob")] == 1.0
    # dan against ann: one nodule both marked, one only ann marked: 2*1 / (2*1 + 1).
    assert f1[("ann", "dan")] == pytest.approx(2 / 3)
    assert agreement.mean_f1 == pytest.approx((3 * 1.0 + 3 * 2 / 3) / 6)


def test_two_disjoint_spheres_of_two_readers_never_match():
    ann = split_labelmap("ann", labelmap(sphere((8, 10, 10), 3.0)), SPACING)
    bob = split_labelmap("bob", labelmap(sphere((24, 36, 36), 3.0)), SPACING)

    matched = match_nodules(ann + bob)
    agreement = measure_agreement(("ann", "bob"), matched)

    assert [m.reader_count for m in matched] == [1, 1]
    assert agreement.f1[0].value == 0.0
    assert all(math.isnan(n.mean_dice) for n in agreement.nodules)


def test_nearby_spheres_match_within_five_millimetres_without_touching():
    ann = split_labelmap("ann", labelmap(sphere((10, 20, 20), 1.5)), SPACING)
    # 4 mm further along x (8 voxels of 0.5 mm): no overlap, but closer than 5 mm.
    bob = split_labelmap("bob", labelmap(sphere((10, 20, 28), 1.5)), SPACING)

    assert dice(ann[0], bob[0]) == 0.0
    assert [m.reader_count for m in match_nodules(ann + bob)] == [2]


def test_a_matched_nodule_never_holds_two_nodules_of_one_reader():
    ann = split_labelmap(
        "ann", labelmap(sphere((10, 24, 14), 3.0), sphere((10, 24, 34), 3.0)), SPACING
    )
    bob = split_labelmap("bob", labelmap(sphere((10, 24, 24), 6.0)), SPACING)
    assert len(ann) == 2 and all(dice(a, bob[0]) > 0 for a in ann)

    matched = match_nodules(ann + bob)

    assert sorted(m.reader_count for m in matched) == [1, 2]
    assert all(len(set(m.readers)) == m.reader_count for m in matched)


def test_a_cluster_holds_at_most_max_members_nodules():
    nodules = [
        nodule_from_mask(
            reader=f"annotation {i}", index=1, origin=(0, 0, 0), mask=LEFT, spacing=SPACING
        )
        for i in range(5)
    ]

    matched = match_nodules(nodules, max_members=4)

    assert sorted(m.reader_count for m in matched) == [1, 4]


def test_split_labelmap_measures_each_26_connected_component():
    volume = labelmap(LEFT, RIGHT)
    # Two voxels touching by a corner only still make one nodule.
    volume[28, 2, 2] = volume[29, 3, 3] = 2

    nodules = split_labelmap("ann", volume, SPACING)

    assert len(nodules) == 3
    by_size = sorted(nodules, key=lambda n: n.voxel_count)
    assert by_size[0].voxel_count == 2 and by_size[0].segment == 2
    right = by_size[2]
    assert right.centroid_voxel == pytest.approx((20, 30, 34), abs=0.01)
    assert right.centroid_mm == pytest.approx((40.0, 15.0, 17.0), abs=0.02)
    assert right.volume_mm3 == pytest.approx(4 / 3 * math.pi * 6.0**3, rel=0.05)
    assert right.equivalent_diameter_mm == pytest.approx(12.0, rel=0.02)
    assert right.mask.shape[0] < SHAPE[0]  # the mask is the bounding box, not the volume


def test_findings_attach_to_the_nodule_holding_their_centroid_else_the_nearest():
    nodules = split_labelmap("ann", labelmap(LEFT, RIGHT), SPACING)
    left = next(i for i, n in enumerate(nodules) if n.contains((10, 12, 12)))
    right = 1 - left
    findings = [
        {"id": "inside", "centroid_voxel": [10, 12, 12], "attributes": {"malignancy": 2}},
        # 9 voxels of 0.5 mm past the right sphere's centre along y: outside, 4.5 mm away.
        {"id": "near", "centroid_voxel": [20, 39, 34], "attributes": {"malignancy": None}},
        {"id": "far", "centroid_voxel": [31, 47, 0], "attributes": {"malignancy": 5}},
    ]

    attached = attach_findings(nodules, findings, max_distance_mm=5.0)

    assert attached[left].finding_id == "inside"
    assert dict(attached[left].attributes) == {"malignancy": 2}
    assert attached[right].finding_id == "near"
    assert dict(attached[right].attributes) == {}  # None: not rated


def test_majority_vote_of_shifted_boxes_keeps_the_voxels_half_the_readers_drew():
    boxes = []
    for shift in range(4):
        box = np.zeros(SHAPE, dtype=np.uint8)
        box[4:8, 10:20, 10 + shift : 20 + shift] = 1
        boxes.append(box)

    consensus = consensus_labelmap(boxes)

    # Columns 11..21 are in two boxes or more; 10 and 22 in one only.
    assert np.count_nonzero(consensus) == 4 * 10 * 11
    assert np.flatnonzero(consensus.any(axis=(0, 1))).tolist() == list(range(11, 22))


def test_majority_vote_of_shifted_spheres_matches_a_voxel_by_voxel_count():
    centres = [(16, 24, 20), (16, 24, 23), (16, 24, 26)]
    volumes = [labelmap(sphere(c, 5.0)) for c in centres]
    in_spheres = sum(sphere(c, 5.0).astype(int) for c in centres)

    assert np.count_nonzero(consensus_labelmap(volumes)) == np.count_nonzero(in_spheres >= 2)
    in_first_two = sphere(centres[0], 5.0) | sphere(centres[1], 5.0)
    assert np.count_nonzero(consensus_labelmap(volumes[:2])) == np.count_nonzero(in_first_two)


def test_majority_vote_keeps_the_label_most_voters_gave():
    volumes = [labelmap(LEFT, label=2), labelmap(LEFT, label=2), labelmap(LEFT, label=1)]

    consensus = consensus_labelmap(volumes)

    assert set(np.unique(consensus[LEFT])) == {2}
    assert consensus.dtype == np.uint8


@pytest.mark.parametrize(("readers", "needed"), [(1, 1), (2, 1), (3, 2), (4, 2), (5, 3), (10, 5)])
def test_fifty_percent_consensus_needs_half_of_the_readers_rounded_up(readers, needed):
    assert votes_needed(readers, 0.5) == needed


def test_a_threshold_that_is_a_whole_number_of_readers_is_not_rounded_up_by_float_error():
    assert votes_needed(10, 0.3) == 3


def test_fleiss_kappa_matches_the_textbook_example():
    # Fleiss (1971) as worked on Wikipedia: 10 subjects, 5 categories, 14 raters each.
    table = np.array(
        [
            [0, 0, 0, 0, 14],
            [0, 2, 6, 4, 2],
            [0, 0, 3, 5, 6],
            [0, 3, 9, 2, 0],
            [2, 2, 8, 1, 1],
            [7, 7, 0, 0, 0],
            [3, 2, 6, 3, 0],
            [2, 5, 3, 2, 2],
            [6, 5, 2, 1, 0],
            [0, 2, 2, 3, 7],
        ]
    )

    assert fleiss_kappa(table) == pytest.approx(0.210, abs=5e-4)


def test_fleiss_kappa_is_nan_where_undefined():
    assert math.isnan(fleiss_kappa(np.zeros((0, 5))))
    assert math.isnan(fleiss_kappa(np.array([[1, 0], [0, 1]])))  # one rater
    assert math.isnan(fleiss_kappa(np.array([[4, 0], [4, 0]])))  # one category only


def test_fleiss_kappa_refuses_subjects_with_different_numbers_of_raters():
    with pytest.raises(ValueError, match="same number of raters"):
        fleiss_kappa(np.array([[2, 1], [1, 1]]))


def test_consensus_attributes_are_the_median_rating_with_halves_rounded_up():
    members = tuple(
        nodule_from_mask(
            reader=r,
            index=1,
            origin=(0, 0, 0),
            mask=LEFT,
            spacing=SPACING,
            attributes={"malignancy": m, "texture": t},
        )
        for r, m, t in zip(READERS, (3, 3, 4, 4), (1, 5, 5, 2), strict=True)
    )

    assert consensus_attributes(MatchedNodule(members)) == {"malignancy": 4, "texture": 4}


def test_agreement_json_has_null_where_a_figure_is_undefined():
    nodules = split_labelmap("ann", labelmap(LEFT), SPACING)

    document = measure_agreement(("ann", "bob"), match_nodules(nodules)).to_json()

    assert json.loads(json.dumps(document, allow_nan=False)) == document
    assert document["nodules"][0]["mean_dice"] is None
    assert document["f1"] == [{"readers": ["ann", "bob"], "value": 0.0}]
    assert document["kappa"]["malignancy"] == {"kappa": None, "subjects": 0, "raters": 2}


def test_the_lidc_scales_are_those_of_the_project_schema():
    assert {a.name: tuple(a.choices) for a in LIDC_ATTRIBUTES} == LIDC_SCALES
