"""classical-v0: a nodule candidate detector from image processing alone, needing no weights.

So that pre-annotations work on day one, before any label has been accepted. On a working grid
coarser than the series':

1. The lungs, by thresholding and morphology (`preprocess.lung_mask`), closed so that nodules on
   the pleura or the mediastinum fall inside.
2. Dense voxels inside the lungs, opened by a ball of each radius of the plan: a small one drops
   thin vessels and keeps small nodules; a large one frees a large nodule from the vessels that
   run into it. The 26-connected components of each opening are the candidates, filtered by size
   (equivalent sphere diameter); where candidates of two radii overlap the better scored stays.
3. Each is scored by four measures in [0, 1], combined by their geometric mean (one poor measure
   is enough to sink a candidate):
   - roundness: shortest over longest principal axis of its voxels;
   - fill: its volume over that of the sphere whose diameter is its long axis;
   - isolation: how little of it the dense voxels continue beyond its surface (grown by a quarter
     of its diameter inside the dense lung voxels, a nodule hardly grows, a piece of vessel does);
   - blobness: at its centre, the smallest over the largest eigenvalue of the Hessian of the
     image smoothed at its own scale, when all three are negative (bright blob: about 1 for a
     sphere, near 0 for a tube or a plate; Li, Sone & Doi, Med Phys 2003).
4. The kept candidates are brought back onto the series' grid and redrawn there from its dense
   voxels, one 26-connected component each: the labelmap and the findings, whose confidence is
   the score.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy import ndimage

from inference import components as cc
from inference.networks.base import InvalidPlan, Prediction, plan_from_config
from inference.preprocess import (
    ball,
    bounding_box,
    crop,
    lung_mask,
    opening,
    resample,
    resample_labels_back,
)
from inference.volume import Volume


@dataclass(frozen=True, slots=True)
class ClassicalPlan:
    spacing: tuple[float, ...] = (2.5, 1.0, 1.0)  # working grid (mm), never finer than the series
    lung_threshold: float = -400.0  # HU: lung below, tissue above
    closing_mm: float = 10.0  # brings nodules on the pleura inside the lung mask
    nodule_threshold: float = -400.0  # HU: a candidate's voxels are denser
    # Each radius finds its own candidates: a small one keeps small nodules, a large one frees
    # a large nodule from the vessels that run into it.
    opening_mm: tuple[float, ...] = (1.5, 3.5)
    min_diameter_mm: float = 3.0  # equivalent sphere diameter
    max_diameter_mm: float = 35.0
    min_roundness: float = 0.3  # shortest / longest principal axis
    min_fill: float = 0.15  # volume / volume of the sphere with the long axis as diameter
    min_confidence: float = 0.45  # the score below which a candidate is not reported
    max_findings: int = 20

    def __post_init__(self) -> None:
        if len(self.spacing) != 3 or any(s <= 0 for s in self.spacing):
            raise ValueError("spacing must be three positive numbers (mm)")
        if not 0 < self.min_diameter_mm < self.max_diameter_mm:
            raise ValueError("diameters must satisfy 0 < min_diameter_mm < max_diameter_mm")
        if self.closing_mm < 0 or any(r < 0 for r in self.opening_mm):
            raise ValueError("closing_mm and opening_mm must not be negative")
        if self.max_findings < 0:
            raise ValueError("max_findings must not be negative")


@dataclass(frozen=True, slots=True)
class Candidate:
    component: cc.Component  # on the working grid
    mask: np.ndarray  # its voxels within its bounding box (component.slices)
    diameter_mm: float  # of the sphere of the same volume
    roundness: float
    fill: float
    isolation: float
    blobness: float
    mean_hu: float

    @property
    def score(self) -> float:
        measures = (self.roundness, self.fill, self.isolation, self.blobness)
        return float(np.prod(np.clip(measures, 0.0, 1.0)) ** (1 / len(measures)))


class ClassicalDetector:
    name = "classical-v0"

    def __init__(self) -> None:
        self.plan = ClassicalPlan()

    def load(self, weights: bytes | None, config: dict[str, Any], device: torch.device) -> None:
        if weights:
            raise InvalidPlan("classical-v0 has no weights")
        self.plan = plan_from_config(ClassicalPlan, config)

    def predict(self, volume: Volume) -> Prediction:
        plan = self.plan
        work, _ = resample(
            volume, [max(p, s) for p, s in zip(plan.spacing, volume.spacing, strict=True)]
        )
        lungs = lung_mask(work, threshold=plan.lung_threshold, closing_mm=plan.closing_mm)
        labels = np.zeros(work.voxels.shape, dtype=np.int32)  # candidate numbers, best first
        candidates: list[Candidate] = []
        box = bounding_box(lungs)
        if box is not None:  # the rest of the work happens within the lungs' bounding box
            candidates = self.candidates(crop(work, box), lungs[box])
            field = labels[box]
            for number, candidate in enumerate(candidates, start=1):
                field[candidate.component.slices][candidate.mask] = number
        labelmap, found = _redraw(volume, labels, plan.nodule_threshold, plan.min_diameter_mm)
        scores = [candidates[number - 1].score for number in found]
        measured = cc.measure(labelmap, volume)
        return Prediction(
            labelmap=(labelmap > 0).astype(np.uint8),
            findings=cc.findings(measured, scores),
            uncertainty_map=None,
            uncertainty=None,
        )

    def candidates(self, work: Volume, lungs: np.ndarray) -> list[Candidate]:
        """The candidates in the lungs (a mask of the working grid `work`), best score first,
        as the plan filters them; where candidates of different opening radii overlap, the best
        scored one."""
        plan = self.plan
        dense = (work.voxels > plan.nodule_threshold) & lungs
        found: list[Candidate] = []
        for radius in plan.opening_mm or (0.0,):
            opened = opening(dense, work.spacing, radius) if radius > 0 else dense
            found += self._components(work, dense, opened)
        found.sort(key=lambda c: c.score, reverse=True)
        kept: list[Candidate] = []
        for candidate in found:
            if not any(_overlap(candidate, other) for other in kept):
                kept.append(candidate)
        return kept[: plan.max_findings]

    def _components(self, work: Volume, dense: np.ndarray, mask: np.ndarray) -> list[Candidate]:
        plan = self.plan
        labels, count = cc.connected_components(mask)
        if count == 0:
            return []
        voxel_mm3 = float(np.prod(work.spacing))
        sizes = np.bincount(labels[mask], minlength=count + 1)[1:] * voxel_mm3
        low, high = (np.pi / 6 * d**3 for d in (plan.min_diameter_mm, plan.max_diameter_mm))
        keep = [int(n) + 1 for n in np.flatnonzero((sizes >= low) & (sizes <= high))]
        if not keep:
            return []
        labels = cc.relabel(labels, keep)
        found = []
        for component in cc.measure(labels, work):
            candidate = _candidate(work, dense, labels, component)
            if (
                candidate.roundness >= plan.min_roundness
                and candidate.fill >= plan.min_fill
                and candidate.score >= plan.min_confidence
            ):
                found.append(candidate)
        return found


def _overlap(a: Candidate, b: Candidate) -> bool:
    boxes = [
        slice(max(p.start, q.start), min(p.stop, q.stop))
        for p, q in zip(a.component.slices, b.component.slices, strict=True)
    ]
    if any(s.start >= s.stop for s in boxes):
        return False
    common = tuple(boxes)
    return bool(np.any(_within(a, common) & _within(b, common)))


def _within(candidate: Candidate, box: tuple[slice, ...]) -> np.ndarray:
    own = candidate.component.slices
    local = tuple(slice(b.start - o.start, b.stop - o.start) for b, o in zip(box, own, strict=True))
    return candidate.mask[local]


def _candidate(
    work: Volume, dense: np.ndarray, labels: np.ndarray, component: cc.Component
) -> Candidate:
    spacing = np.asarray(work.spacing, dtype=float)
    inside = labels[component.slices] == component.label
    diameter = float(np.cbrt(6 * component.volume_mm3 / np.pi))
    # One voxel's extent added to the centre-to-centre long axis, so that a small sphere's fill
    # is about 1 (as a large one's is) instead of well above it.
    long_axis = component.long_axis_mm + float(np.mean(spacing))
    return Candidate(
        component=component,
        mask=inside,
        diameter_mm=diameter,
        roundness=_roundness(inside, spacing),
        fill=min(component.volume_mm3 / (np.pi / 6 * long_axis**3), 1.0),
        isolation=_isolation(dense, inside, component.slices, spacing, diameter / 4),
        blobness=_blobness(work, component.centroid_voxel, diameter / 2),
        mean_hu=float(work.voxels[component.slices][inside].mean()),
    )


def _roundness(inside: np.ndarray, spacing: np.ndarray) -> float:
    points = np.argwhere(inside) * spacing
    if len(points) < 4:
        return 0.0
    eigenvalues = np.linalg.eigvalsh(np.cov(points, rowvar=False))
    return float(np.sqrt(max(eigenvalues[0], 0.0) / max(eigenvalues[-1], 1e-9)))


def _isolation(
    dense: np.ndarray,
    inside: np.ndarray,
    box: tuple[slice, slice, slice],
    spacing: np.ndarray,
    radius_mm: float,
) -> float:
    """1 when growing the candidate by `radius_mm` within `dense` adds nothing, 0 when it
    doubles it."""
    pad = [int(np.ceil(radius_mm / s)) + 1 for s in spacing]
    outer = tuple(
        slice(max(b.start - p, 0), min(b.stop + p, n))
        for b, p, n in zip(box, pad, dense.shape, strict=True)
    )
    seed = np.zeros([o.stop - o.start for o in outer], dtype=bool)
    seed[
        tuple(slice(b.start - o.start, b.stop - o.start) for b, o in zip(box, outer, strict=True))
    ] = inside
    grown = ndimage.binary_dilation(seed, ball(radius_mm, spacing.tolist())) & (dense[outer] | seed)
    return float(np.clip(2.0 - grown.sum() / max(seed.sum(), 1), 0.0, 1.0))


def _blobness(work: Volume, centre: tuple[float, float, float], radius_mm: float) -> float:
    """Smallest over largest Hessian eigenvalue at `centre`, at the scale of a ball of
    `radius_mm` (sigma = radius / sqrt(3)); 0 unless all three are negative."""
    spacing = np.asarray(work.spacing, dtype=float)
    sigma = radius_mm / np.sqrt(3) / spacing
    point = np.round(centre).astype(int)
    half = np.ceil(4 * sigma).astype(int) + 1
    low = np.maximum(point - half, 0)
    high = np.minimum(point + half + 1, work.voxels.shape)
    box = tuple(slice(a, b) for a, b in zip(low, high, strict=True))
    # Clipped so that bone or contrast next to the candidate does not dominate its curvature.
    patch = np.clip(work.voxels[box], -1000.0, 400.0).astype(np.float64)
    at = tuple(point - low)
    hessian = np.zeros((3, 3))
    for a in range(3):
        for b in range(a, 3):
            order = [0, 0, 0]
            order[a] += 1
            order[b] += 1
            value = ndimage.gaussian_filter(patch, sigma, order=order, mode="nearest")[at]
            hessian[a, b] = hessian[b, a] = value / (spacing[a] * spacing[b])
    eigenvalues = np.linalg.eigvalsh(hessian)
    if (eigenvalues >= 0).any():
        return 0.0
    magnitudes = np.sort(np.abs(eigenvalues))
    return float(magnitudes[0] / magnitudes[-1])


def _redraw(
    volume: Volume, labels: np.ndarray, threshold: float, min_diameter_mm: float
) -> tuple[np.ndarray, list[int]]:
    """Candidates drawn on the working grid, redrawn on the series' grid: their voxels (grown by
    one working voxel) that are denser than `threshold`, as one 26-connected component each
    (the largest piece). Returns the label image (1..n) and the candidate number of each."""
    if not labels.any():
        return np.zeros(volume.voxels.shape, dtype=np.int32), []
    grown = ndimage.grey_dilation(labels, size=(3, 3, 3))
    full = resample_labels_back(grown, volume.voxels.shape)
    full = np.where(volume.voxels > threshold, full, 0)
    pieces, count = cc.connected_components(full > 0)
    if count == 0:
        return np.zeros(volume.voxels.shape, dtype=np.int32), []
    where = np.flatnonzero(pieces)
    owner = np.zeros(count + 1, dtype=np.int64)
    np.maximum.at(owner, pieces.ravel()[where], full.ravel()[where])
    owner, sizes = owner[1:], np.bincount(pieces.ravel()[where], minlength=count + 1)[1:]
    # A candidate redrawn into crumbs (less than half the smallest nodule) is dropped.
    min_voxels = np.pi / 12 * min_diameter_mm**3 / float(np.prod(volume.spacing))
    best: dict[int, int] = {}
    for piece, (owned_by, size) in enumerate(zip(owner, sizes, strict=True), start=1):
        candidate = int(owned_by)
        if size >= min_voxels and (candidate not in best or size > sizes[best[candidate] - 1]):
            best[candidate] = piece
    order = sorted(best)  # candidate numbers, best score first
    return cc.relabel(pieces, [best[c] for c in order]), order
