"""One received file made ready to store: parsed, checked, its columns and hashes computed.

Nothing here reads the database or settings, so that it can run in another process
(ingest_pool): what it needs comes in as arguments, and what it returns is small and picklable.
"""

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypedDict

from pydicom.dataset import FileDataset

from imaging.dicomjson import instance_metadata_json
from imaging.frames import frame_ranges
from imaging.outcomes import IngestReport, Outcome
from imaging.parsing import (
    InvalidDicom,
    Limits,
    locate_pixel_data,
    number_of_frames,
    parse_instance,
    reading_values,
)
from imaging.structure import PixelDataLocation

# Changes the dataset in place before it is stored (de-identification); it may use the database,
# so a file that needs one is prepared in the process that holds the transaction.
Rewrite = Callable[[FileDataset], None]


class Uids(TypedDict):
    sop_instance_uid: str
    sop_class_uid: str
    study_instance_uid: str
    series_instance_uid: str


@dataclass(frozen=True, slots=True)
class SeriesFields:
    """What the patient, study and series rows are made of, read from one instance."""

    patient_id: str
    patient_name: str
    birth_date: str
    sex: str
    study_instance_uid: str
    study_date: str
    study_time: str
    accession_number: str
    study_id: str
    study_description: str
    referring_physician_name: str
    series_instance_uid: str
    modality: str
    series_number: int | None
    series_description: str
    body_part: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.patient_id, self.study_instance_uid, self.series_instance_uid)


@dataclass(frozen=True, slots=True)
class Candidate:
    """An instance that parsed and passed every check, ready to be stored."""

    name: str
    series: SeriesFields
    columns: dict[str, Any]  # computed from the dataset and the bytes to store
    stored: bytes  # the bytes to store (as received, or de-identified)
    sha256: str  # of `stored`
    source_sha256: str  # of the bytes received: what tells a resend from a conflict
    uids: Uids
    # A file holding `stored`, written by an ingest pool worker (imaging.staging): moved into
    # storage rather than written again.
    staged: str | None = None

    @property
    def sop_instance_uid(self) -> str:
        return self.uids["sop_instance_uid"]

    def stored_as(self, instance_id: int, series_id: int) -> IngestReport:
        return IngestReport(
            Outcome.STORED, self.name, instance_id=instance_id, series_id=series_id, **self.uids
        )

    def rejected(self, reason: str) -> IngestReport:
        return IngestReport(Outcome.REJECTED, self.name, reason=reason, **self.uids)


def prepare(
    *, name: str, data: bytes, project_id: int, limits: Limits, rewrite: Rewrite | None = None
) -> Candidate | IngestReport:
    """Parse, check and rewrite (de-identify) one file; a refusal is a rejected report."""
    try:
        # Rewriting reads values in its own way: they are all read, and so checked, first.
        # Otherwise each value is read once, by the DICOM JSON (dicomjson), and checked there.
        parsed = parse_instance(data, limits, read_every_value=rewrite is not None)
        dataset = parsed.dataset
        if rewrite is not None:
            rewrite(dataset)
            stored = _encode(dataset)
            pixel_data = locate_pixel_data(
                stored, parsed.transfer_syntax, limits.max_sequence_depth
            )
        else:
            stored = parsed.data
            pixel_data = parsed.pixel_data  # the scan of these very bytes
        with reading_values():
            columns = _columns(project_id, dataset, parsed.transfer_syntax, stored, pixel_data)
            series, uids = _series_fields(dataset), _uids(dataset)
    except InvalidDicom as error:
        return IngestReport(Outcome.REJECTED, name, reason=error.detail)
    source_sha256 = hashlib.sha256(data).hexdigest()
    # Stored as received (no de-identification, not deflated): the same bytes, the same hash.
    sha256 = source_sha256 if stored is data else hashlib.sha256(stored).hexdigest()
    return Candidate(name, series, columns, stored, sha256, source_sha256, uids)


def _encode(dataset: FileDataset) -> bytes:
    out = io.BytesIO()
    dataset.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _uids(dataset: FileDataset) -> Uids:
    return {
        "sop_instance_uid": str(dataset.SOPInstanceUID),
        "sop_class_uid": str(dataset.SOPClassUID),
        "study_instance_uid": str(dataset.StudyInstanceUID),
        "series_instance_uid": str(dataset.SeriesInstanceUID),
    }


def _series_fields(dataset: FileDataset) -> SeriesFields:
    def text(keyword: str, length: int | None = None) -> str:
        return str(dataset.get(keyword, "") or "")[:length]

    return SeriesFields(
        patient_id=str(dataset.get("PatientID", "")),
        patient_name=str(dataset.get("PatientName", "")),
        birth_date=text("PatientBirthDate"),
        sex=text("PatientSex"),
        study_instance_uid=str(dataset.StudyInstanceUID),
        study_date=text("StudyDate"),
        study_time=text("StudyTime"),
        accession_number=text("AccessionNumber"),
        study_id=text("StudyID"),
        study_description=text("StudyDescription", 64),
        referring_physician_name=text("ReferringPhysicianName"),
        series_instance_uid=str(dataset.SeriesInstanceUID),
        modality=text("Modality"),
        series_number=_int(dataset.get("SeriesNumber")),
        series_description=text("SeriesDescription", 64),
        body_part=text("BodyPartExamined", 16),
    )


def _columns(
    project_id: int,
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
        "metadata_json": instance_metadata_json(dataset, transfer_syntax, project_id),
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
