"""Pre-processing on phantoms: clipping, resampling that keeps the patient geometry, the lung
mask and the lung-field crop that pastes back."""

import numpy as np
import pytest

from inference.preprocess import (
    clip_hu,
    lung_field_crop,
    lung_mask,
    normalise,
    resample,
    resample_labels_back,
    resample_map_back,
)
from inference.volume import Volume

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
SAGITTAL = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0, -1.0, 0.0, 0.0)  # rows along y, columns down z
NODULE_MM = (50.0, 100.0, 170.0)  # in the right-hand lung, mm from the first voxel (k, j, i)
NODULE_INDEX = (20, 67, 113)  # the voxel nearest to it on the phantom's default grid


def chest_phantom(
    *,
    shape: tuple[int, int, int] = (40, 160, 160),
    spacing: tuple[float, float, float] = (2.5, 1.5, 1.5),
    origin: tuple[float, float, float] = (-120.0, -120.0, -50.0),
    nodule: tuple[tuple[float, float, float], float] | None = (NODULE_MM, 6.0),
    vessel: bool = True,
    seed: int = 0,
) -> Volume:
    """An axial chest: air (-1000 HU) around a body (+40 HU) holding two lungs (-850 HU).

    `nodule` is a (centre in mm from the first voxel (slice, row, column), radius in mm) sphere
    of +30 HU in the right-hand lung; `vessel` a 1.2 mm radius tube of +40 HU running the
    length of the other lung.
    """
    k, j, i = np.indices(shape, dtype=np.float32)
    z, y, x = k * spacing[0], j * spacing[1], i * spacing[2]
    centre_y, centre_x = shape[1] * spacing[1] / 2, shape[2] * spacing[2] / 2
    voxels = np.full(shape, -1000.0, dtype=np.float32)
    body = ((y - centre_y) / 90) ** 2 + ((x - centre_x) / 115) ** 2 <= 1
    voxels[body] = 40.0
    length = shape[0] * spacing[0]
    for side in (-1, 1):
        lung = (
            ((z - length / 2) / (0.45 * length)) ** 2
            + ((y - centre_y) / 60) ** 2
            + ((x - centre_x - side * 50) / 38) ** 2
        ) <= 1
        voxels[lung] = -850.0
    if vessel:
        tube = (y - centre_y) ** 2 + (x - centre_x + 50) ** 2 <= 1.2**2
        voxels[tube & (np.abs(z - length / 2) < 0.4 * length)] = 40.0
    if nodule is not None:
        (cz, cy, cx), radius = nodule
        voxels[(z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2 <= radius**2] = 30.0
    voxels += np.random.default_rng(seed).normal(0, 15, shape).astype(np.float32)
    return Volume(voxels=voxels, spacing=spacing, origin=origin, direction=AXIAL)


def world_centre(volume: Volume) -> np.ndarray:
    a, b, c = (n - 1 for n in volume.voxels.shape)
    return np.array(volume.to_world((a / 2, b / 2, c / 2)))


def test_clipping_bounds_the_values_and_keeps_the_geometry():
    volume = chest_phantom()
    volume = Volume(volume.voxels - 1100, volume.spacing, volume.origin, volume.direction)

    clipped = clip_hu(volume, low=-1200, high=600)

    assert clipped.voxels.min() == -1200
    assert clipped.voxels.dtype == np.float32
    assert (clipped.spacing, clipped.origin, clipped.direction) == (
        volume.spacing,
        volume.origin,
        volume.direction,
    )


def test_normalise_maps_the_hu_window_onto_zero_to_one():
    values = np.array([-2000.0, -1200.0, -300.0, 600.0, 3000.0], dtype=np.float32)

    assert normalise(values).tolist() == pytest.approx([0.0, 0.0, 0.5, 1.0, 1.0])


@pytest.mark.parametrize("direction", [AXIAL, SAGITTAL], ids=["axial", "sagittal"])
def test_resampling_keeps_the_extent_and_the_place_of_every_voxel(direction):
    phantom = chest_phantom()
    volume = Volume(phantom.voxels, phantom.spacing, phantom.origin, direction)
    # Each voxel holds a linear function of its patient position, which trilinear
    # interpolation reproduces exactly: the resampled value is that of the new voxel's position.
    k, j, i = np.indices(volume.voxels.shape, dtype=np.float64)
    x, y, z = (
        o
        + k * volume.spacing[0] * d[2]
        + j * volume.spacing[1] * d[1]
        + i * volume.spacing[2] * d[0]
        for o, d in zip(volume.origin, _axes(volume), strict=True)
    )
    ramp = Volume((x + 2 * y + 3 * z).astype(np.float32), *_geometry(volume))

    coarse, scale = resample(ramp, (5.0, 3.0, 3.0))

    assert coarse.voxels.shape == (20, 80, 80)
    assert scale == (0.5, 0.5, 0.5)
    assert coarse.spacing == pytest.approx((5.0, 3.0, 3.0))
    assert world_centre(coarse) == pytest.approx(world_centre(volume))
    for index in [(1, 1, 1), (5, 40, 70), (18, 78, 2)]:
        px, py, pz = coarse.to_world(index)
        assert coarse.voxels[index] == pytest.approx(px + 2 * py + 3 * pz, abs=1e-2)


def test_resampling_to_the_same_spacing_returns_the_volume_unchanged():
    volume = chest_phantom()

    same, scale = resample(volume, volume.spacing)

    assert same is volume
    assert scale == (1.0, 1.0, 1.0)


def test_a_target_spacing_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match="three positive numbers"):
        resample(chest_phantom(), (1.0, 1.0))


def test_labels_resampled_back_land_on_the_original_grid():
    volume = chest_phantom()
    labels = (volume.voxels > -400).astype(np.uint8)
    coarse, _ = resample(Volume(labels.astype(np.float32), *_geometry(volume)), (5.0, 3.0, 3.0))

    back = resample_labels_back((coarse.voxels > 0.5).astype(np.uint8), labels.shape)
    probability_back = resample_map_back(coarse.voxels, labels.shape)

    assert back.shape == labels.shape == probability_back.shape
    assert back.dtype == np.uint8 and probability_back.dtype == np.float32
    dice = 2 * np.sum(back & labels) / (back.sum() + labels.sum())
    assert dice > 0.9


def test_the_lung_mask_holds_the_lungs_and_the_nodule_and_not_the_air_outside():
    volume = chest_phantom()

    mask = lung_mask(volume)

    assert mask[NODULE_INDEX]  # the nodule, filled in
    assert mask[20, 80, 80 - int(50 / 1.5)]  # the other lung
    assert not mask[20, 2, 2]  # air outside the body
    assert not mask[20, 80, 80]  # the mediastinum
    lung_volume = mask.sum() * np.prod(volume.spacing)
    expected = 2 * 4 / 3 * np.pi * (0.45 * 100) * 60 * 38
    assert lung_volume == pytest.approx(expected, rel=0.1)


def test_the_closing_brings_a_nodule_on_the_pleura_inside_the_lung_mask():
    # A sphere centred on the lateral pleura of the right-hand lung: half of it in the wall.
    pleura_x = 120.0 + 50 + 38
    volume = chest_phantom(nodule=((50.0, 120.0, pleura_x), 6.0))
    in_the_lung = (20, 80, round((pleura_x - 4) / 1.5))  # the nodule, 4 mm inside the pleura

    assert not lung_mask(volume)[in_the_lung]
    assert lung_mask(volume, closing_mm=10.0)[in_the_lung]


def test_the_lung_field_crop_holds_the_lungs_and_pastes_back_in_place():
    volume = chest_phantom()

    cropped, crop = lung_field_crop(volume, margin_mm=6.0)

    assert cropped.voxels.shape < volume.voxels.shape
    k, j, i = (float(s.start) for s in crop.slices)
    assert cropped.origin == pytest.approx(volume.to_world((k, j, i)))
    assert lung_mask(cropped).sum() == pytest.approx(lung_mask(volume).sum(), rel=0.01)
    pasted = crop.paste(np.ones(cropped.voxels.shape, dtype=np.uint8))
    assert pasted.shape == volume.voxels.shape
    assert pasted.sum() == cropped.voxels.size
    assert np.array_equal(crop.paste(cropped.voxels, fill=-1000)[crop.slices], cropped.voxels)


def test_a_volume_without_lungs_is_not_cropped():
    volume = chest_phantom()
    solid = Volume(np.full((8, 16, 16), 40.0, np.float32), *_geometry(volume))

    cropped, crop = lung_field_crop(solid)

    assert cropped.voxels.shape == (8, 16, 16)
    assert crop.original_shape == (8, 16, 16)


def _axes(volume: Volume) -> list[tuple[float, float, float]]:
    """Per patient axis (x, y, z), its component along (row direction, column direction,
    normal): the direction matrix transposed."""
    d = np.asarray(volume.direction).reshape(3, 3)
    return [(float(d[0, a]), float(d[1, a]), float(d[2, a])) for a in range(3)]


def _geometry(volume: Volume) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    return volume.spacing, volume.origin, volume.direction
