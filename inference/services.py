"""Pre-annotation: run a model version on a series and save its result as a model revision.

Idempotent per (series, model version): the run row is unique, a run that succeeded is never
redone, and the revision and the run's success commit together, so a worker killed at any point
leads to a retry, not to a lost or a duplicate revision.
"""

import logging
import resource
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F

from annotations import labelmaps
from annotations.errors import RevisionConflict
from annotations.models import Task
from annotations.services import create_task, save_model_revision
from config.errors import PlatformError
from imaging.models import Series
from inference.models import InferenceRun, ModelVersion, RunState
from inference.registry import ensure_default_model
from inference.volumes import load_volume

if TYPE_CHECKING:
    from inference.networks.base import Prediction

logger = logging.getLogger(__name__)
T = TypeVar("T")


def request_preannotation(
    *, series: Series, model_version: ModelVersion | None = None, force: bool = False
) -> InferenceRun:
    """Queue a run of the model (default: the project's active one) on the series."""
    from inference.tasks import preannotate

    model = model_version or ensure_default_model(series.project)
    run, created = InferenceRun.objects.get_or_create(series=series, model_version=model)
    if not created and run.state == RunState.SUCCEEDED and not force:
        return run
    if not created and run.state in (RunState.FAILED, RunState.SUCCEEDED):
        InferenceRun.objects.filter(pk=run.pk).update(
            state=RunState.QUEUED, stage="", error="", attempts=0
        )
        run.refresh_from_db()
    transaction.on_commit(lambda: preannotate.delay(run.pk))
    return run


def on_series_ready(*, series_id: int) -> None:
    """Receiver of imaging's series_ready: pre-annotate when the project asks for it."""
    series = Series.objects.select_related("project").filter(pk=series_id).first()
    if series is None or not series.project.preannotate_on_ingest or not series.fit_for_3d:
        return
    if series.modality not in ("CT", ""):
        return
    try:
        request_preannotation(series=series)
    except Exception as error:  # never let a queueing problem fail ingest post-processing
        logger.warning("inference: could not queue series %s: %s", series_id, type(error).__name__)


class Stopwatch:
    def __init__(self, run: InferenceRun) -> None:
        self.run = run
        self.timings: dict[str, float] = {}

    def stage(self, name: str, work: Callable[[], T]) -> T:
        InferenceRun.objects.filter(pk=self.run.pk).update(stage=name)
        start = time.perf_counter()
        result = work()
        self.timings[name] = round(time.perf_counter() - start, 3)
        return result


def run_preannotation(*, run_id: int) -> InferenceRun:
    """Do one run (the Celery task calls this). Failures end the run with a readable reason."""
    with transaction.atomic():
        run = InferenceRun.objects.select_for_update().get(pk=run_id)
        if run.state == RunState.SUCCEEDED:
            return run  # a redelivered message after success: nothing to do
        InferenceRun.objects.filter(pk=run_id).update(
            state=RunState.RUNNING, attempts=F("attempts") + 1, error=""
        )
    run.refresh_from_db()
    watch = Stopwatch(run)
    try:
        revisions = _preannotate(run, watch)
    except (PlatformError, MemoryError, RuntimeError) as error:
        reason = _reason(error)
        logger.warning("inference: run %s failed: %s", run.pk, type(error).__name__)
        InferenceRun.objects.filter(pk=run.pk).update(
            state=RunState.FAILED, stage="", error=reason, timings=watch.timings
        )
        run.refresh_from_db()
        return run
    run.refresh_from_db()
    logger.info("inference: run %s saved %s revision(s)", run.pk, revisions)
    return run


def _reason(error: BaseException) -> str:
    if isinstance(error, PlatformError):
        return error.detail
    message = str(error).lower()
    # torch reports CPU and CUDA allocation failures as RuntimeError subclasses with these words.
    if isinstance(error, MemoryError) or any(
        words in message for words in ("out of memory", "can't allocate memory")
    ):
        return "the worker ran out of memory; try a smaller patch or batch size"
    return f"the model failed: {type(error).__name__}: {str(error)[:300]}"


def _preannotate(run: InferenceRun, watch: Stopwatch) -> int:
    # Imported here: torch loads in workers that run models, not in every web process.
    from inference.loading import inference_device, load_network

    model = run.model_version
    series = run.series
    device = inference_device()
    network = watch.stage("load", lambda: load_network(model))
    volume, header = watch.stage("preprocess", lambda: load_volume(series))
    prediction = watch.stage("network", lambda: network.predict(volume))

    def postprocess() -> tuple[bytes, str]:
        labels = np.ascontiguousarray(prediction.labelmap, np.uint8)
        return labelmaps.encode(labels, header), _store_uncertainty(run, prediction, header)

    payload, uncertainty_name = watch.stage("postprocess", postprocess)

    def save() -> int:
        saved = 0
        with transaction.atomic():
            for task in _tasks_to_preannotate(series):
                try:
                    revision = save_model_revision(
                        task=task,
                        model_version_id=model.pk,
                        payload=payload,
                        findings=prediction.findings,
                    )
                except RevisionConflict:
                    continue  # a person has started on this task: never overwrite their work
                saved += 1
                if run.revision_id is None:
                    run.revision = revision
            InferenceRun.objects.filter(pk=run.pk).update(
                state=RunState.SUCCEEDED,
                stage="",
                device=str(device),
                revision=run.revision,
                uncertainty=prediction.uncertainty,
                uncertainty_map=uncertainty_name,
                timings=watch.timings,
                peak_memory_mb=_peak_memory_mb(),
            )
        return saved

    saved = watch.stage("save", save)
    InferenceRun.objects.filter(pk=run.pk).update(timings=watch.timings)
    return saved


# Variance of a probability in [0, 1] is at most 0.25: that maps to 255.
MAX_VARIANCE = 0.25


def _store_uncertainty(
    run: InferenceRun, prediction: "Prediction", header: labelmaps.LabelmapHeader
) -> str:
    """Quantise the uncertainty map to uint8 and store it beside the run ("" when none)."""
    if prediction.uncertainty_map is None:
        return ""
    scaled = np.clip(prediction.uncertainty_map / MAX_VARIANCE, 0.0, 1.0) * 255.0
    payload = labelmaps.encode(np.rint(scaled).astype(np.uint8), header)
    name = f"uncertainty/{run.series.project_id}/{run.pk}-{run.attempts}.nflm"
    return default_storage.save(name, ContentFile(payload))


def _tasks_to_preannotate(series: Series) -> list[Task]:
    """Every reader's task of the series (one is created when the series has none)."""
    tasks = list(Task.objects.filter(series=series).order_by("reader_slot"))
    if not tasks:
        tasks = [create_task(series=series)]
    return tasks


def _peak_memory_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
