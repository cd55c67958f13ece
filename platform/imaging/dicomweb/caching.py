"""ETags and Cache-Control for DICOMweb responses.

Stored instances never change (a changed instance is refused at ingest as a conflict), so
everything derived from one instance's bytes may be cached by the browser for good. The series
metadata does change when instances arrive: it is revalidated on each use, cheaply, by ETag.
"""

import hashlib

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.cache import patch_vary_headers

# "private": the responses hold patient data and depend on who asks; no shared cache may keep them.
IMMUTABLE = "private, max-age=31536000, immutable"
REVALIDATE = "private, no-cache"


def etag_of(*parts: object) -> str:
    """A quoted strong ETag for a representation identified by `parts`."""
    text = "\x1f".join(str(part) for part in parts)
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def is_fresh(request: HttpRequest, etag: str) -> bool:
    """Whether If-None-Match names `etag` (weak comparison, RFC 9110 13.1.2)."""
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    if header.strip() == "*":
        return True
    return _opaque(etag) in {_opaque(tag) for tag in header.split(",")}


def cached(
    response: HttpResponseBase, etag: str, cache_control: str, vary: tuple[str, ...] = ()
) -> HttpResponseBase:
    response["ETag"] = etag
    response["Cache-Control"] = cache_control
    if vary:
        patch_vary_headers(response, vary)
    return response


def not_modified(etag: str, cache_control: str, vary: tuple[str, ...] = ()) -> HttpResponseBase:
    return cached(HttpResponse(status=304), etag, cache_control, vary)
