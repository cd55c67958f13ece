"""Ingest: every path (upload, STOW-RS, import command, C-STORE) ends in `ingest_batch`.

Per instance it is atomic: the file is stored and the rows written, or neither. Bad input is
reported (IngestReport), never raised, so a batch stores what is valid and says why the rest
was refused.

A batch is written in transactions of up to COMMIT_EVERY instances: one commit (one WAL flush)
per chunk rather than per instance. Within a chunk every instance is parsed and checked first;
the ones already stored are found with one query, the new ones' files are written and their
rows inserted with one INSERT, and each series row is updated once. A SOPInstanceUID that comes
twice in one chunk goes, the second time, through the one-instance path (its own savepoint,
the unique constraint deciding), and so does the whole chunk if another ingest inserted one of
its instances between our query and our INSERT. An unexpected error (not a refusal) rolls back
the chunk it happened in and deletes the files that chunk wrote.
"""

import hashlib
import io
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
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


class _Raced(Exception):
    """Another ingest stored one of the chunk's instances after we looked: redo it one by one."""


def _ingest_chunk(
    project: Project, chunk: list[tuple[str, bytes]], mapper: UidMapper, known_series: KnownSeries
) -> list[IngestReport]:
    """Ingest the chunk in one transaction: all at once, or one by one after a race."""
    written: list[str] = []
    pending = dict(known_series)  # series rows this chunk creates are known once it commits
    try:
        try:
            with transaction.atomic():
                reports = _store_together(project, chunk, mapper, pending, written)
        except _Raced:
            _delete_files(written)
            written.clear()
            pending = dict(known_series)
            mapper.cache.clear()  # mappings made in the rolled-back transaction are gone
            with transaction.atomic():
                reports = _store_one_by_one(project, chunk, mapper, pending, written)
    except BaseException:
        _delete_files(written)
        raise
    known_series.update(pending)
    return reports


def _delete_files(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)


def _store_one_by_one(
    project: Project,
    chunk: list[tuple[str, bytes]],
    mapper: UidMapper,
    known_series: KnownSeries,
    written: list[str],
) -> list[IngestReport]:
    """Each instance in a savepoint of its own; the series rows updated once at the end."""
    stored: Counter[int] = Counter()
    reports = [
        ingest_instance(
            project=project,
            name=name,
            data=data,
            mapper=mapper,
            known_series=known_series,
            written=written,
            stored_in_series=stored,
        )
        for name, data in chunk
    ]
    _count_all_stored(stored)
    return reports


def _store_together(
    project: Project,
    chunk: list[tuple[str, bytes]],
    mapper: UidMapper,
    known_series: KnownSeries,
    written: list[str],
) -> list[IngestReport]:
    """The chunk's new instances in one INSERT; raises _Raced if another ingest got there first."""
    results: list[IngestReport | Candidate] = [
        prepare_instance(project=project, name=name, data=data, mapper=mapper)
        for name, data in chunk
    ]
    candidates = {i: c for i, c in enumerate(results) if isinstance(c, Candidate)}
    stored_before = _stored(project, {c.sop_instance_uid for c in candidates.values()})
    first: dict[str, int] = {}  # the first of each UID not stored yet: inserted together
    for i, candidate in candidates.items():
        if candidate.sop_instance_uid not in stored_before:
            first.setdefault(candidate.sop_instance_uid, i)
    rows: dict[int, Instance] = {}
    for i in first.values():
        candidate = candidates[i]
        try:
            series = _series_of(project, candidate.dataset, known_series)
        except InvalidDicom as error:
            results[i] = candidate.rejected(error.detail)
            continue
        rows[i] = candidate.row(project, series, _write_file(project, candidate, written))
    try:
        Instance.objects.bulk_create(rows.values())
    except IntegrityError:  # the chunk's transaction is rolled back by the caller
        raise _Raced from None
    stored = Counter(row.series_id for row in rows.values())
    reports: list[IngestReport] = []
    for i, result in enumerate(results):
        if isinstance(result, IngestReport):
            reports.append(result)
        elif i in rows:
            logger.debug("ingest: stored instance %s in series %s", rows[i].pk, rows[i].series_id)
            reports.append(result.stored_as(rows[i]))
        elif (existing := stored_before.get(result.sop_instance_uid)) is not None:
            reports.append(_as_resend(result, existing))
        else:  # the same UID earlier in this chunk: the unique constraint decides
            reports.append(_store_candidate(project, result, known_series, written, stored))
    _count_all_stored(stored)
    return reports


def _stored(project: Project, sop_uids: set[str]) -> dict[str, Instance]:
    """The stored instances among these UIDs, with what a duplicate's report names."""
    if not sop_uids:
        return {}
    found = (
        Instance.objects.filter(project=project, sop_instance_uid__in=sop_uids)
        .select_related("series__study")
        .only(
            "sop_instance_uid",
            "sop_class_uid",
            "source_sha256",
            "series__series_instance_uid",
            "series__study__study_instance_uid",
        )
    )
    return {instance.sop_instance_uid: instance for instance in found}


def _count_all_stored(stored: Counter[int]) -> None:
    for series_id in sorted(stored):  # one order for all writers: no deadlock
        _count_stored(series_id, stored[series_id])


@dataclass(slots=True)
class Candidate:
    """An instance that parsed and passed every check, ready to be stored."""

    name: str
    dataset: FileDataset
    columns: dict[str, Any]  # computed from the dataset and the bytes to store
    stored: bytes  # the bytes to store (as received, or de-identified)
    sha256: str  # of `stored`
    source_sha256: str  # of the bytes received: what tells a resend from a conflict
    uids: "Uids"

    @property
    def sop_instance_uid(self) -> str:
        return self.uids["sop_instance_uid"]

    def row(self, project: Project, series: Series, file_name: str) -> Instance:
        return Instance(
            project=project,
            series=series,
            sop_instance_uid=self.sop_instance_uid,
            sop_class_uid=self.uids["sop_class_uid"],
            file=file_name,
            size=len(self.stored),
            sha256=self.sha256,
            source_sha256=self.source_sha256,
            **self.columns,
        )

    def stored_as(self, instance: Instance) -> IngestReport:
        return IngestReport(
            Outcome.STORED,
            self.name,
            instance_id=instance.pk,
            series_id=instance.series_id,
            **self.uids,
        )

    def rejected(self, reason: str) -> IngestReport:
        return IngestReport(Outcome.REJECTED, self.name, reason=reason, **self.uids)


def prepare_instance(
    *, project: Project, name: str, data: bytes, mapper: UidMapper
) -> "Candidate | IngestReport":
    """Parse, check and (if the project says so) de-identify; a rejection is a report."""
    try:
        parsed = parse_instance(data)
        dataset = parsed.dataset
        if project.deidentify:
            deidentify(dataset, mapper)
            stored = _encode(dataset)
            pixel_data = locate_pixel_data(stored, parsed.transfer_syntax)
        else:
            stored = parsed.data
            pixel_data = parsed.pixel_data  # the scan of these very bytes
        columns = _prepare(project, dataset, parsed.transfer_syntax, stored, pixel_data)
    except InvalidDicom as error:
        return IngestReport(Outcome.REJECTED, name, reason=error.detail)
    source_sha256 = hashlib.sha256(data).hexdigest()
    # Stored as received (no de-identification, not deflated): the same bytes, the same hash.
    sha256 = source_sha256 if stored is data else hashlib.sha256(stored).hexdigest()
    return Candidate(name, dataset, columns, stored, sha256, source_sha256, _uids(dataset))


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
    """
    candidate = prepare_instance(
        project=project, name=name, data=data, mapper=mapper or UidMapper(project)
    )
    if isinstance(candidate, IngestReport):
        return candidate
    return _store_candidate(
        project,
        candidate,
        _or_new(known_series),
        [] if written is None else written,
        stored_in_series,
    )


def _store_candidate(
    project: Project,
    candidate: Candidate,
    known_series: KnownSeries,
    written: list[str],
    stored_in_series: Counter[int] | None,
) -> IngestReport:
    """Store one prepared instance in a savepoint of its own.

    A resend is caught by the unique constraint rather than looked up first: the insert fails
    in the instance's savepoint, and only then is the stored instance read to report it.
    Given `stored_in_series`, the instance is counted there for the caller to update the series
    row; without it, the row is updated here.
    """
    try:
        instance = _store(project, candidate, known_series, written)
    except InvalidDicom as error:
        return candidate.rejected(error.detail)
    except IntegrityError:
        # Already stored (a resend, or another ingest that got there first).
        existing = _stored(project, {candidate.sop_instance_uid}).get(candidate.sop_instance_uid)
        if existing is not None:
            return _as_resend(candidate, existing)
        raise
    if stored_in_series is None:
        _count_stored(instance.series_id, 1)
    else:
        stored_in_series[instance.series_id] += 1
    logger.debug("ingest: stored instance %s in series %s", instance.pk, instance.series_id)
    return candidate.stored_as(instance)


def _as_resend(candidate: Candidate, existing: Instance) -> IngestReport:
    """A duplicate when the bytes received are the ones stored before, else a conflict."""
    uids: Uids = {
        "sop_instance_uid": existing.sop_instance_uid,
        "sop_class_uid": existing.sop_class_uid,
        "study_instance_uid": existing.series.study.study_instance_uid,
        "series_instance_uid": existing.series.series_instance_uid,
    }
    if existing.source_sha256 == candidate.source_sha256:
        outcome, reason = Outcome.DUPLICATE, "already stored with the same content"
    else:
        outcome = Outcome.CONFLICT
        reason = (
            "an instance with this SOPInstanceUID is stored with different content; "
            "nothing was overwritten"
        )
    return IngestReport(
        outcome,
        candidate.name,
        reason=reason,
        instance_id=existing.pk,
        series_id=existing.series_id,
        **uids,
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
    project: Project, candidate: Candidate, known_series: KnownSeries, written: list[str]
) -> Instance:
    """Write the file, then the rows, in a savepoint; if the rows fail, the file we wrote goes.

    The series (and patient and study) rows are found or created in the same savepoint, so an
    instance refused here leaves none behind; `known_series` learns them once the insert held.
    """
    key = _series_key(candidate.dataset)
    created = len(written)
    try:
        with transaction.atomic():
            series = known_series.get(key) or _series_for(project, candidate.dataset)
            file_name = _write_file(project, candidate, written)
            instance = candidate.row(project, series, file_name)
            instance.save(force_insert=True)
    except BaseException:
        _delete_files(written[created:])
        del written[created:]
        raise
    known_series[key] = series
    return instance


def _series_of(project: Project, dataset: FileDataset, known_series: KnownSeries) -> Series:
    """The series row for a chunk stored together: known to this batch, or found or created in
    a savepoint (a refused series leaves no patient or study row behind)."""
    key = _series_key(dataset)
    if key not in known_series:
        with transaction.atomic():
            known_series[key] = _series_for(project, dataset)
    return known_series[key]


def _write_file(project: Project, candidate: Candidate, written: list[str]) -> str:
    """Store the bytes under their hash (once: the same bytes are never written twice); a file
    this call created is added to `written`, for the caller to delete if its rows fail."""
    name = f"dicom/{project.pk}/{candidate.sha256[:2]}/{candidate.sha256}.dcm"
    if not default_storage.exists(name):
        name = default_storage.save(name, OneWrite(candidate.stored))
        written.append(name)
    return name


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


class OneWrite(ContentFile):
    """Bytes already in memory, written to a file in one call rather than 64 KB at a time
    (FileSystemStorage writes each chunk under a file lock: ~0.4 ms per CT slice)."""

    def chunks(self, chunk_size: int | None = None) -> Iterator[bytes]:
        self.seek(0)
        yield self.read()


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
