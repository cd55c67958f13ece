"""Error and DICOM JSON responses, compressed when the client allows it."""

import gzip
import json
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_vary_headers

from config.errors import PlatformError
from imaging.dicomweb.caching import REVALIDATE, is_fresh, not_modified
from imaging.dicomweb.negotiation import accepts_gzip

DICOM_JSON = "application/dicom+json"
# Below this, gzip's header and CPU cost more than the bytes it saves.
GZIP_MIN_BYTES = 1024


def error_response(error: PlatformError) -> HttpResponse:
    response = JsonResponse({"code": error.code, "detail": error.detail}, status=error.status)
    if error.status == 401:
        response["WWW-Authenticate"] = "Token"
    return response


def dicom_json(
    request: HttpRequest,
    document: Any,
    *,
    status: int = 200,
    etag: str | None = None,
    cache_control: str = REVALIDATE,
) -> HttpResponse:
    """`document` (a DICOM JSON array or object) as application/dicom+json."""
    body = json.dumps(document, separators=(",", ":")).encode()
    return json_bytes(request, body, status=status, etag=etag, cache_control=cache_control)


def json_bytes(
    request: HttpRequest,
    body: bytes | Callable[[], bytes],
    *,
    status: int = 200,
    etag: str | None = None,
    cache_control: str = REVALIDATE,
    gzipped: bytes | None = None,
) -> HttpResponse:
    """Serialised JSON, gzip-encoded when the client accepts it.

    `body` may be a function, called only if the uncompressed body is needed: not for a 304,
    nor when `gzipped` (a ready-made compression of it) is sent as is.
    """
    vary = ("Accept", "Accept-Encoding")
    accepted = accepts_gzip(request.headers.get("Accept-Encoding"))
    if etag is not None:
        # Each content coding is its own representation, with its own strong ETag; with an
        # ETag the body is compressed whenever the client accepts it, so the two agree.
        etag = etag[:-1] + '-gzip"' if accepted else etag
        if is_fresh(request, etag):
            response = not_modified(etag, cache_control, vary)
            assert isinstance(response, HttpResponse)
            return response
    if accepted and gzipped is not None:
        content, encoded = gzipped, True
    else:
        raw = body() if callable(body) else body
        encoded = accepted and (etag is not None or len(raw) >= GZIP_MIN_BYTES)
        content = gzip.compress(raw, 6, mtime=0) if encoded else raw
    response = HttpResponse(content, content_type=DICOM_JSON, status=status)
    if encoded:
        response["Content-Encoding"] = "gzip"
    response["Content-Length"] = str(len(content))
    response["Cache-Control"] = cache_control
    patch_vary_headers(response, vary)
    if etag is not None:
        response["ETag"] = etag
    return response
