"""STOW-RS (PS3.18 10.5): store the instances of a multipart/related; type="application/dicom"
request through the same ingest as every other path, and say what became of each.

The body is spooled to a temporary file (on disk past a few megabytes) and checked for framing
before anything is stored, so a truncated or oversized request stores nothing; then the parts
are handed to ingest one at a time, never the whole body in memory.

Failure text: each FailedSOPSequence item carries the standard FailureReason code and, in
ErrorComment (0000,0902), the sentence ingest gave. ErrorComment is the attribute DIMSE uses
for exactly this; its LO length of 64 is not enforced on the way out, as a cut-off reason
would not tell anyone what to fix.
"""

import contextlib
import io
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import pydicom
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from accounts.models import Role
from config.errors import Forbidden, PlatformError
from imaging.dicomweb.auth import Caller, project_of
from imaging.dicomweb.endpoint import dicomweb_view
from imaging.dicomweb.errors import PayloadTooLarge, UnsupportedMediaType
from imaging.dicomweb.multipart import ArrivingParts, Part, find_parts
from imaging.dicomweb.negotiation import DICOM, MULTIPART, parse_media_type
from imaging.dicomweb.responses import dicom_json
from imaging.ingest_pool import EarlyPreparation
from imaging.models import DeidMapping
from imaging.outcomes import IngestReport, Outcome
from imaging.services import early_preparation, ingest_batch
from projects.models import Project
from projects.selectors import roles_of

STORING_ROLES = frozenset({Role.LEAD, Role.ANNOTATOR})
SPOOL_IN_MEMORY = 8 * 1024**2
READ_CHUNK = 1 << 20

# FailureReason (0008,1197) and WarningReason (0008,1196) values, PS3.4 Annex B and PS3.7 C.
PROCESSING_FAILURE = 0x0110
DUPLICATE_CONFLICT = 0x0111  # same SOP Instance UID already stored with other content
DOES_NOT_MATCH = 0xA900  # e.g. an instance of another study than the one in the path
CANNOT_UNDERSTAND = 0xC000
COERCED = 0xB000  # de-identification changed the instance (its UIDs among others)


class LengthRequired(PlatformError):
    status = 411
    code = "length_required"


@dataclass(frozen=True, slots=True)
class Failure:
    """A part refused before ingest saw it."""

    reason: str
    code: int
    sop_class_uid: str = ""
    sop_instance_uid: str = ""


def _may_store(caller: Caller, project: Project) -> None:
    if caller.user.is_site_admin or roles_of(caller.user, project) & STORING_ROLES:
        return
    raise Forbidden("only a lead, an annotator or a site admin may store instances")


def _boundary(request: HttpRequest) -> str:
    content_type = parse_media_type(request.META.get("CONTENT_TYPE", ""))
    if content_type.media_type != MULTIPART:
        raise UnsupportedMediaType(f'send multipart/related; type="{DICOM}"')
    if content_type.params.get("type", DICOM).lower() != DICOM:
        raise UnsupportedMediaType(
            f'only type="{DICOM}" is supported (not the metadata and bulk data form)'
        )
    boundary = content_type.params.get("boundary")
    if not boundary:
        raise PlatformError("the multipart/related Content-Type has no boundary")
    return boundary


def _input(request: HttpRequest) -> Any:
    """The request body stream, chunked uploads included where the server decoded them."""
    if request.META.get("CONTENT_LENGTH"):
        return request
    if request.META.get("wsgi.input_terminated"):
        # Django reads nothing without a Content-Length; gunicorn has already de-chunked and
        # ends wsgi.input at the end of the body (the WSGI input_terminated extension).
        return request.META["wsgi.input"]
    if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        raise LengthRequired("this server cannot read chunked uploads: send a Content-Length")
    return request


@dataclass(slots=True)
class _EarlyOffer:
    """Each DICOM part handed to the ingest pool as soon as it has arrived, named as _items
    will name it: parsing overlaps receiving the rest of the body."""

    early: EarlyPreparation
    offered: dict[Part, bytes] = field(default_factory=dict)  # read once, not again by _items

    def on_part(self, body: IO[bytes]) -> Callable[[int, Part], None]:
        def offer(number: int, part: Part) -> None:
            if _is_dicom(part):
                data = part.read(body)
                if self.early.offer(f"part {number}", data):
                    self.offered[part] = data

        return offer

    def read(self, part: Part, body: IO[bytes]) -> bytes:
        """The part's bytes: the ones offered, where find_parts found the same part."""
        offered = self.offered.pop(part, None)
        return part.read(body) if offered is None else offered


def _is_dicom(part: Part) -> bool:
    return not part.content_type or parse_media_type(part.content_type).media_type == DICOM


def _spool(
    request: HttpRequest, boundary: str, offer: _EarlyOffer | None
) -> tuple[IO[bytes], list[int]]:
    """The body in a file, and where its boundary strings are (found as it arrived)."""
    limit = settings.DICOM_MAX_UPLOAD_BYTES
    too_large = PayloadTooLarge(f"the request is over the {limit}-byte upload limit")
    try:
        if int(request.META.get("CONTENT_LENGTH") or 0) > limit:
            raise too_large
    except ValueError:
        raise PlatformError("Content-Length is not a number") from None
    stream = _input(request)
    body = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - closed by caller
    arriving = ArrivingParts(body, boundary, offer.on_part(body) if offer is not None else None)
    total = 0
    while chunk := stream.read(READ_CHUNK):
        total += len(chunk)
        if total > limit:
            body.close()
            raise too_large
        body.write(chunk)
        arriving.arrived(chunk)
    return body, arriving.candidates


def _identify(data: bytes) -> tuple[str, str, str] | None:
    """(study, SOP class, SOP instance) UIDs of a part, or None if it cannot be read."""
    try:
        dataset = pydicom.dcmread(
            io.BytesIO(data),
            stop_before_pixels=True,
            specific_tags=["StudyInstanceUID", "SOPClassUID", "SOPInstanceUID"],
        )
        return (
            str(dataset.StudyInstanceUID),
            str(dataset.SOPClassUID),
            str(dataset.SOPInstanceUID),
        )
    except Exception:  # anything unreadable is ingest's to reject, with its own reason
        return None


class _StudyCheck:
    """Whether a part belongs to the study in the path, by its own UID or, in a de-identifying
    project, by the UID it was given at an earlier ingest."""

    def __init__(self, project: Project, study: str) -> None:
        self.project = project
        self.study = study
        self.known: dict[str, bool] = {}

    def __call__(self, part_study: str) -> bool:
        if part_study == self.study:
            return True
        if not self.project.deidentify:
            return False
        if part_study not in self.known:
            replacement = (
                DeidMapping.objects.filter(
                    project=self.project, kind=DeidMapping.Kind.UID, original=part_study
                )
                .values_list("replacement", flat=True)
                .first()
            )
            self.known[part_study] = replacement == self.study
        return self.known[part_study]


def _items(
    body: IO[bytes],
    parts: list[Part],
    in_study: _StudyCheck | None,
    refused: dict[int, Failure],
    offer: _EarlyOffer | None,
) -> Iterator[tuple[str, bytes]]:
    """The parts ingest should see, read one at a time; the others are noted in `refused`."""
    for number, part in enumerate(parts, start=1):
        name = f"part {number}"
        if not _is_dicom(part):
            refused[number] = Failure(
                f"{name} is {part.content_type}, not {DICOM}", CANNOT_UNDERSTAND
            )
            continue
        data = part.read(body) if offer is None else offer.read(part, body)
        if in_study is not None:
            identity = _identify(data)
            if identity is not None and not in_study(identity[0]):
                refused[number] = Failure(
                    f"{name}: the instance belongs to another study than the one in the path",
                    DOES_NOT_MATCH,
                    identity[1],
                    identity[2],
                )
                continue
        yield name, data


def _ingest_failure(report: IngestReport, body: IO[bytes], part: Part) -> Failure:
    code = {
        Outcome.CONFLICT: DUPLICATE_CONFLICT,
        Outcome.REJECTED: CANNOT_UNDERSTAND,
    }.get(report.outcome, PROCESSING_FAILURE)
    sop_class, sop = report.sop_class_uid, report.sop_instance_uid
    if not sop:
        # Refused before ingest read its UIDs: name the instance if its header is readable.
        identity = _identify(part.read(body))
        if identity is not None:
            sop_class, sop = identity[1], identity[2]
    return Failure(f"{report.name}: {report.reason}", code, sop_class, sop)


def _uid(value: str) -> dict[str, Any]:
    return {"vr": "UI", "Value": [value]} if value else {"vr": "UI"}


def _failed(failure: Failure) -> dict[str, Any]:
    return {
        "00000902": {"vr": "LO", "Value": [failure.reason]},
        "00081150": _uid(failure.sop_class_uid),
        "00081155": _uid(failure.sop_instance_uid),
        "00081197": {"vr": "US", "Value": [failure.code]},
    }


def _referenced(base_url: str, project: Project, report: IngestReport) -> dict[str, Any]:
    url = (
        f"{base_url}studies/{report.study_instance_uid}/series/{report.series_instance_uid}"
        f"/instances/{report.sop_instance_uid}"
    )
    item = {
        "00081150": _uid(report.sop_class_uid),
        "00081155": _uid(report.sop_instance_uid),
        "00081190": {"vr": "UR", "Value": [url]},
    }
    if project.deidentify and report.outcome == Outcome.STORED:
        item["00081196"] = {"vr": "US", "Value": [COERCED]}
    return item


def _response_body(
    base_url: str, project: Project, stored: list[IngestReport], failures: list[Failure]
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    studies = {r.study_instance_uid for r in stored}
    if len(studies) == 1:
        body["00081190"] = {"vr": "UR", "Value": [f"{base_url}studies/{studies.pop()}"]}
    if failures:
        body["00081198"] = {"vr": "SQ", "Value": [_failed(f) for f in failures]}
    if stored:
        referenced = [_referenced(base_url, project, r) for r in stored]
        body["00081199"] = {"vr": "SQ", "Value": referenced}
    return body


def _status(stored: int, failures: list[Failure]) -> int:
    """200 all stored, 202 some, 409 none for a conflict or a study mismatch, 400 none at all.

    A batch that stored anything is never a 4xx: the client must not think nothing happened.
    """
    if not failures:
        return 200
    if stored:
        return 202
    conflicting = any(f.code in (DUPLICATE_CONFLICT, DOES_NOT_MATCH) for f in failures)
    return 409 if conflicting else 400


@dicomweb_view("POST")
def store_instances(
    request: HttpRequest, caller: Caller, project_id: int, study: str | None = None
) -> HttpResponse:
    project = project_of(caller, project_id)
    _may_store(caller, project)
    boundary = _boundary(request)
    early = early_preparation(project)
    offer = _EarlyOffer(early) if early is not None else None
    body, candidates = _spool(request, boundary, offer)
    with body, contextlib.nullcontext() if early is None else early:
        parts = find_parts(body, boundary, candidates)
        if not parts:
            raise PlatformError("the request holds no instances")
        refused: dict[int, Failure] = {}
        in_study = _StudyCheck(project, study) if study else None
        items = _items(body, parts, in_study, refused, offer)
        reports = ingest_batch(project=project, items=items, early=early)
        by_part = dict(refused)
        for report in reports:
            if not report.ok:
                number = int(report.name.removeprefix("part "))
                by_part[number] = _ingest_failure(report, body, parts[number - 1])
    failures = [by_part[number] for number in sorted(by_part)]
    stored = [r for r in reports if r.ok]
    base_url = request.build_absolute_uri(reverse("dicomweb-studies", args=[project_id]))
    base_url = base_url.removesuffix("studies")
    return dicom_json(
        request,
        _response_body(base_url, project, stored, failures),
        status=_status(len(stored), failures),
    )
