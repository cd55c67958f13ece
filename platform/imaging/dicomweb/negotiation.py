"""Accept and Accept-Encoding negotiation for DICOMweb responses (PS3.18 8.7).

Clients differ in what they ask for: Cornerstone sends
`multipart/related; type=application/octet-stream; transfer-syntax=*` for frames,
dicomweb-client sends `multipart/related; type="*/*"`, OHIF may name a compressed syntax. Each
function here turns the header into the one representation we will send, or NotAcceptable.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from imaging.dicomweb.errors import NotAcceptable
from imaging.dicomweb.transfer_syntaxes import (
    DEFAULT_FOR_MEDIA_TYPE,
    EXPLICIT_VR_LITTLE_ENDIAN,
    OCTET_STREAM,
    frame_media_types,
    is_raw_little_endian,
)

MULTIPART = "multipart/related"
DICOM = "application/dicom"
ANY = "*/*"
JSON_TYPES = frozenset({"application/dicom+json", "application/json", "application/*", ANY})
RENDERED_TYPES = ("image/jpeg", "image/png")


@dataclass(frozen=True, slots=True)
class MediaRange:
    media_type: str  # lower case "type/subtype"
    params: Mapping[str, str]  # lower-case names, unquoted values
    q: float = 1.0

    @property
    def part_type(self) -> str:
        """The `type` of a multipart/related range (any type when it names none)."""
        return self.params.get("type", ANY).lower()

    @property
    def transfer_syntax(self) -> str | None:
        return self.params.get("transfer-syntax")


@dataclass(frozen=True, slots=True)
class FrameEncoding:
    transfer_syntax_uid: str
    media_type: str
    decode: bool  # decode the stored frame and send explicit VR little endian bytes

    @property
    def part_type(self) -> str:
        """The Content-Type of a part holding one frame so encoded."""
        return f"{self.media_type}; transfer-syntax={self.transfer_syntax_uid}"


def _split(text: str, separator: str) -> list[str]:
    """Split on `separator` outside double quotes."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def parse_media_type(value: str) -> MediaRange:
    """One media type with its parameters, e.g. a Content-Type header."""
    media_type, *raw_params = _split(value, ";") or [""]
    params: dict[str, str] = {}
    q = 1.0
    for raw in raw_params:
        name, _, param = raw.partition("=")
        name, param = name.strip().lower(), param.strip().strip('"')
        if name == "q":
            try:
                q = float(param)
            except ValueError:
                q = 0.0
        elif name:
            params[name] = param
    return MediaRange(media_type.strip().lower(), params, q)


def parse_accept(header: str | None) -> list[MediaRange]:
    """The acceptable ranges, most preferred first; no header means anything."""
    if not header or not header.strip():
        return [MediaRange(ANY, {})]
    ranges = [parse_media_type(item) for item in _split(header, ",")]
    # sorted() is stable: equal q keeps the client's order.
    return sorted((r for r in ranges if r.q > 0), key=lambda r: -r.q)


def accepts_gzip(header: str | None) -> bool:
    """Whether Accept-Encoding allows gzip (RFC 9110 12.5.3, q=0 means "not this one")."""
    if not header:
        return False
    codings: dict[str, float] = {}
    for item in _split(header, ","):
        ranged = parse_media_type(item)
        codings[ranged.media_type] = ranged.q
    if "gzip" in codings:
        return codings["gzip"] > 0
    if "x-gzip" in codings:
        return codings["x-gzip"] > 0
    return codings.get("*", 0) > 0


def require_json(header: str | None) -> None:
    """DICOM JSON is our only metadata and search representation (no XML)."""
    for accepted in parse_accept(header):
        if accepted.media_type in JSON_TYPES:
            return
    raise NotAcceptable("this resource is available as application/dicom+json only")


def frame_encoding(header: str | None, stored_syntax: str) -> FrameEncoding:
    """How to send frames stored in `stored_syntax`, given the client's Accept header."""
    for accepted in parse_accept(header):
        if accepted.media_type == ANY:
            return _as_stored(stored_syntax)
        if accepted.media_type == MULTIPART:
            encoding = _frame_option(accepted.part_type, accepted.transfer_syntax, stored_syntax)
            if encoding is not None:
                return encoding
    offered = ", ".join(_offered(stored_syntax))
    raise NotAcceptable(
        f"frames of this instance are available as multipart/related with type {offered}"
    )


def _as_stored(stored_syntax: str) -> FrameEncoding:
    return FrameEncoding(stored_syntax, frame_media_types(stored_syntax)[0], decode=False)


def _native(stored_syntax: str) -> FrameEncoding:
    decode = not is_raw_little_endian(stored_syntax)
    return FrameEncoding(EXPLICIT_VR_LITTLE_ENDIAN, OCTET_STREAM, decode=decode)


def _frame_option(part_type: str, transfer_syntax: str | None, stored: str) -> FrameEncoding | None:
    stored_types = frame_media_types(stored)
    if part_type in (ANY, "*"):
        if transfer_syntax in (None, "*", stored):
            return _as_stored(stored)
        return _native(stored) if transfer_syntax == EXPLICIT_VR_LITTLE_ENDIAN else None
    if part_type == OCTET_STREAM:
        # transfer-syntax=* means "as stored, whatever it is": Cornerstone then decodes what the
        # part's Content-Type names, compressed or not.
        if transfer_syntax == "*" or (transfer_syntax == stored and OCTET_STREAM in stored_types):
            return _as_stored(stored)
        if transfer_syntax in (None, EXPLICIT_VR_LITTLE_ENDIAN):
            return _native(stored)
        return None
    wanted_types = stored_types if part_type == "image/*" else (part_type,)
    if not any(t in stored_types for t in wanted_types) or OCTET_STREAM in wanted_types:
        return None  # we never re-encode into a compressed syntax
    media_type = next(t for t in wanted_types if t in stored_types)
    if transfer_syntax == "*" or transfer_syntax == stored:
        return FrameEncoding(stored, media_type, decode=False)
    if transfer_syntax is None and DEFAULT_FOR_MEDIA_TYPE.get(media_type) == stored:
        return FrameEncoding(stored, media_type, decode=False)
    return None


def _offered(stored_syntax: str) -> Iterable[str]:
    if OCTET_STREAM not in frame_media_types(stored_syntax):
        yield f'"{frame_media_types(stored_syntax)[0]}" (transfer-syntax={stored_syntax})'
    yield f'"{OCTET_STREAM}" (transfer-syntax={EXPLICIT_VR_LITTLE_ENDIAN})'


def instance_syntax(header: str | None, stored_syntax: str) -> str:
    """The transfer syntax to send a stored instance in: as stored, or explicit VR LE.

    A request that names no transfer syntax gets the file as stored: we are the archive of
    those bytes, and re-encoding a compressed series on every retrieve would be costly.
    """
    for accepted in parse_accept(header):
        if accepted.media_type == ANY:
            return stored_syntax
        if accepted.media_type != MULTIPART or accepted.part_type not in (DICOM, ANY, "*"):
            continue
        if accepted.transfer_syntax in (None, "*", stored_syntax):
            return stored_syntax
        if accepted.transfer_syntax == EXPLICIT_VR_LITTLE_ENDIAN:
            return EXPLICIT_VR_LITTLE_ENDIAN
    raise NotAcceptable(
        f'instances are available as multipart/related; type="{DICOM}" with transfer-syntax '
        f"{stored_syntax} or {EXPLICIT_VR_LITTLE_ENDIAN}"
    )


def rendered_type(header: str | None) -> str:
    """image/jpeg unless the client prefers PNG."""
    for accepted in parse_accept(header):
        if accepted.media_type in (ANY, "image/*"):
            return RENDERED_TYPES[0]
        if accepted.media_type in RENDERED_TYPES:
            return accepted.media_type
    raise NotAcceptable("rendered images are available as image/jpeg or image/png")
