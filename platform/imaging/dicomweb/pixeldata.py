"""WADO-RS pixel data of a series (PS3.18 10.4.1.1.6, the Pixel Data resources).

`GET .../series/{series}/pixeldata` answers every frame of the series in one multipart/related
response, one part per frame, each part naming its frame's own URL in Content-Location. A viewer
loading a CT volume then makes a few requests instead of one per slice: on a 2-core machine 140
frame requests took the browser and the server 750-900 ms, the same 73 MB as one response
~250 ms (bench notes in docs/decisions/0004-series-pixel-data.md).

An extension the standard leaves room for (servers ignore query parameters they do not know):
`?SOPInstanceUID=a,b,...` limits the response to those instances, in the order listed, so a
client can split a series into requests that run side by side and that the browser can cache
(a response for a fixed list of stored instances never changes). Each part also carries its
Content-Length, so a client can cut the stream into frames without scanning it for the boundary.
"""

from collections.abc import Iterator, Sequence

from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase

from config.errors import NotFound, PlatformError
from imaging.dicomweb import multipart
from imaging.dicomweb.auth import Caller
from imaging.dicomweb.caching import IMMUTABLE, REVALIDATE, cached, etag_of, is_fresh, not_modified
from imaging.dicomweb.endpoint import dicomweb_view
from imaging.dicomweb.frame_reads import FRAME_FIELDS, decoded_frames, stored_frames, stored_size
from imaging.dicomweb.lookups import series_in
from imaging.dicomweb.negotiation import FrameEncoding, frame_encoding
from imaging.dicomweb.transfer_syntaxes import OCTET_STREAM
from imaging.models import Instance

VARY = ("Accept",)
# More than a request line holds (gunicorn's limit is 4 KB); a series larger than this is
# asked for in several requests anyway.
MAX_LISTED_INSTANCES = 1024
SELECTION_PARAMETER = "SOPInstanceUID"


def _listed_uids(request: HttpRequest) -> list[str] | None:
    """The instances `?SOPInstanceUID=` names (commas or repeats), or None when it is absent."""
    values = request.GET.getlist(SELECTION_PARAMETER)
    if not values:
        return None
    uids = [uid.strip() for value in values for uid in value.replace("\\", ",").split(",")]
    if any(not uid for uid in uids):
        raise PlatformError(
            f"{SELECTION_PARAMETER} has an empty value: list UIDs separated by commas"
        )
    if len(uids) > MAX_LISTED_INSTANCES:
        raise PlatformError(
            f"at most {MAX_LISTED_INSTANCES} instances may be listed in one request"
        )
    if len(set(uids)) != len(uids):
        raise PlatformError(f"{SELECTION_PARAMETER} lists an instance twice")
    return uids


def _instances(
    project_id: int, study: str, series: str, listed: list[str] | None
) -> list[Instance]:
    queryset: QuerySet[Instance] = Instance.objects.filter(
        project_id=project_id,
        series__series_instance_uid=series,
        series__study__study_instance_uid=study,
    ).only("sop_instance_uid", *FRAME_FIELDS)
    if listed is None:
        found = list(queryset.order_by("instance_number", "pk"))
        if not found:
            series_in(project_id, study, series, "pk")  # 404 for a series that is not here
        return [instance for instance in found if instance.frame_index]
    by_uid = {i.sop_instance_uid: i for i in queryset.filter(sop_instance_uid__in=listed)}
    missing = [uid for uid in listed if uid not in by_uid]
    if missing:
        raise NotFound(f"no instance {missing[0]} in this series")
    empty = [uid for uid in listed if not by_uid[uid].frame_index]
    if empty:
        raise NotFound(f"instance {empty[0]} has no pixel data")
    return [by_uid[uid] for uid in listed]


def _numbers(instance: Instance) -> list[int]:
    return list(range(1, len(instance.frame_index) + 1))


def _headers(
    series_path: str, instance: Instance, encoding: FrameEncoding, number: int, size: int
) -> multipart.Headers:
    location = f"{series_path}/instances/{instance.sop_instance_uid}/frames/{number}"
    return (
        ("Content-Type", encoding.part_type),
        ("Content-Location", location),
        ("Content-Length", str(size)),
    )


def _parts(
    series_path: str, planned: Sequence[tuple[Instance, FrameEncoding]]
) -> Iterator[tuple[multipart.Headers, list[bytes]]]:
    """Each frame as a part, read one at a time (a decoded frame's length is known once read)."""
    for instance, encoding in planned:
        numbers = _numbers(instance)
        read = decoded_frames if encoding.decode else stored_frames
        for number, frame in zip(numbers, read(instance, numbers), strict=True):
            yield _headers(series_path, instance, encoding, number, len(frame)), [frame]


def _length(
    series_path: str, planned: Sequence[tuple[Instance, FrameEncoding]], boundary: str
) -> int | None:
    """The body's length, known before reading when no frame is decoded."""
    if any(encoding.decode for _, encoding in planned):
        return None
    heads = [
        (_headers(series_path, instance, encoding, number, size), size)
        for instance, encoding in planned
        for number, size in enumerate(stored_size(instance, _numbers(instance)), start=1)
    ]
    return multipart.encoded_length_with_headers(heads, boundary)


@dicomweb_view("GET")
def series_pixeldata(
    request: HttpRequest, caller: Caller, project_id: int, study: str, series: str
) -> HttpResponseBase:
    listed = _listed_uids(request)
    instances = _instances(project_id, study, series, listed)
    if not instances:
        raise NotFound("this series has no pixel data")
    accept = request.headers.get("Accept")
    planned = [(i, frame_encoding(accept, i.transfer_syntax_uid)) for i in instances]
    etag = etag_of(
        "pixeldata",
        *(f"{i.sha256}:{e.transfer_syntax_uid}:{e.media_type}:{e.decode}" for i, e in planned),
    )
    # A listed set of stored instances never changes; the whole series grows as instances arrive.
    cache_control = IMMUTABLE if listed is not None else REVALIDATE
    if is_fresh(request, etag):
        return not_modified(etag, cache_control, VARY)
    boundary = multipart.boundary_for(etag)
    series_path = request.path.rsplit("/", 1)[0]
    response = StreamingHttpResponse(
        multipart.encode_with_headers(_parts(series_path, planned), boundary),
        content_type=multipart.content_type(OCTET_STREAM, boundary),
    )
    length = _length(series_path, planned, boundary)
    if length is not None:
        response["Content-Length"] = str(length)
    return cached(response, etag, cache_control, VARY)
