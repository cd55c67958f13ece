"""What ingest says about each file it was given: the report every ingest path shows."""

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    STORED = "stored"  # new instance, file and rows written
    DUPLICATE = "duplicate"  # same SOPInstanceUID, same bytes: nothing to do, success
    CONFLICT = "conflict"  # same SOPInstanceUID, different bytes: refused, nothing overwritten
    REJECTED = "rejected"  # not a valid DICOM instance (reason says why); nothing written


@dataclass(frozen=True, slots=True)
class IngestReport:
    """The result for one file. `sop_instance_uid` is the one stored (de-identified if on)."""

    outcome: Outcome
    name: str  # file name or position in the batch, for the person reading the report
    reason: str = ""
    sop_instance_uid: str = ""
    sop_class_uid: str = ""
    study_instance_uid: str = ""
    series_instance_uid: str = ""
    instance_id: int | None = None
    series_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.STORED, Outcome.DUPLICATE)
