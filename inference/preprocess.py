"""Pre-processing shared by inference and training: clip, resample, lung-field crop, normalise.

Pure functions on `Volume`: each returns a new volume whose spacing, origin and direction still
place every voxel where it was in the patient, so a prediction made on the processed grid can be
brought back onto the series' own grid (`resample_labels_back`, `resample_map_back`,
`Crop.paste`) and saved as a labelmap of the series.

Resampling keeps the physical extent of the grid (the outer faces of the first and last voxels)
and samples at voxel centres: `torch.nn.functional.interpolate(align_corners=False)` for images,
the same centre mapping ("nearest-exact") for labels.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from scipy import ndimage

from inference.volume import Volume

HU_LOW = -1200.0
HU_HIGH = 600.0
LUNG_THRESHOLD_HU = -400.0  # air and lung parenchyma are below it; soft tissue is above
CROP_SPACING_MM = (5.0, 3.0, 3.0)  # the coarse grid the crop's lung mask is found on

Shape = tuple[int, int, int]


def clip_hu(volume: Volume, low: float = HU_LOW, high: float = HU_HIGH) -> Volume:
    """The volume with its values clipped to [low, high] HU (padding outside the scan's field
    of view, -2048 or -3024 in many series, becomes `low`)."""
    voxels = np.clip(volume.voxels, low, high).astype(np.float32, copy=False)
    return replace(volume, voxels=voxels)


def normalise(voxels: np.ndarray, low: float = HU_LOW, high: float = HU_HIGH) -> np.ndarray:
    """HU mapped linearly from [low, high] onto [0, 1] (float32) for the network.

    CT values are calibrated, so a fixed window (the same for every series, in training and in
    inference) keeps an intensity's meaning, where a per-volume z-score would not.
    """
    scaled = (np.clip(voxels, low, high) - low) / (high - low)
    return scaled.astype(np.float32, copy=False)


def resample(
    volume: Volume, target_spacing: Sequence[float]
) -> tuple[Volume, tuple[float, float, float]]:
    """The volume resampled (trilinear) to about `target_spacing` mm, and the scale factors
    (new shape / old shape per axis).

    The new shape is the old extent divided by the target spacing, rounded; the spacing is then
    adjusted so the extent is kept exactly, and the origin moves to the new first voxel centre.
    """
    shape = _shape(volume.voxels)
    new_shape = _target_shape(shape, volume.spacing, target_spacing)
    if new_shape == shape:
        return volume, (1.0, 1.0, 1.0)
    tensor = torch.from_numpy(np.ascontiguousarray(volume.voxels, dtype=np.float32))
    resampled = torch.nn.functional.interpolate(
        tensor[None, None], size=new_shape, mode="trilinear", align_corners=False
    )[0, 0].numpy()
    return regrid(volume, resampled), _scale(shape, new_shape)


def regrid(volume: Volume, voxels: np.ndarray) -> Volume:
    """A volume of `voxels` covering the same extent as `volume` on a grid of their shape."""
    shape, new_shape = _shape(volume.voxels), _shape(voxels)
    spacing = tuple(s * n / m for s, n, m in zip(volume.spacing, shape, new_shape, strict=True))
    # The new first voxel centre, as a (fractional) index of the old grid.
    first = tuple((new / old - 1.0) / 2.0 for new, old in zip(spacing, volume.spacing, strict=True))
    origin = volume.to_world((first[0], first[1], first[2]))
    return Volume(voxels=voxels, spacing=spacing, origin=origin, direction=volume.direction)


def resample_labels_back(labels: np.ndarray, original_shape: Sequence[int]) -> np.ndarray:
    """Labels (any integer dtype) on a resampled grid, brought back to the original grid's shape
    by nearest neighbour at voxel centres (the inverse mapping of `resample`)."""
    shape = _shape(labels)
    target = _as_shape(original_shape)
    if shape == target:
        return labels
    index = [
        np.minimum(((np.arange(m) + 0.5) * n / m).astype(np.intp), n - 1)
        for n, m in zip(shape, target, strict=True)
    ]
    return labels[np.ix_(*index)]


def resample_map_back(values: np.ndarray, original_shape: Sequence[int]) -> np.ndarray:
    """A float map (probability, variance) on a resampled grid, trilinear back to the original
    grid's shape, float32."""
    target = _as_shape(original_shape)
    if _shape(values) == target:
        return values.astype(np.float32, copy=False)
    tensor = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))
    return torch.nn.functional.interpolate(
        tensor[None, None], size=target, mode="trilinear", align_corners=False
    )[0, 0].numpy()


def lung_mask(
    volume: Volume,
    *,
    threshold: float = LUNG_THRESHOLD_HU,
    closing_mm: float = 0.0,
    closing_spacing_mm: float = 2.5,
    second_lung_fraction: float = 0.15,
) -> np.ndarray:
    """The lungs as a boolean mask of the volume's grid.

    Air below `threshold` that does not touch the in-plane border of any slice (outside the
    body, the table, the padding outside the field of view all do) is the lungs, the airways,
    and some gas in the bowel. The largest component is kept, and the second largest when it is
    at least `second_lung_fraction` of the largest (the lungs are one component when the
    airways join them, two otherwise). Holes are filled slice by slice, which brings vessels
    and nodules surrounded by lung inside the mask; a closing by a ball of `closing_mm` then
    brings in nodules on the pleura or the mediastinum, which lung surrounds on one side only.
    The closing is computed on a grid of `closing_spacing_mm` (its cost grows with the voxel
    count, and it fills concavities of about its radius: it needs no fine grid).
    """
    air = volume.voxels < threshold
    labels, count = ndimage.label(air)
    if count == 0:
        return np.zeros(air.shape, dtype=bool)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    for edge in (labels[:, 0, :], labels[:, -1, :], labels[:, :, 0], labels[:, :, -1]):
        sizes[np.unique(edge)] = 0
    sizes[0] = 0
    order = np.argsort(sizes)[::-1]
    if sizes[order[0]] == 0:
        return np.zeros(air.shape, dtype=bool)
    keep = [order[0]]
    if len(order) > 1 and sizes[order[1]] >= second_lung_fraction * sizes[order[0]]:
        keep.append(order[1])
    mask = np.isin(labels, keep)
    _fill_holes_by_slice(mask)
    if closing_mm > 0:
        mask |= _coarse_closing(mask, volume.spacing, closing_mm, closing_spacing_mm)
        _fill_holes_by_slice(mask)
    return mask


def _fill_holes_by_slice(mask: np.ndarray) -> None:
    box = bounding_box(mask)
    if box is None:
        return
    inner = mask[box]
    for k in range(inner.shape[0]):
        inner[k] = ndimage.binary_fill_holes(inner[k])


def bounding_box(mask: np.ndarray, pad: Sequence[int] = (0, 0, 0)) -> tuple[slice, ...] | None:
    """The smallest box holding every voxel of `mask`, grown by `pad` voxels per axis within
    the grid; None for an empty mask."""
    box = []
    for axis in range(mask.ndim):
        present = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
        if len(present) == 0:
            return None
        low = max(int(present[0]) - pad[axis], 0)
        high = min(int(present[-1]) + 1 + pad[axis], mask.shape[axis])
        box.append(slice(low, high))
    return tuple(box)


def _coarse_closing(
    mask: np.ndarray, spacing: Sequence[float], radius_mm: float, coarse_mm: float
) -> np.ndarray:
    """The closing of `mask` computed on a coarse grid, back on the mask's grid. A coarse voxel
    is in the mask only when all of it is, so the result adds to the mask only what the closing
    fills, never a shell around it; that moves the coarse mask's surface in by up to a coarse
    voxel, which widens a dent by as much on each side, so the coarse ball is larger by that."""
    shape = _shape(mask)
    coarse_shape = _target_shape(shape, spacing, [max(coarse_mm, s) for s in spacing])
    tensor = torch.from_numpy(mask.astype(np.float32))[None, None]
    fraction = torch.nn.functional.interpolate(tensor, size=coarse_shape, mode="area")[0, 0]
    coarse = fraction.numpy() >= 1.0 - 1e-6
    coarse_spacing = [s * n / m for s, n, m in zip(spacing, shape, coarse_shape, strict=True)]
    closed = closing(coarse, coarse_spacing, radius_mm + max(coarse_spacing))
    return resample_labels_back(closed, shape)


def closing(mask: np.ndarray, spacing: Sequence[float], radius_mm: float) -> np.ndarray:
    """Morphological closing by a ball of `radius_mm`, with distance transforms (their cost
    does not grow with the radius, as a structuring element's does)."""
    # Only the mask's bounding box, grown by the radius, can change.
    pad = [int(np.ceil(radius_mm / s)) + 1 for s in spacing]
    box = bounding_box(mask, pad)
    if box is None:
        return mask.copy()
    padded = np.pad(mask[box], [(p, p) for p in pad])
    dilated = ndimage.distance_transform_edt(~padded, sampling=spacing) <= radius_mm
    closed = ndimage.distance_transform_edt(dilated, sampling=spacing) > radius_mm
    inner = tuple(slice(p, p + n) for p, n in zip(pad, mask[box].shape, strict=True))
    result = mask.copy()
    result[box] |= closed[inner]
    return result


def opening(mask: np.ndarray, spacing: Sequence[float], radius_mm: float) -> np.ndarray:
    """Morphological opening by a ball of `radius_mm` (a structuring element: the radii it is
    meant for are a few voxels): removes what is thinner than the ball (vessels, for a radius
    above theirs) and keeps what the ball fits in."""
    element = ball(radius_mm, spacing)
    eroded = ndimage.binary_erosion(mask, element)
    if not eroded.any():
        return eroded
    return np.asarray(ndimage.binary_dilation(eroded, element))


def ball(radius_mm: float, spacing: Sequence[float]) -> np.ndarray:
    """A ball of `radius_mm` as a structuring element on a grid of `spacing`."""
    half = [int(radius_mm // s) for s in spacing]
    grid = np.mgrid[tuple(slice(-h, h + 1) for h in half)].astype(float)
    distance2 = sum((g * s) ** 2 for g, s in zip(grid, spacing, strict=True))
    return np.asarray(distance2 <= radius_mm**2 + 1e-9)


@dataclass(frozen=True, slots=True)
class Crop:
    """Where a cropped volume lies in the original grid, to paste a prediction back."""

    slices: tuple[slice, slice, slice]
    original_shape: Shape

    def paste(self, array: np.ndarray, fill: float = 0) -> np.ndarray:
        """`array` (of the cropped shape) placed in a full grid of `fill`."""
        full = np.full(self.original_shape, fill, dtype=array.dtype)
        full[self.slices] = array
        return full


def lung_field_crop(
    volume: Volume,
    *,
    margin_mm: float = 10.0,
    threshold: float = LUNG_THRESHOLD_HU,
    mask_spacing: Sequence[float] = CROP_SPACING_MM,
) -> tuple[Volume, Crop]:
    """The volume cropped to the bounding box of its lungs plus `margin_mm`, and the `Crop`
    that pastes a prediction back. The whole volume when no lung is found.

    The mask is found on a coarse grid (`mask_spacing`): a bounding box needs no detail.
    """
    shape = _shape(volume.voxels)
    coarse, _ = resample(
        volume, [max(t, s) for t, s in zip(mask_spacing, volume.spacing, strict=True)]
    )
    mask = lung_mask(coarse, threshold=threshold)
    whole = Crop(slices=(slice(0, shape[0]), slice(0, shape[1]), slice(0, shape[2])),
                 original_shape=shape)  # fmt: skip
    if not mask.any():
        return volume, whole
    coarse_shape = _shape(mask)
    bounds = []
    for axis in range(3):
        present = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
        ratio = shape[axis] / coarse_shape[axis]
        margin = margin_mm / volume.spacing[axis]
        low = int(np.floor(present[0] * ratio - margin))
        high = int(np.ceil((present[-1] + 1) * ratio + margin))
        bounds.append(slice(max(low, 0), min(high, shape[axis])))
    slices = (bounds[0], bounds[1], bounds[2])
    return crop(volume, slices), Crop(slices=slices, original_shape=shape)


def crop(volume: Volume, box: Sequence[slice]) -> Volume:
    """The part of the volume in `box` (slices with explicit starts), placed where it was."""
    k, j, i = (float(s.start or 0) for s in box)
    return Volume(
        voxels=volume.voxels[tuple(box)],
        spacing=volume.spacing,
        origin=volume.to_world((k, j, i)),
        direction=volume.direction,
    )


def _target_shape(shape: Shape, spacing: Sequence[float], target: Sequence[float]) -> Shape:
    if len(target) != 3 or any(t <= 0 for t in target):
        raise ValueError(f"target spacing must be three positive numbers, not {list(target)}")
    a, b, c = (max(1, round(n * s / t)) for n, s, t in zip(shape, spacing, target, strict=True))
    return a, b, c


def _scale(shape: Shape, new_shape: Shape) -> tuple[float, float, float]:
    a, b, c = (m / n for n, m in zip(shape, new_shape, strict=True))
    return a, b, c


def _shape(array: np.ndarray) -> Shape:
    if array.ndim != 3:
        raise ValueError(f"expected a 3D array, got shape {array.shape}")
    a, b, c = array.shape
    return int(a), int(b), int(c)


def _as_shape(values: Sequence[int]) -> Shape:
    a, b, c = (int(v) for v in values)
    return a, b, c
