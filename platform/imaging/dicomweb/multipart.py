"""multipart/related bodies (RFC 2387): written as a stream for WADO-RS, read from a spooled
file for STOW-RS.

Reading works on a file, not on bytes in memory: a STOW body of a whole CT series is tens or
hundreds of megabytes, and only one part at a time needs to be in memory.
"""

import hashlib
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO

from config.errors import PlatformError

CRLF = b"\r\n"
SCAN_CHUNK = 1 << 20
MAX_PART_HEADER_BYTES = 16 * 1024


class MalformedMultipart(PlatformError):
    code = "malformed_multipart"


# --- writing -------------------------------------------------------------------------------


def boundary_for(seed: str) -> str:
    """A boundary derived from the response's ETag, so the same request gets the same bytes."""
    return "noduleflow-" + hashlib.sha256(seed.encode()).hexdigest()[:32]


def content_type(part_type: str, boundary: str) -> str:
    return f'multipart/related; type="{part_type}"; boundary={boundary}'


Headers = Sequence[tuple[str, str]]


def _part_head(index: int, headers: Headers, boundary: str) -> bytes:
    lines = [f"--{boundary}".encode()]
    lines += [f"{name}: {value}".encode() for name, value in headers]
    return (CRLF if index else b"") + CRLF.join(lines) + CRLF * 2


def _close(boundary: str) -> bytes:
    return CRLF + f"--{boundary}--".encode() + CRLF


def encode(parts: Iterable[tuple[str, Iterable[bytes]]], boundary: str) -> Iterator[bytes]:
    """The body, chunk by chunk: each part is (Content-Type, chunks of its content)."""
    return encode_with_headers(
        ((_typed(part_type), chunks) for part_type, chunks in parts), boundary
    )


def encoded_length(parts: Iterable[tuple[str, int]], boundary: str) -> int:
    """The length of encode()'s body for parts of (Content-Type, content length)."""
    return encoded_length_with_headers(
        ((_typed(part_type), size) for part_type, size in parts), boundary
    )


def encode_with_headers(
    parts: Iterable[tuple[Headers, Iterable[bytes]]], boundary: str
) -> Iterator[bytes]:
    """As encode(), each part with its own header fields (Content-Type first, by convention)."""
    for index, (headers, chunks) in enumerate(parts):
        yield _part_head(index, headers, boundary)
        yield from chunks
    yield _close(boundary)


def encoded_length_with_headers(parts: Iterable[tuple[Headers, int]], boundary: str) -> int:
    total = len(_close(boundary))
    for index, (headers, size) in enumerate(parts):
        total += len(_part_head(index, headers, boundary)) + size
    return total


def _typed(part_type: str) -> Headers:
    return (("Content-Type", part_type),)


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Part:
    content_type: str | None
    start: int  # offset of the first content byte in the body
    end: int  # offset just past the last content byte

    def read(self, body: IO[bytes]) -> bytes:
        body.seek(self.start)
        return body.read(self.end - self.start)


def find_parts(
    body: IO[bytes], boundary: str, candidates: Sequence[int] | None = None
) -> list[Part]:
    """The parts of a multipart body held in a seekable file (MalformedMultipart if broken).

    `candidates`: where the boundary string is, if known (ArrivingParts), else scanned for.
    """
    if not boundary or len(boundary) > 70:
        raise MalformedMultipart("multipart boundary is missing or longer than 70 characters")
    dash_boundary = b"--" + boundary.encode("latin-1")
    if candidates is None:  # collected first: checking a candidate seeks the file
        candidates = _candidates(body, boundary)
    starts = [p for p in candidates if _is_delimiter(body, p + len(dash_boundary))]
    parts: list[Part] = []
    for here, after in itertools.pairwise(starts):
        if _is_close(body, here, len(dash_boundary)):
            return parts
        parts.append(_part(body, here + len(dash_boundary), after))
    if not starts or not _is_close(body, starts[-1], len(dash_boundary)):
        raise MalformedMultipart("multipart body does not end with its closing boundary")
    return parts


class ArrivingParts:
    """Scans a multipart body while it is still being written to `body`: collects where each
    boundary string is (`candidates`, for find_parts), and passes each part whose next
    delimiter has arrived to `on_part` (numbered from 1). Those parts are a hint for starting
    work early, nothing more: find_parts, once the whole body is there, is what counts (a
    boundary string inside a part's content may give a false part here).

    A candidate is each "--boundary" that starts the body or follows a CRLF: the body is
    scanned as if it began with CRLF, so a first delimiter without a preamble is found like any
    other; offsets point at the "--"."""

    def __init__(
        self, body: IO[bytes], boundary: str, on_part: Callable[[int, Part], None] | None
    ) -> None:
        self.body, self.on_part = body, on_part
        self.candidates: list[int] = []  # as _candidates finds them
        self.dash_boundary = b"--" + boundary.encode("latin-1")
        self.needle = CRLF + self.dash_boundary
        self.tail, self.tail_start = CRLF, -len(CRLF)  # as if the body began with CRLF
        self.previous: int | None = None  # offset of the last delimiter seen
        self.count = 0

    def arrived(self, chunk: bytes) -> None:
        """Call after writing `chunk` at the end of the body."""
        window = self.tail + chunk
        position = window.find(self.needle)
        while position >= 0:
            self._delimiter(self.tail_start + position + len(CRLF))
            position = window.find(self.needle, position + 1)
        keep = min(len(self.needle) - 1, len(window))
        self.tail_start += len(window) - keep
        self.tail = window[-keep:]

    def _delimiter(self, offset: int) -> None:
        self.candidates.append(offset)
        previous, self.previous = self.previous, offset
        if previous is None or self.on_part is None:
            return
        self.count += 1
        end = self.body.tell()
        try:
            part = _part(self.body, previous + len(self.dash_boundary), offset)
            self.on_part(self.count, part)
        except MalformedMultipart:
            pass  # find_parts will say so
        finally:
            self.body.seek(end)  # where the next chunk is written


def _candidates(body: IO[bytes], boundary: str) -> list[int]:
    """Where the boundary string is in a body that is already whole (see ArrivingParts)."""
    scan = ArrivingParts(body, boundary, None)  # without on_part it never reads `body`
    body.seek(0)
    while chunk := body.read(SCAN_CHUNK):
        scan.arrived(chunk)
    return scan.candidates


def _peek(body: IO[bytes], offset: int, size: int) -> bytes:
    body.seek(offset)
    return body.read(size)


def _is_close(body: IO[bytes], start: int, length: int) -> bool:
    return _peek(body, start + length, 2) == b"--"


def _is_delimiter(body: IO[bytes], after: int) -> bool:
    """A boundary match is a delimiter only if "--" or (white space and) CRLF follows it."""
    tail = _peek(body, after, 2 + 64)
    if tail.startswith(b"--"):
        return True
    return tail.lstrip(b" \t").startswith(CRLF)


def _part(body: IO[bytes], after_boundary: int, next_delimiter: int) -> Part:
    """The part between a delimiter (ending at `after_boundary`) and the next one."""
    # The next delimiter's match began with the CRLF that belongs to it, not to this part.
    end = next_delimiter - len(CRLF)
    head = _peek(body, after_boundary, min(MAX_PART_HEADER_BYTES, end - after_boundary))
    line_end = head.find(CRLF)
    headers_end = head.find(CRLF + CRLF, line_end)
    if line_end < 0 or headers_end < 0:
        raise MalformedMultipart("a multipart part has no blank line after its headers")
    content_type = None
    for line in head[line_end + 2 : headers_end].split(CRLF):
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-type":
            content_type = value.strip()
    return Part(content_type, after_boundary + headers_end + 4, end)
