"""The networks behind the plugin interface, the component measurements their findings carry,
and the detection metrics: on phantoms, and classical-v0 on the real LIDC-IDRI-0001 series."""

from pathlib import Path

import numpy as np
import pytest
import torch

from imaging.models import Series
from imaging.processing import process_series
from imaging.services import ingest_batch
from inference import components, evaluation
from inference.networks import NETWORKS, InvalidPlan, Network, Prediction
from inference.networks.unet import random_weights
from inference.volume import Volume
from inference.volumes import load_volume
from tests.factories import ProjectFactory
from tests.test_preprocess import AXIAL, NODULE_MM, chest_phantom

LIDC = Path(__file__).resolve().parents[2] / "shared" / "data" / "lidc"
CPU = torch.device("cpu")
FINDING_KEYS = {
    "id", "segment", "voxel_count", "volume_mm3", "long_axis_mm", "centroid_mm",
    "centroid_voxel", "attributes", "confidence", "comments",
}  # fmt: skip
# A plan small enough for a 16 x 32 x 32 phantom: no crop, no resampling, one patch.
SMALL_UNET = {"spacing": [2.5, 1.0, 1.0], "patch_size": [16, 32, 32], "crop": False}


def sphere(
    radius_mm: float,
    *,
    shape: tuple[int, int, int] = (40, 64, 64),
    spacing: tuple[float, float, float] = (1.25, 0.8, 0.8),
    centre: tuple[float, float, float] = (25.3, 25.1, 26.2),
) -> tuple[Volume, np.ndarray]:
    """A volume and the mask of a sphere of `radius_mm` at `centre` (mm from the first voxel)."""
    k, j, i = np.indices(shape, dtype=np.float64)
    distance = np.sqrt(
        (k * spacing[0] - centre[0]) ** 2
        + (j * spacing[1] - centre[1]) ** 2
        + (i * spacing[2] - centre[2]) ** 2
    )
    mask = distance <= radius_mm
    voxels = np.where(mask, 30.0, -850.0).astype(np.float32)
    return Volume(voxels, spacing, (-100.0, -50.0, 200.0), AXIAL), mask


def phantom_volume() -> Volume:
    """The ingest tests' phantom: a sphere of +100 HU in -800 HU, 16 x 32 x 32."""
    from tests.dicom_factory import phantom_slice

    voxels = np.stack([phantom_slice(k, 32, 16) for k in range(16)]).astype(np.float32)
    return Volume(voxels, (2.5, 1.0, 1.0), (0.0, 0.0, 0.0), AXIAL)


def loaded(name: str, config: dict[str, object], weights: bytes | None = None) -> Network:
    network = NETWORKS[name]()
    network.load(weights, dict(config), CPU)
    return network


def assert_well_formed(prediction: Prediction, volume: Volume) -> None:
    assert prediction.labelmap.shape == volume.voxels.shape
    assert prediction.labelmap.dtype == np.uint8
    assert set(np.unique(prediction.labelmap)) <= {0, 1}
    _, count = components.connected_components(prediction.labelmap > 0)
    assert len(prediction.findings) == count
    assert len({f["id"] for f in prediction.findings}) == count
    for finding in prediction.findings:
        assert set(finding) == FINDING_KEYS
        assert finding["segment"] == 1
        assert 0.0 <= finding["confidence"] <= 1.0
        assert finding["voxel_count"] > 0 and finding["volume_mm3"] > 0
        assert len(finding["centroid_mm"]) == 3 and len(finding["centroid_voxel"]) == 3
        k, j, i = (round(v) for v in finding["centroid_voxel"])
        assert 0 <= k < volume.voxels.shape[0] and 0 <= j < volume.voxels.shape[1]
        assert 0 <= i < volume.voxels.shape[2]


# --- components ---------------------------------------------------------------------------


def test_a_sphere_is_measured_to_its_volume_diameter_and_centre():
    radius = 8.0
    volume, mask = sphere(radius)

    labels, count = components.connected_components(mask)
    (measured,) = components.measure(labels, volume)

    assert count == 1
    assert measured.voxel_count == mask.sum()
    assert measured.volume_mm3 == pytest.approx(4 / 3 * np.pi * radius**3, rel=0.1)
    assert abs(measured.long_axis_mm - 2 * radius) <= max(volume.spacing)
    centre = volume.to_world((25.3 / 1.25, 25.1 / 0.8, 26.2 / 0.8))
    assert measured.centroid_mm == pytest.approx(centre, abs=0.2)


def test_a_large_sphere_is_measured_through_its_convex_hull():
    radius = 20.0
    volume, mask = sphere(radius, shape=(60, 80, 80), spacing=(1.0, 0.7, 0.7), centre=(30, 28, 28))

    labels, _ = components.connected_components(mask)
    (measured,) = components.measure(labels, volume)

    assert measured.voxel_count > components.EXACT_POINTS
    assert abs(measured.long_axis_mm - 2 * radius) <= 1.0


def test_voxels_touching_at_a_corner_are_one_component():
    mask = np.zeros((4, 4, 4), dtype=bool)
    mask[1, 1, 1] = mask[2, 2, 2] = True
    mask[3, 0, 3] = True

    _, count = components.connected_components(mask)

    assert count == 2


def test_a_flat_component_has_a_long_axis_across_its_slice():
    volume = Volume(np.zeros((3, 60, 60), np.float32), (2.5, 1.0, 1.0), (0, 0, 0), AXIAL)
    labels = np.zeros((3, 60, 60), dtype=np.int32)
    labels[1, 5:55, 10:50] = 1  # one slice, more points than are compared pairwise

    (measured,) = components.measure(labels, volume)

    assert measured.long_axis_mm == pytest.approx(np.hypot(49, 39), abs=0.01)


# --- networks ---------------------------------------------------------------------------


def test_every_network_is_registered_under_its_own_name():
    assert set(NETWORKS) == {"classical-v0", "unet3d"}
    for name, factory in NETWORKS.items():
        assert factory().name == name


def test_classical_v0_finds_the_sphere_in_a_chest_phantom_and_not_the_vessel():
    volume = chest_phantom()

    prediction = loaded("classical-v0", {}).predict(volume)

    assert_well_formed(prediction, volume)
    (finding,) = prediction.findings
    k, j, i = (c / s for c, s in zip(NODULE_MM, volume.spacing, strict=True))
    assert finding["centroid_mm"] == pytest.approx(volume.to_world((k, j, i)), abs=1.0)
    assert finding["volume_mm3"] == pytest.approx(4 / 3 * np.pi * 6.0**3, rel=0.15)
    assert finding["confidence"] > 0.8


def test_classical_v0_finds_a_nodule_on_the_pleura():
    # A 6 mm radius sphere 4 mm inside the lateral pleura: a third of it in the chest wall.
    centre = (50.0, 120.0, 120.0 + 50 + 38 - 4)
    volume = chest_phantom(nodule=(centre, 6.0), vessel=False)

    prediction = loaded("classical-v0", {}).predict(volume)

    (finding,) = prediction.findings
    k, j, i = (c / s for c, s in zip(centre, volume.spacing, strict=True))
    assert evaluation.distance(tuple(finding["centroid_mm"]), volume.to_world((k, j, i))) < 6.0


def test_classical_v0_finds_nothing_in_lungs_without_nodules():
    volume = chest_phantom(nodule=None)

    prediction = loaded("classical-v0", {}).predict(volume)

    assert prediction.findings == []
    assert not prediction.labelmap.any()


def test_classical_v0_reads_its_thresholds_from_the_plan():
    volume = chest_phantom()

    prediction = loaded("classical-v0", {"max_diameter_mm": 8.0}).predict(volume)

    assert prediction.findings == []  # the 12 mm sphere is over the plan's largest


def test_a_plan_value_of_the_wrong_kind_is_refused():
    with pytest.raises(InvalidPlan, match="closing_mm"):
        loaded("classical-v0", {"closing_mm": "wide"})
    with pytest.raises(InvalidPlan, match="patch_size"):
        loaded("unet3d", {"patch_size": [15, 32, 32]})
    with pytest.raises(InvalidPlan, match="mc_dropout needs dropout"):
        loaded("unet3d", {"mc_dropout": 4})


def test_unet3d_with_random_weights_returns_a_labelmap_of_the_input_shape_and_findings():
    volume = phantom_volume()

    prediction = loaded("unet3d", SMALL_UNET).predict(volume)

    assert_well_formed(prediction, volume)
    assert prediction.findings  # seeded random weights call some of the phantom a nodule
    assert prediction.uncertainty_map is None and prediction.uncertainty is None


def test_unet3d_resamples_and_crops_and_still_answers_on_the_input_grid():
    volume = chest_phantom(shape=(24, 96, 96), nodule=((30.0, 60.0, 100.0), 5.0))

    prediction = loaded("unet3d", {"patch_size": [16, 48, 48]}).predict(volume)

    assert_well_formed(prediction, volume)


def test_unet3d_tta_returns_an_uncertainty_map_of_the_input_shape():
    volume = phantom_volume()

    prediction = loaded("unet3d", SMALL_UNET | {"tta": True}).predict(volume)

    assert_well_formed(prediction, volume)
    assert prediction.uncertainty_map is not None
    assert prediction.uncertainty_map.shape == volume.voxels.shape
    assert prediction.uncertainty_map.dtype == np.float32
    assert prediction.uncertainty_map.min() >= 0
    assert prediction.uncertainty is not None and prediction.uncertainty > 0


def test_unet3d_mc_dropout_returns_an_uncertainty_map_of_the_input_shape():
    volume = phantom_volume()
    config = SMALL_UNET | {"dropout": 0.3, "mc_dropout": 3}

    prediction = loaded("unet3d", config).predict(volume)

    assert prediction.uncertainty_map is not None
    assert prediction.uncertainty_map.shape == volume.voxels.shape
    assert prediction.uncertainty is not None and prediction.uncertainty > 0


def test_random_weights_load_as_the_network_they_were_saved_from():
    volume = phantom_volume()
    weights = random_weights(SMALL_UNET, seed=7)

    from_bytes = loaded("unet3d", SMALL_UNET, weights).predict(volume)
    from_seed = loaded("unet3d", SMALL_UNET | {"seed": 7}).predict(volume)
    other_seed = loaded("unet3d", SMALL_UNET | {"seed": 8}).predict(volume)

    assert np.array_equal(from_bytes.labelmap, from_seed.labelmap)
    assert from_bytes.findings == from_seed.findings
    assert from_bytes.findings != other_seed.findings


def test_unet3d_refuses_weights_that_do_not_fit_its_plan():
    weights = random_weights(SMALL_UNET | {"channels": [4, 8, 16, 32]})

    with pytest.raises(InvalidPlan, match="do not fit"):
        loaded("unet3d", SMALL_UNET, weights)


def test_unet3d_predicts_only_once_loaded():
    with pytest.raises(RuntimeError, match="loaded"):
        NETWORKS["unet3d"]().predict(phantom_volume())


# --- evaluation ---------------------------------------------------------------------------


def test_a_detection_within_the_nodule_radius_is_a_hit_and_the_others_false_positives():
    big = evaluation.Nodule("s1", (0.0, 0.0, 0.0), diameter_mm=20.0)
    small = evaluation.Nodule("s1", (50.0, 0.0, 0.0), diameter_mm=4.0)
    detections = [
        evaluation.Detection("s1", (9.0, 0.0, 0.0), 0.4),  # within 10 mm of the big one
        evaluation.Detection("s1", (1.0, 0.0, 0.0), 0.9),  # the big one again: counted once
        evaluation.Detection("s1", (54.5, 0.0, 0.0), 0.3),  # within the 5 mm floor of the small
        evaluation.Detection("s2", (0.0, 0.0, 0.0), 0.8),  # another scan: a false positive
        evaluation.Detection("s1", (30.0, 0.0, 0.0), 0.2),
    ]

    matching = evaluation.match([big, small], detections, scans=2)

    assert [m.detection.score if m.detection else None for m in matching.nodules] == [0.9, 0.3]
    assert [m.distance_mm for m in matching.nodules] == pytest.approx([1.0, 4.5])
    assert matching.sensitivity == 1.0
    assert [d.score for d in matching.false_positives] == [0.8, 0.2]
    assert matching.false_positives_per_scan == 1.0


def test_froc_reports_the_sensitivity_at_each_rate_of_false_positives_per_scan():
    nodules = [evaluation.Nodule("s1", (0.0, 0.0, 0.0), 10.0),
               evaluation.Nodule("s2", (0.0, 0.0, 0.0), 10.0)]  # fmt: skip
    detections = [
        evaluation.Detection("s1", (0.0, 0.0, 0.0), 0.9),
        evaluation.Detection("s1", (40.0, 0.0, 0.0), 0.8),
        evaluation.Detection("s2", (40.0, 0.0, 0.0), 0.7),
        evaluation.Detection("s2", (1.0, 0.0, 0.0), 0.6),
    ]

    froc = evaluation.froc(nodules, detections, scans=2, rates=(0.25, 0.5, 1.0, 2.0))

    assert froc.sensitivity_at == {0.25: 0.5, 0.5: 0.5, 1.0: 1.0, 2.0: 1.0}
    assert froc.score == pytest.approx(0.75)


def test_the_luna16_annotations_are_read_in_patient_millimetres():
    nodules = evaluation.read_luna16_annotations(LIDC / "luna16_annotations_subset.csv")

    assert len(nodules) == 4
    assert max(n.diameter_mm for n in nodules) == pytest.approx(23.35064438)


# --- the real series ----------------------------------------------------------------------


@pytest.mark.slow
def test_classical_v0_finds_the_large_nodule_of_lidc_idri_0001(db):
    project = ProjectFactory.create(deidentify=False)
    files = sorted((LIDC / "LIDC-IDRI-0001").rglob("*.dcm"))
    ingest_batch(project=project, items=[(f.name, f.read_bytes()) for f in files])
    series = Series.objects.get(project=project)
    process_series(series_id=series.pk)
    series.refresh_from_db()
    (nodule,) = [
        n
        for n in evaluation.read_luna16_annotations(LIDC / "luna16_annotations_subset.csv")
        if n.series == series.series_instance_uid
    ]
    volume, header = load_volume(series)

    prediction = loaded("classical-v0", {}).predict(volume)

    assert prediction.labelmap.shape == header.shape
    distances = [evaluation.distance(tuple(f["centroid_mm"]), nodule.centre_mm)
                 for f in prediction.findings]  # fmt: skip
    assert min(distances) <= nodule.diameter_mm / 2
