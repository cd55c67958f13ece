"""Detection metrics, LUNA16 style: detections matched to reference nodules, sensitivity at a
number of false positives per scan (FROC).

A detection hits a nodule when its centre lies within the nodule's radius of the nodule's centre
(at least `min_radius_mm`, so a detector is not asked for sub-voxel precision on a 3 mm nodule).
A nodule hit by several detections counts once, with the best score among them; a detection
that hits no nodule is a false positive. Sensitivity at r false positives per scan is the
highest sensitivity of any score threshold whose false positives per scan do not exceed r.
"""

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

LUNA16_FP_RATES = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
DEFAULT_MIN_RADIUS_MM = 5.0

Point = tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class Nodule:
    series: str  # SeriesInstanceUID
    centre_mm: Point  # patient x, y, z
    diameter_mm: float

    def hit_radius(self, min_radius_mm: float = DEFAULT_MIN_RADIUS_MM) -> float:
        return max(self.diameter_mm / 2, min_radius_mm)


@dataclass(frozen=True, slots=True)
class Detection:
    series: str
    centre_mm: Point
    score: float  # confidence in [0, 1]


@dataclass(frozen=True, slots=True)
class NoduleMatch:
    nodule: Nodule
    detection: Detection | None  # the best-scored detection that hits it
    distance_mm: float | None  # to the nearest detection in its scan (hit or not)


@dataclass(frozen=True, slots=True)
class Matching:
    nodules: tuple[NoduleMatch, ...]
    false_positives: tuple[Detection, ...]
    scans: int

    @property
    def sensitivity(self) -> float:
        if not self.nodules:
            return 0.0
        return sum(m.detection is not None for m in self.nodules) / len(self.nodules)

    @property
    def false_positives_per_scan(self) -> float:
        return len(self.false_positives) / self.scans if self.scans else 0.0


@dataclass(frozen=True, slots=True)
class Froc:
    sensitivity_at: dict[float, float]  # false positives per scan -> sensitivity
    curve: tuple[tuple[float, float], ...]  # (false positives per scan, sensitivity) per threshold

    @property
    def score(self) -> float:
        """The mean sensitivity over the rates asked for (LUNA16's competition metric over
        its seven rates)."""
        values = list(self.sensitivity_at.values())
        return sum(values) / len(values) if values else 0.0


def distance(a: Point, b: Point) -> float:
    return math.dist(a, b)


def match(
    nodules: Sequence[Nodule],
    detections: Sequence[Detection],
    *,
    scans: int,
    min_radius_mm: float = DEFAULT_MIN_RADIUS_MM,
) -> Matching:
    """Each nodule with its best hitting detection; the detections that hit none."""
    matches = []
    hitting: set[int] = set()
    for nodule in nodules:
        best: Detection | None = None
        nearest: float | None = None
        for index, detection in enumerate(detections):
            if detection.series != nodule.series:
                continue
            d = distance(detection.centre_mm, nodule.centre_mm)
            nearest = d if nearest is None else min(nearest, d)
            if d <= nodule.hit_radius(min_radius_mm):
                hitting.add(index)
                if best is None or detection.score > best.score:
                    best = detection
        matches.append(NoduleMatch(nodule=nodule, detection=best, distance_mm=nearest))
    false_positives = tuple(d for i, d in enumerate(detections) if i not in hitting)
    return Matching(nodules=tuple(matches), false_positives=false_positives, scans=scans)


def froc(
    nodules: Sequence[Nodule],
    detections: Sequence[Detection],
    *,
    scans: int,
    rates: Iterable[float] = LUNA16_FP_RATES,
    min_radius_mm: float = DEFAULT_MIN_RADIUS_MM,
) -> Froc:
    """Sensitivity at each rate of false positives per scan, over all score thresholds."""
    if scans <= 0:
        raise ValueError("scans must be positive")
    matching = match(nodules, detections, scans=scans, min_radius_mm=min_radius_mm)
    # Sweeping the threshold down the scores: a nodule is found from its best hit's score on,
    # a false positive counts from its own score on.
    found = sorted((m.detection.score for m in matching.nodules if m.detection), reverse=True)
    wrong = sorted((d.score for d in matching.false_positives), reverse=True)
    thresholds = sorted(set(found) | set(wrong), reverse=True)
    total = len(nodules)
    curve = []
    for threshold in thresholds:
        sensitivity = sum(s >= threshold for s in found) / total if total else 0.0
        curve.append((sum(s >= threshold for s in wrong) / scans, sensitivity))
    sensitivity_at = {
        rate: max((s for fp, s in curve if fp <= rate), default=0.0) for rate in rates
    }
    return Froc(sensitivity_at=sensitivity_at, curve=tuple(curve))


def read_luna16_annotations(path: Path) -> list[Nodule]:
    """LUNA16's annotations.csv (seriesuid, coordX, coordY, coordZ, diameter_mm)."""
    with path.open(newline="") as handle:
        return [
            Nodule(
                series=row["seriesuid"],
                centre_mm=(float(row["coordX"]), float(row["coordY"]), float(row["coordZ"])),
                diameter_mm=float(row["diameter_mm"]),
            )
            for row in csv.DictReader(handle)
        ]
