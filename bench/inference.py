"""Seconds per series, split by stage, for each model; peak memory. Prints figures, asserts none.

    .venv/bin/python bench/inference.py [--series 0001|0003|both] [--repeat N]

Runs in the embedded mode (SQLite and files in a temporary VAR_DIR), ingests the shared LIDC
series, and runs the real pre-annotation service (load, preprocess, network, postprocess, save)
with: the classical v0 detector, the MONAI U-Net (random weights, default plan), and the U-Net
with flip test-time augmentation. The device is CUDA when torch sees one, else the CPU.
Targets (issue 6): U-Net < 60 s for a 140-slice series on CPU, < 5 s on a GPU.
"""

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["PLATFORM_MODE"] = "embedded"
os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix="nf-bench-inference-")
os.environ["CELERY_BROKER_URL"] = "memory://"  # runs are called directly, nothing is queued
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django

django.setup()

from django.core.management import call_command

LIDC = ROOT.parent / "shared" / "data" / "lidc"
CASES = {"0001": "LIDC-IDRI-0001", "0003": "LIDC-IDRI-0003"}
STAGES = ("load", "preprocess", "network", "postprocess", "save")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", choices=["0001", "0003", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=2, help="runs per model and series")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)

    import torch

    from accounts.services import create_user
    from annotations.models import Task
    from imaging.models import Series
    from imaging.processing import process_series
    from imaging.services import ingest_batch
    from inference import registry
    from inference.loading import inference_device
    from inference.models import InferenceRun
    from inference.networks.unet import random_weights
    from inference.services import run_preannotation
    from projects.services import create_project

    device = inference_device()
    name = (
        torch.cuda.get_device_name(0) if device.type == "cuda" else f"CPU ({os.cpu_count()} cores)"
    )
    print(
        f"device: {device} — {name}; torch {torch.__version__}, threads {torch.get_num_threads()}"
    )
    admin = create_user(username="bench", password=secrets.token_urlsafe(16), is_site_admin=True)
    cases = list(CASES) if args.series == "both" else [args.series]
    rows = []
    for case in cases:
        project = create_project(creator=admin, name=f"bench {case}", deidentify=False)
        project.preannotate_on_ingest = False
        project.save()
        files = sorted((LIDC / CASES[case]).rglob("*.dcm"))
        ingest_batch(project=project, items=[(f.name, f.read_bytes()) for f in files])
        series = Series.objects.get(project=project)
        process_series(series_id=series.pk)
        series.refresh_from_db()
        plan = {}
        models = [
            registry.ensure_default_model(project),
            registry.register_model(
                project=project, name="unet", version="random", architecture="unet3d",
                config=plan, weights=random_weights(plan, seed=0),
            ),
            registry.register_model(
                project=project, name="unet", version="random-tta", architecture="unet3d",
                config={"tta": True}, weights=random_weights(plan, seed=0),
            ),
        ]  # fmt: skip
        for model in models:
            totals = []
            for _ in range(args.repeat):
                # A fresh run each time: the service never redoes a run that succeeded.
                InferenceRun.objects.filter(series=series).delete()
                Task.objects.filter(series=series).delete()
                run = InferenceRun.objects.create(series=series, model_version=model)
                start = time.perf_counter()
                run = run_preannotation(run_id=run.pk)
                totals.append(time.perf_counter() - start)
                if run.state != "succeeded":
                    print(f"  {model} failed: {run.error}")
                    break
            findings = len(run.revision.findings) if run.revision else 0
            rows.append(
                (case, series.instance_count, str(model), run, statistics.median(totals), findings)
            )
    print()
    header = f"{'series':<8}{'slices':>7}  {'model':<22}" + "".join(f"{s:>12}" for s in STAGES)
    print(header + f"{'total s':>10}{'peak MB':>10}{'findings':>10}")
    for case, slices, model, run, total, findings in rows:
        stages = "".join(f"{run.timings.get(s, float('nan')):>12.2f}" for s in STAGES)
        print(
            f"{case:<8}{slices:>7}  {model:<22}{stages}{total:>10.2f}"
            f"{run.peak_memory_mb or 0:>10.0f}{findings:>10}"
        )
    print("\nstage seconds are from the last run; total is the median of the runs (load is")
    print("near zero after the first run: weights stay cached in the worker process).")


if __name__ == "__main__":
    main()
