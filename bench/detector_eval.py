"""classical-v0 on the shared LIDC cases, scored against the LUNA16 nodules.

How to run (from the repository root)::

    .venv/bin/python bench/detector_eval.py [--data DIR] [--config '{"closing_mm": 10}'] [--json]

Nothing is ingested and no database is touched: each case's DICOM files are read with pydicom
(slices sorted along their normal, HU by rescale slope and intercept), made into a `Volume` as
`inference.volumes.load_volume` would, and given to the detector. Its findings are matched to
the LUNA16 nodules of `luna16_annotations_subset.csv` (a hit: the finding's centroid within
max(nodule radius, 5 mm) of the nodule's centre; `inference.evaluation`), and the script prints
the sensitivity, the false positives per scan, the FROC sensitivities, the distance from each
nodule to the nearest finding, and the time each series took.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pydicom

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("PLATFORM_MODE", "test")

import django

django.setup()

import torch

from inference import evaluation
from inference.networks import NETWORKS
from inference.volume import Volume

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "lidc"


def read_series(folder: Path) -> tuple[Volume, str]:
    """The CT series in `folder` (every .dcm file below it) as a Volume, and its UID."""
    datasets = [pydicom.dcmread(path) for path in sorted(folder.rglob("*.dcm"))]
    datasets = [d for d in datasets if "PixelData" in d and "ImagePositionPatient" in d]
    if not datasets:
        raise SystemExit(f"no image slices under {folder}")
    orientation = np.array(datasets[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(orientation[:3], orientation[3:])
    datasets.sort(key=lambda d: float(np.dot(normal, np.array(d.ImagePositionPatient, float))))
    positions = np.array([d.ImagePositionPatient for d in datasets], dtype=float)
    slice_spacing = float(np.median(np.diff(positions @ normal))) if len(datasets) > 1 else 1.0
    voxels = np.stack(
        [
            d.pixel_array.astype(np.float32) * float(d.get("RescaleSlope", 1))
            + float(d.get("RescaleIntercept", 0))
            for d in datasets
        ]
    )
    row_spacing, column_spacing = (float(v) for v in datasets[0].PixelSpacing)
    volume = Volume(
        voxels=voxels,
        spacing=(slice_spacing, row_spacing, column_spacing),
        origin=tuple(float(v) for v in positions[0]),
        direction=tuple(float(v) for v in (*orientation, *normal)),
    )
    return volume, str(datasets[0].SeriesInstanceUID)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--network", default="classical-v0")
    parser.add_argument("--config", default="{}", help="the plan, as JSON")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()

    nodules = evaluation.read_luna16_annotations(args.data / "luna16_annotations_subset.csv")
    network = NETWORKS[args.network]()
    network.load(None, json.loads(args.config), torch.device("cpu"))

    detections: list[evaluation.Detection] = []
    cases = sorted(p for p in args.data.glob("LIDC-IDRI-*") if p.is_dir())
    timings = {}
    for case in cases:
        volume, uid = read_series(case)
        started = time.perf_counter()
        prediction = network.predict(volume)
        timings[case.name] = time.perf_counter() - started
        found = [
            evaluation.Detection(
                uid,
                (f["centroid_mm"][0], f["centroid_mm"][1], f["centroid_mm"][2]),
                f["confidence"],
            )
            for f in prediction.findings
        ]
        detections += found
        spacing = tuple(round(s, 3) for s in volume.spacing)
        print(
            f"{case.name}: {volume.voxels.shape} spacing {spacing}"
            f" -> {len(found)} findings in {timings[case.name]:.1f} s"
        )
        for finding in prediction.findings:
            x, y, z = finding["centroid_mm"]
            print(
                f"  {finding['id']:>11}  ({x:7.1f}, {y:7.1f}, {z:7.1f})  "
                f"{finding['long_axis_mm']:5.1f} mm  {finding['volume_mm3']:8.0f} mm3  "
                f"confidence {finding['confidence']:.3f}"
            )

    matching = evaluation.match(nodules, detections, scans=len(cases))
    froc = evaluation.froc(nodules, detections, scans=len(cases))
    print("\nnodule                                     diameter  nearest finding  hit  confidence")
    for m in matching.nodules:
        x, y, z = m.nodule.centre_mm
        nearest = f"{m.distance_mm:6.1f} mm" if m.distance_mm is not None else "     none"
        hit = "yes" if m.detection else "no "
        score = f"{m.detection.score:.3f}" if m.detection else ""
        print(
            f"...{m.nodule.series[-12:]} ({x:6.1f}, {y:6.1f}, {z:7.1f})"
            f"  {m.nodule.diameter_mm:5.1f} mm  {nearest}        {hit}  {score}"
        )
    print(
        f"\nsensitivity {matching.sensitivity:.2f} "
        f"({sum(m.detection is not None for m in matching.nodules)}/{len(matching.nodules)}), "
        f"false positives per scan {matching.false_positives_per_scan:.1f}"
    )
    print(
        "FROC: "
        + ", ".join(f"{rate:g} FP/scan: {s:.2f}" for rate, s in froc.sensitivity_at.items())
        + f"; mean {froc.score:.3f}"
    )
    if args.json:
        print(
            json.dumps(
                {
                    "network": args.network,
                    "config": json.loads(args.config),
                    "sensitivity": matching.sensitivity,
                    "false_positives_per_scan": matching.false_positives_per_scan,
                    "froc": {str(k): v for k, v in froc.sensitivity_at.items()},
                    "nodules": [
                        {
                            "series": m.nodule.series,
                            "diameter_mm": m.nodule.diameter_mm,
                            "nearest_mm": m.distance_mm,
                            "hit": m.detection is not None,
                        }
                        for m in matching.nodules
                    ],
                    "seconds": timings,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
