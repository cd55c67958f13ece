"""WADO-RS instances and metadata (PS3.18 10.4): stored files streamed as multipart/related,
metadata from the JSON kept at ingest.
"""

import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass

import pydicom
from django.core.files.storage import default_storage
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from pydicom.uid import UID, ExplicitVRLittleEndian

from config.errors import NotFound
from imaging.dicomweb import multipart
from imaging.dicomweb.auth import Caller
from imaging.dicomweb.caching import (
    IMMUTABLE,
    REVALIDATE,
    cached,
    etag_of,
    is_fresh,
    not_modified,
)
from imaging.dicomweb.endpoint import dicomweb_view
from imaging.dicomweb.frame_reads import file_chunks
from imaging.dicomweb.lookups import instance_in, series_in
from imaging.dicomweb.negotiation import DICOM, instance_syntax, require_json
from imaging.dicomweb.responses import json_bytes
from imaging.models import Instance, Series
from imaging.series_metadata import build_series_metadata

VARY = ("Accept",)


# --- instances -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredFile:
    name: str
    stored_syntax: str
    sha256: str
    size: int
    send_syntax: str = ""

    @property
    def part_type(self) -> str:
        return f"{DICOM}; transfer-syntax={self.send_syntax}"

    @property
    def transcode(self) -> bool:
        return self.send_syntax != self.stored_syntax


def _stored_files(instances: QuerySet[Instance], accept: str | None) -> list[StoredFile]:
    rows = instances.values_list("file", "transfer_syntax_uid", "sha256", "size")
    # Negotiated per stored syntax, before anything streams: a 406 comes first, not halfway.
    send: dict[str, str] = {}
    return [
        StoredFile(
            name, syntax, sha256, size, send.setdefault(syntax, instance_syntax(accept, syntax))
        )
        for name, syntax, sha256, size in rows
    ]


def _explicit_little_endian(name: str) -> bytes:
    """The stored file re-encoded in explicit VR little endian, for clients that ask for it."""
    with default_storage.open(name, "rb") as stored:
        dataset = pydicom.dcmread(io.BytesIO(stored.read()))
    if UID(dataset.file_meta.TransferSyntaxUID).is_compressed:
        dataset.decompress()
    else:
        dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    out = io.BytesIO()
    dataset.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _content(file: StoredFile) -> Iterator[bytes]:
    if file.transcode:
        yield _explicit_little_endian(file.name)
    else:
        yield from file_chunks(file.name)


def _instances_response(
    request: HttpRequest, files: list[StoredFile], cache_control: str
) -> HttpResponseBase:
    if not files:
        raise NotFound("no instances here")
    etag = etag_of(*(f"{f.sha256}:{f.send_syntax}" for f in files))
    if is_fresh(request, etag):
        return not_modified(etag, cache_control, VARY)
    boundary = multipart.boundary_for(etag)
    parts = ((f.part_type, _content(f)) for f in files)
    response = StreamingHttpResponse(
        multipart.encode(parts, boundary), content_type=multipart.content_type(DICOM, boundary)
    )
    if not any(f.transcode for f in files):
        sizes = ((f.part_type, f.size) for f in files)
        response["Content-Length"] = str(multipart.encoded_length(sizes, boundary))
    return cached(response, etag, cache_control, VARY)


def _in_order(instances: QuerySet[Instance]) -> QuerySet[Instance]:
    return instances.order_by(
        F("series__series_number").asc(nulls_last=True),
        "series_id",
        F("instance_number").asc(nulls_last=True),
        "pk",
    )


@dicomweb_view("GET")
def retrieve_study(
    request: HttpRequest, caller: Caller, project_id: int, study: str
) -> HttpResponseBase:
    instances = Instance.objects.filter(
        project_id=project_id, series__study__study_instance_uid=study
    )
    files = _stored_files(_in_order(instances), request.headers.get("Accept"))
    if not files:
        raise NotFound("no such study")
    # A study or series grows as instances arrive: revalidate, do not keep.
    return _instances_response(request, files, REVALIDATE)


@dicomweb_view("GET")
def retrieve_series(
    request: HttpRequest, caller: Caller, project_id: int, study: str, series: str
) -> HttpResponseBase:
    instances = Instance.objects.filter(
        project_id=project_id,
        series__series_instance_uid=series,
        series__study__study_instance_uid=study,
    )
    files = _stored_files(_in_order(instances), request.headers.get("Accept"))
    if not files:
        raise NotFound("no such series in this study")
    return _instances_response(request, files, REVALIDATE)


@dicomweb_view("GET")
def retrieve_instance(
    request: HttpRequest, caller: Caller, project_id: int, study: str, series: str, sop: str
) -> HttpResponseBase:
    instance = instance_in(
        project_id, study, series, sop, "file", "transfer_syntax_uid", "sha256", "size"
    )
    file = StoredFile(
        str(instance.file.name),
        instance.transfer_syntax_uid,
        instance.sha256,
        instance.size,
        instance_syntax(request.headers.get("Accept"), instance.transfer_syntax_uid),
    )
    return _instances_response(request, [file], IMMUTABLE)


# --- metadata ------------------------------------------------------------------------------


def _series_document(series: Series) -> tuple[bytes, str]:
    """(gzip of the series' metadata array, its etag), built now if ingest has not yet."""
    if series.metadata_gz is None or not series.metadata_etag:
        return build_series_metadata(series)
    return bytes(series.metadata_gz), series.metadata_etag


@dicomweb_view("GET")
def series_metadata(
    request: HttpRequest, caller: Caller, project_id: int, study: str, series: str
) -> HttpResponse:
    require_json(request.headers.get("Accept"))
    found = series_in(project_id, study, series, "pk", "metadata_gz", "metadata_etag")
    document, etag = _series_document(found)
    # Served as compressed at ingest; decompressed only for a client that refuses gzip.
    return json_bytes(
        request, lambda: gzip.decompress(document), gzipped=document, etag=f'"{etag}"'
    )


@dicomweb_view("GET")
def study_metadata(
    request: HttpRequest, caller: Caller, project_id: int, study: str
) -> HttpResponse:
    require_json(request.headers.get("Accept"))
    all_series = list(
        Series.objects.filter(project_id=project_id, study__study_instance_uid=study)
        .order_by(F("series_number").asc(nulls_last=True), "pk")
        .only("pk", "metadata_gz", "metadata_etag")
    )
    if not all_series:
        raise NotFound("no such study")
    documents = [_series_document(series) for series in all_series]

    def body() -> bytes:
        # Each series document is a JSON array: the study's is their items, joined.
        arrays = [gzip.decompress(document).strip()[1:-1].strip() for document, _ in documents]
        return b"[" + b",".join(a for a in arrays if a) + b"]"

    etag = etag_of(*(etag for _, etag in documents))
    return json_bytes(request, body, etag=etag)


@dicomweb_view("GET")
def instance_metadata(
    request: HttpRequest, caller: Caller, project_id: int, study: str, series: str, sop: str
) -> HttpResponse:
    require_json(request.headers.get("Accept"))
    instance = instance_in(project_id, study, series, sop, "metadata_json")
    body = ("[" + instance.metadata_json + "]").encode()
    return json_bytes(request, body, etag=etag_of(instance.metadata_json))
