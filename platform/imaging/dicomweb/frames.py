"""WADO-RS frames and pixel bulk data (PS3.18 10.4.1.1.4 and 10.4.1.1.5).

A frame request is the viewer's hot path: a few columns of the instance (kept in process, see
lookups.cached_instance_in), then a seek and a read per byte range of the stored file.
Responses carry an ETag derived from the instance's content hash and may be cached for good,
since stored instances never change.
"""

from collections.abc import Iterable, Iterator, Sequence

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from config.errors import NotFound, PlatformError
from imaging.dicomweb import multipart
from imaging.dicomweb.auth import Caller
from imaging.dicomweb.caching import IMMUTABLE, cached, etag_of, is_fresh, not_modified
from imaging.dicomweb.endpoint import dicomweb_view
from imaging.dicomweb.frame_reads import (
    FRAME_FIELDS,
    decoded_frames,
    stored_frames,
    stored_size,
)
from imaging.dicomweb.lookups import cached_instance_in, forget_instance
from imaging.dicomweb.negotiation import FrameEncoding, frame_encoding
from imaging.dicomweb.transfer_syntaxes import OCTET_STREAM
from imaging.models import Instance

PIXEL_DATA = "7FE00010"
VARY = ("Accept",)
# Stored frames up to this size are read before the response starts; more are streamed.
IN_MEMORY_BYTES = 16 * 1024**2


def parse_frame_numbers(text: str, instance: Instance) -> list[int]:
    """Read "1,3,5" as [1, 3, 5]: 400 for anything but positive integers, 404 past the end."""
    try:
        numbers = [int(part) for part in text.split(",")]
    except ValueError:
        raise PlatformError(
            f"frame numbers must be integers separated by commas, not {text!r}"
        ) from None
    if any(n < 1 for n in numbers):
        raise PlatformError("frame numbers start at 1")
    count = len(instance.frame_index)
    if count == 0:
        raise NotFound("this instance has no pixel data")
    beyond = [n for n in numbers if n > count]
    if beyond:
        raise NotFound(f"this instance has {count} frame(s); there is no frame {beyond[0]}")
    return numbers


def frames_response(
    request: HttpRequest,
    instance: Instance,
    numbers: Sequence[int],
    encoding: FrameEncoding,
    *,
    as_one_part: bool,
) -> HttpResponseBase:
    """The frames as multipart/related, one part each (or one part for native bulk data)."""
    etag = etag_of(
        instance.sha256, ",".join(map(str, numbers)), as_one_part, *_representation(encoding)
    )
    if is_fresh(request, etag):
        return not_modified(etag, IMMUTABLE, VARY)
    boundary = multipart.boundary_for(etag)
    part_type = encoding.part_type
    media_type = multipart.content_type(encoding.media_type, boundary)
    length: int | None = None
    chunks: Iterable[bytes]
    if not encoding.decode and sum(stored_size(instance, numbers)) <= IN_MEMORY_BYTES:
        # A few frames (the viewer's usual request): read now, send as one buffer. A missing
        # file is then a 404 rather than a response cut off after its headers.
        frames = list(stored_frames(instance, numbers))
        in_parts: Iterable[tuple[str, Iterable[bytes]]] = (
            [(part_type, frames)] if as_one_part else _one_part_each(part_type, frames)
        )
        body = b"".join(multipart.encode(in_parts, boundary))
        return cached(HttpResponse(body, content_type=media_type), etag, IMMUTABLE, VARY)
    if encoding.decode:
        chunks = decoded_frames(instance, numbers)
    else:
        chunks = stored_frames(instance, numbers)
        sizes = stored_size(instance, numbers)
        if as_one_part:
            sizes = [sum(sizes)]
        length = multipart.encoded_length(((part_type, size) for size in sizes), boundary)
    parts = [(part_type, chunks)] if as_one_part else _one_part_each(part_type, chunks)
    response = StreamingHttpResponse(multipart.encode(parts, boundary), content_type=media_type)
    if length is not None:
        response["Content-Length"] = str(length)
    return cached(response, etag, IMMUTABLE, VARY)


def _representation(encoding: FrameEncoding) -> tuple[str, str, bool]:
    return encoding.transfer_syntax_uid, encoding.media_type, encoding.decode


def _one_part_each(part_type: str, frames: Iterable[bytes]) -> Iterator[tuple[str, list[bytes]]]:
    for frame in frames:
        yield part_type, [frame]


@dicomweb_view("GET")
def retrieve_frames(
    request: HttpRequest,
    caller: Caller,
    project_id: int,
    study: str,
    series: str,
    sop: str,
    frames: str,
) -> HttpResponseBase:
    instance = cached_instance_in(project_id, study, series, sop, *FRAME_FIELDS)
    numbers = parse_frame_numbers(frames, instance)
    encoding = frame_encoding(request.headers.get("Accept"), instance.transfer_syntax_uid)
    try:
        return frames_response(request, instance, numbers, encoding, as_one_part=False)
    except FileNotFoundError:  # deleted since we cached it
        forget_instance(project_id, study, series, sop, *FRAME_FIELDS)
        raise NotFound("no such instance in this series") from None


@dicomweb_view("GET")
def retrieve_bulkdata(
    request: HttpRequest,
    caller: Caller,
    project_id: int,
    study: str,
    series: str,
    sop: str,
    tag: str,
) -> HttpResponseBase:
    """PixelData, the only bulk data our metadata refers to: native pixel data as one part,
    encapsulated pixel data as one part per frame."""
    if tag.upper() != PIXEL_DATA:
        raise NotFound("no such bulk data: only PixelData (7FE00010) is served as bulk data")
    instance = cached_instance_in(project_id, study, series, sop, *FRAME_FIELDS)
    if not instance.frame_index:
        raise NotFound("this instance has no pixel data")
    numbers = list(range(1, len(instance.frame_index) + 1))
    encoding = frame_encoding(request.headers.get("Accept"), instance.transfer_syntax_uid)
    one_part = encoding.media_type == OCTET_STREAM
    try:
        return frames_response(request, instance, numbers, encoding, as_one_part=one_part)
    except FileNotFoundError:  # deleted since we cached it
        forget_instance(project_id, study, series, sop, *FRAME_FIELDS)
        raise NotFound("no such instance in this series") from None
