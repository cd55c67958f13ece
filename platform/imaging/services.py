"""Ingest: every path (upload, STOW-RS, import command, C-STORE) ends in `ingest_batch`.

Per instance it is atomic: the file is stored and the rows written, or neither. Bad input is
reported (IngestReport), never raised, so a batch stores what is valid and says why the rest
was refused.

A batch is written in transactions of up to COMMIT_EVERY instances: one commit (one WAL flush)
per chunk rather than per instance. The files are parsed and checked first, by worker processes
ahead of the chunk being stored where that is worth it (ingest_pool: the parsing is most of the
cost and holds the GIL), else in the chunk's transaction. Of a chunk's instances, the ones
already stored are found with one query, the new ones' files are written (or moved into place
from staging) and their rows inserted with one INSERT, and each series row is updated once.
A SOPInstanceUID that comes twice in one chunk goes, the second time, through the one-instance
path (its own savepoint, the unique constraint deciding), and so does the whole chunk if another
ingest inserted one of its instances between our query and our INSERT. An unexpected error (not
a refusal) rolls back the chunk it happened in and deletes the files that chunk wrote.
"""

import functools
import logging
from collections import Counter
from collections.abc import Iterable, Iterator

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F

from imaging import staging
from imaging.deid import UidMapper, deidentify
from imaging.ingest_pool import EarlyPreparation, Received, prepare_ahead
from imaging.models import Instance, Patient, Series, SeriesState, Study
from imaging.outcomes import IngestReport, Outcome
from imaging.parsing import InvalidDicom, Limits
from imaging.preparation import Candidate, SeriesFields, Uids, prepare
from projects.models import Project

logger = logging.getLogger(__name__)


def ingest_batch(
    *,
    project: Project,
    items: Iterable[tuple[str, bytes]],
    early: EarlyPreparation | None = None,
) -> list[IngestReport]:
    """Ingest each (name, bytes) item; schedule post-processing of every series it touched.

    `early` holds items already given to the ingest pool (early_preparation) by the caller.
    """
    mapper = UidMapper(project)
    known_series: KnownSeries = {}
    reports: list[IngestReport] = []
    chunk: list[Received] = []
    try:
        for received in _received(project, items, early):
            chunk.append(received)
            if len(chunk) == COMMIT_EVERY:
                reports += _ingest_chunk(project, chunk, mapper, known_series)
                chunk = []
    except BaseException:  # e.g. a worker's error, with part of a chunk collected
        _discard_staged(chunk)
        raise
    if chunk:
        reports += _ingest_chunk(project, chunk, mapper, known_series)
    touched = {r.series_id for r in reports if r.outcome == Outcome.STORED and r.series_id}
    for series_id in sorted(touched):
        schedule_series_processing(series_id)
    return reports


def early_preparation(project: Project) -> EarlyPreparation | None:
    """Where the caller may hand files to the pool before the batch is whole (None: may not)."""
    if project.deidentify:
        return None
    return EarlyPreparation(
        project_id=project.pk, limits=Limits.from_settings(), staging=staging.staging_dir()
    )


def _received(
    project: Project, items: Iterable[tuple[str, bytes]], early: EarlyPreparation | None
) -> Iterator[Received]:
    if project.deidentify:  # de-identifying maps UIDs in the database: in the chunk's transaction
        return (Received(name, data, None) for name, data in items)
    return prepare_ahead(
        items,
        project_id=project.pk,
        limits=Limits.from_settings(),
        staging=staging.staging_dir(),
        early=early,
    )


# The series rows a batch has stored instances in, by (PatientID, study UID, series UID).
KnownSeries = dict[tuple[str, str, str], Series]
# Instances per transaction: enough to make the commit's cost vanish, few enough that a long
# batch does not hold its series row locked for long.
COMMIT_EVERY = 32


class _Raced(Exception):
    """Another ingest stored one of the chunk's instances after we looked: redo it one by one."""


def _ingest_chunk(
    project: Project, chunk: list[Received], mapper: UidMapper, known_series: KnownSeries
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
    finally:
        _discard_staged(chunk)
    known_series.update(pending)
    return reports


def _discard_staged(chunk: list[Received]) -> None:
    """Remove the staged files not moved into storage (not stored, or rolled back)."""
    for received in chunk:
        if isinstance(received.prepared, Candidate) and received.prepared.staged:
            staging.discard(received.prepared.staged)


def _delete_files(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)


def _store_one_by_one(
    project: Project,
    chunk: list[Received],
    mapper: UidMapper,
    known_series: KnownSeries,
    written: list[str],
) -> list[IngestReport]:
    """Each instance in a savepoint of its own; the series rows updated once at the end.

    Prepared again: UIDs that de-identification mapped in the rolled-back transaction are gone.
    """
    stored: Counter[int] = Counter()
    reports = [
        ingest_instance(
            project=project,
            name=received.name,
            data=received.data,
            mapper=mapper,
            known_series=known_series,
            written=written,
            stored_in_series=stored,
        )
        for received in chunk
    ]
    _count_all_stored(stored)
    return reports


def _store_together(
    project: Project,
    chunk: list[Received],
    mapper: UidMapper,
    known_series: KnownSeries,
    written: list[str],
) -> list[IngestReport]:
    """The chunk's new instances in one INSERT; raises _Raced if another ingest got there first."""
    results = [_prepared(project, received, mapper) for received in chunk]
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
            series = _series_of(project, candidate.series, known_series)
        except InvalidDicom as error:
            results[i] = candidate.rejected(error.detail)
            continue
        rows[i] = _row(project, series, candidate, _write_file(project, candidate, written))
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
            reports.append(result.stored_as(rows[i].pk, rows[i].series_id))
        elif (existing := stored_before.get(result.sop_instance_uid)) is not None:
            reports.append(_as_resend(result, existing))
        else:  # the same UID earlier in this chunk: the unique constraint decides
            reports.append(_store_candidate(project, result, known_series, written, stored))
    _count_all_stored(stored)
    return reports


def _prepared(project: Project, received: Received, mapper: UidMapper) -> Candidate | IngestReport:
    if received.prepared is not None:  # by the pool
        return received.prepared
    return prepare_instance(project=project, name=received.name, data=received.data, mapper=mapper)


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


def _row(project: Project, series: Series, candidate: Candidate, file_name: str) -> Instance:
    return Instance(
        project=project,
        series=series,
        sop_instance_uid=candidate.sop_instance_uid,
        sop_class_uid=candidate.uids["sop_class_uid"],
        file=file_name,
        size=len(candidate.stored),
        sha256=candidate.sha256,
        source_sha256=candidate.source_sha256,
        **candidate.columns,
    )


def prepare_instance(
    *, project: Project, name: str, data: bytes, mapper: UidMapper
) -> Candidate | IngestReport:
    """Parse, check and (if the project says so) de-identify; a rejection is a report."""
    rewrite = functools.partial(deidentify, mapper=mapper) if project.deidentify else None
    return prepare(
        name=name, data=data, project_id=project.pk, limits=Limits.from_settings(), rewrite=rewrite
    )


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
    return candidate.stored_as(instance.pk, instance.series_id)


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


def _store(
    project: Project, candidate: Candidate, known_series: KnownSeries, written: list[str]
) -> Instance:
    """Write the file, then the rows, in a savepoint; if the rows fail, the file we wrote goes.

    The series (and patient and study) rows are found or created in the same savepoint, so an
    instance refused here leaves none behind; `known_series` learns them once the insert held.
    """
    key = candidate.series.key
    created = len(written)
    try:
        with transaction.atomic():
            series = known_series.get(key) or _series_for(project, candidate.series)
            file_name = _write_file(project, candidate, written)
            instance = _row(project, series, candidate, file_name)
            instance.save(force_insert=True)
    except BaseException:
        _delete_files(written[created:])
        del written[created:]
        raise
    known_series[key] = series
    return instance


def _series_of(project: Project, fields: SeriesFields, known_series: KnownSeries) -> Series:
    """The series row for a chunk stored together: known to this batch, or found or created in
    a savepoint (a refused series leaves no patient or study row behind)."""
    key = fields.key
    if key not in known_series:
        with transaction.atomic():
            known_series[key] = _series_for(project, fields)
    return known_series[key]


def _write_file(project: Project, candidate: Candidate, written: list[str]) -> str:
    """Store the bytes under their hash (once: the same bytes are never written twice); a file
    this call created is added to `written`, for the caller to delete if its rows fail."""
    name = f"dicom/{project.pk}/{candidate.sha256[:2]}/{candidate.sha256}.dcm"
    if candidate.staged and staging.move_into_storage(candidate.staged, name):
        written.append(name)
        return name
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


def _series_for(project: Project, fields: SeriesFields) -> Series:
    patient, _ = Patient.objects.get_or_create(
        project=project,
        patient_id=fields.patient_id,
        defaults={
            "patient_name": fields.patient_name,
            "birth_date": fields.birth_date,
            "sex": fields.sex,
        },
    )
    study, _ = Study.objects.get_or_create(
        project=project,
        study_instance_uid=fields.study_instance_uid,
        defaults={
            "patient": patient,
            "study_date": fields.study_date,
            "study_time": fields.study_time,
            "accession_number": fields.accession_number,
            "study_id": fields.study_id,
            "description": fields.study_description,
            "referring_physician_name": fields.referring_physician_name,
        },
    )
    series, created = Series.objects.get_or_create(
        project=project,
        series_instance_uid=fields.series_instance_uid,
        defaults={
            "study": study,
            "modality": fields.modality,
            "series_number": fields.series_number,
            "description": fields.series_description,
            "body_part": fields.body_part,
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
