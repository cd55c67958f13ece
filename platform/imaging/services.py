"""Ingest: every path (upload, STOW-RS, import command, C-STORE) ends in `ingest_batch`.

Per instance it is atomic: the file is stored and the rows written, or neither. Bad input is
reported (IngestReport), never raised, so a batch stores what is valid and says why the rest
was refused.

A batch is written in transactions of up to COMMIT_EVERY instances, each instance in its own
savepoint: one commit (one WAL flush) per chunk rather than per instance, while an instance
that fails rolls back only its savepoint and deletes only its file. An unexpected error (not a
refusal) rolls back the chunk it happened in and deletes the files that chunk wrote. The series
rows are updated once per chunk (instance count, cached metadata dropped), in the same
transaction, for the instances whose savepoints held.
"""

import hashlib
import io
import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any, TypedDict

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F
from pydicom.dataset import FileDataset

from imaging.deid import UidMapper, deidentify
from imaging.dicomjson import instance_metadata_json
from imaging.frames import frame_ranges
from imaging.models import Instance, Patient, Series, SeriesState, Study
from imaging.outcomes import IngestReport, Outcome
from imaging.parsing import InvalidDicom, locate_pixel_data, number_of_frames, parse_instance
from imaging.structure import PixelDataLocation
from projects.models import Project

logger = logging.getLogger(__name__)


def ingest_batch(*, project: Project, items: Iterable[tuple[str, bytes]]) -> list[IngestReport]:
    """Ingest each (name, bytes) item; schedule post-processing of every series it touched."""
    mapper = UidMapper(project)
    known_series: KnownSeries = {}
    reports: list[IngestReport] = []
    chunk: list[tuple[str, bytes]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == COMMIT_EVERY:
            reports += _ingest_chunk(project, chunk, mapper, known_series)
            chunk = []
    if chunk:
        reports += _ingest_chunk(project, chunk, mapper, known_series)
    touched = {r.series_id for r in reports if r.outcome == Outcome.STORED and r.series_id}
    for series_id in sorted(touched):
        schedule_series_processing(series_id)
    return reports


# The series rows a batch has stored instances in, by (PatientID, study UID, series UID).
KnownSeries = dict[tuple[str, str, str], Series]
# Instances per transaction: enough to make the commit's cost vanish, few enough that a long
# batch does not hold its series row locked for long.
COMMIT_EVERY = 32


def _ingest_chunk(
    project: Project, chunk: list[tuple[str, bytes]], mapper: UidMapper, known_series: KnownSeries
) -> list[IngestReport]:
    """Ingest the chunk in one transaction, each instance in a savepoint of its own."""
    written: list[str] = []
    pending = dict(known_series)  # series rows this chunk creates are known once it commits
    stored: Counter[int] = Counter()
    try:
        with transaction.atomic():
            reports = [
                ingest_instance(
                    project=project,
                    name=name,
                    data=data,
                    mapper=mapper,
                    known_series=pending,
                    written=written,
                    stored_in_series=stored,
                )
                for name, data in chunk
            ]
            for series_id in sorted(stored):  # one order for all writers: no deadlock
                _count_stored(series_id, stored[series_id])
    except BaseException:
        for name in written:
            default_storage.delete(name)
        raise
    known_series.update(pending)
    return reports


def ingest_instance(
    *,
    project: Project,
    name: str,
    data: bytes,
    mapper: UidMapper | None = None,
    known_series: KnownSeries | None = None,
    written: list[str] | None = None,
    stored_in_series: Counter[int] | None = None,
) -> IngestReport:
    """Store one instance, or report it as a duplicate, a conflict or a rejection.

    `known_series` (kept by ingest_batch) saves looking the patient, study and series up again
    for every instance of a series that this batch has already stored into; `written` collects
    the files this call created, for a caller whose transaction encloses this one. Given
    `stored_in_series`, the instance is counted there and the caller updates the series row
    (_count_stored) before its transaction commits; without it, the row is updated here.

    A resend is caught by the unique constraint rather than looked up first: the insert fails
    in the instance's savepoint, and only then is the stored instance read to report it.
    """
    try:
        parsed = parse_instance(data)
        dataset = parsed.dataset
        if project.deidentify:
            deidentify(dataset, mapper or UidMapper(project))
            stored = _encode(dataset)
            pixel_data = locate_pixel_data(stored, parsed.transfer_syntax)
        else:
            stored = parsed.data
            pixel_data = parsed.pixel_data  # the scan of these very bytes
        prepared = _prepare(project, dataset, parsed.transfer_syntax, stored, pixel_data)
    except InvalidDicom as error:
        return IngestReport(Outcome.REJECTED, name, reason=error.detail)
    source_sha256 = hashlib.sha256(data).hexdigest()
    # Stored as received (no de-identification, not deflated): the same bytes, the same hash.
    sha256 = source_sha256 if stored is data else hashlib.sha256(stored).hexdigest()
    uids = _uids(dataset)
    try:
        instance = _store(
            project,
            dataset,
            prepared,
            stored,
            sha256,
            source_sha256,
            _or_new(known_series),
            [] if written is None else written,
            stored_in_series,
        )
    except InvalidDicom as error:
        return IngestReport(Outcome.REJECTED, name, reason=error.detail, **uids)
    except IntegrityError:
        # Already stored (a resend, or another ingest that got there first).
        existing = _existing(project, uids["sop_instance_uid"], source_sha256, name)
        if existing is not None:
            return existing
        raise
    logger.debug("ingest: stored instance %s in series %s", instance.pk, instance.series_id)
    return IngestReport(
        Outcome.STORED, name, instance_id=instance.pk, series_id=instance.series_id, **uids
    )


def _or_new(known_series: KnownSeries | None) -> KnownSeries:
    return {} if known_series is None else known_series


def _encode(dataset: FileDataset) -> bytes:
    out = io.BytesIO()
    dataset.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _uids(dataset: FileDataset) -> "Uids":
    return {
        "sop_instance_uid": str(dataset.SOPInstanceUID),
        "sop_class_uid": str(dataset.SOPClassUID),
        "study_instance_uid": str(dataset.StudyInstanceUID),
        "series_instance_uid": str(dataset.SeriesInstanceUID),
    }


class Uids(TypedDict):
    sop_instance_uid: str
    sop_class_uid: str
    study_instance_uid: str
    series_instance_uid: str


def _existing(project: Project, sop: str, source_sha256: str, name: str) -> IngestReport | None:
    instance = (
        Instance.objects.filter(project=project, sop_instance_uid=sop)
        .select_related("series__study")
        .first()
    )
    if instance is None:
        return None
    uids: Uids = {
        "sop_instance_uid": sop,
        "sop_class_uid": instance.sop_class_uid,
        "study_instance_uid": instance.series.study.study_instance_uid,
        "series_instance_uid": instance.series.series_instance_uid,
    }
    if instance.source_sha256 == source_sha256:
        return IngestReport(
            Outcome.DUPLICATE,
            name,
            reason="already stored with the same content",
            instance_id=instance.pk,
            series_id=instance.series_id,
            **uids,
        )
    return IngestReport(
        Outcome.CONFLICT,
        name,
        reason="an instance with this SOPInstanceUID is stored with different content; "
        "nothing was overwritten",
        instance_id=instance.pk,
        series_id=instance.series_id,
        **uids,
    )


def _prepare(
    project: Project,
    dataset: FileDataset,
    transfer_syntax: Any,
    stored: bytes,
    pixel_data: PixelDataLocation | None,
) -> dict[str, Any]:
    """Columns computed from the dataset and the exact bytes that will be stored."""
    frames = number_of_frames(dataset) if "PixelData" in dataset else 0
    rows, columns = int(dataset.get("Rows", 0) or 0), int(dataset.get("Columns", 0) or 0)
    bits = int(dataset.get("BitsAllocated", 0) or 0)
    samples = int(dataset.get("SamplesPerPixel", 1) or 1)
    frame_bytes = (rows * columns * samples * bits + 7) // 8
    return {
        "transfer_syntax_uid": str(transfer_syntax),
        "rows": rows,
        "columns": columns,
        "bits_allocated": bits,
        "samples_per_pixel": samples,
        "number_of_frames": frames,
        "frame_index": frame_ranges(stored, pixel_data, frames, frame_bytes) if frames else [],
        "metadata_json": instance_metadata_json(dataset, transfer_syntax, project.pk),
        "instance_number": _int(dataset.get("InstanceNumber")),
        "image_position": _floats(dataset.get("ImagePositionPatient"), 3),
        "image_orientation": _floats(dataset.get("ImageOrientationPatient"), 6),
        "pixel_spacing": _floats(dataset.get("PixelSpacing"), 2),
        "slice_thickness": _float(dataset.get("SliceThickness")),
    }


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _floats(value: Any, count: int) -> list[float] | None:
    try:
        numbers = [float(v) for v in value] if value is not None else []
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == count else None


def _store(
    project: Project,
    dataset: FileDataset,
    prepared: dict[str, Any],
    stored: bytes,
    sha256: str,
    source_sha256: str,
    known_series: KnownSeries,
    written: list[str],
    stored_in_series: Counter[int] | None,
) -> Instance:
    """Write the file, then the rows; if the rows fail, the file we wrote goes too."""
    name = f"dicom/{project.pk}/{sha256[:2]}/{sha256}.dcm"
    created_file = False
    if not default_storage.exists(name):
        name = default_storage.save(name, ContentFile(stored))
        created_file = True
    try:
        with transaction.atomic():
            key = _series_key(dataset)
            series = known_series.get(key) or _series_for(project, dataset)
            instance = Instance.objects.create(
                project=project,
                series=series,
                sop_instance_uid=str(dataset.SOPInstanceUID),
                sop_class_uid=str(dataset.SOPClassUID),
                file=name,
                size=len(stored),
                sha256=sha256,
                source_sha256=source_sha256,
                **prepared,
            )
            if stored_in_series is None:
                _count_stored(series.pk, 1)
    except BaseException:
        if created_file:
            default_storage.delete(name)
        raise
    if created_file:
        written.append(name)
    if stored_in_series is not None:
        stored_in_series[series.pk] += 1
    known_series[key] = series  # only once its rows are in (committed, or in the savepoint)
    return instance


def _count_stored(series_id: int, count: int) -> None:
    """Add `count` new instances to the series and drop its cached metadata document.

    Called in the transaction that inserted them, so readers see the count and the rows change
    together (the metadata cache relies on it: see series_metadata).
    """
    Series.objects.filter(pk=series_id).update(
        instance_count=F("instance_count") + count,
        state=SeriesState.RECEIVING,
        metadata_gz=None,
        metadata_etag="",
    )


def _series_key(dataset: FileDataset) -> tuple[str, str, str]:
    return (
        str(dataset.get("PatientID", "")),
        str(dataset.StudyInstanceUID),
        str(dataset.SeriesInstanceUID),
    )


def _series_for(project: Project, dataset: FileDataset) -> Series:
    patient, _ = Patient.objects.get_or_create(
        project=project,
        patient_id=str(dataset.get("PatientID", "")),
        defaults={
            "patient_name": str(dataset.get("PatientName", "")),
            "birth_date": str(dataset.get("PatientBirthDate", "") or ""),
            "sex": str(dataset.get("PatientSex", "") or ""),
        },
    )
    study, _ = Study.objects.get_or_create(
        project=project,
        study_instance_uid=str(dataset.StudyInstanceUID),
        defaults={
            "patient": patient,
            "study_date": str(dataset.get("StudyDate", "") or ""),
            "study_time": str(dataset.get("StudyTime", "") or ""),
            "accession_number": str(dataset.get("AccessionNumber", "") or ""),
            "study_id": str(dataset.get("StudyID", "") or ""),
            "description": str(dataset.get("StudyDescription", "") or "")[:64],
            "referring_physician_name": str(dataset.get("ReferringPhysicianName", "") or ""),
        },
    )
    series, created = Series.objects.get_or_create(
        project=project,
        series_instance_uid=str(dataset.SeriesInstanceUID),
        defaults={
            "study": study,
            "modality": str(dataset.get("Modality", "") or ""),
            "series_number": _int(dataset.get("SeriesNumber")),
            "description": str(dataset.get("SeriesDescription", "") or "")[:64],
            "body_part": str(dataset.get("BodyPartExamined", "") or "")[:16],
        },
    )
    if series.study_id != study.pk:
        raise InvalidDicom("this SeriesInstanceUID already belongs to another study")
    if created:
        modalities = sorted({m for m in study.series.values_list("modality", flat=True) if m})
        Study.objects.filter(pk=study.pk).update(modalities="\\".join(modalities))
    return series


def schedule_series_processing(series_id: int) -> None:
    """Queue post-processing after the current transaction; ingest never fails because of it."""
    from imaging.tasks import process_series

    def enqueue() -> None:
        try:
            process_series.apply_async((series_id,), countdown=SETTLE_SECONDS)
        except Exception as error:  # broker down: the series stays "receiving", data is safe
            logger.warning("ingest: could not queue series %s: %s", series_id, type(error).__name__)

    transaction.on_commit(enqueue)


# Wait this long after the last instance of a series before post-processing it, so a series
# arriving one instance at a time (C-STORE) is processed once, not once per instance.
SETTLE_SECONDS = 3
