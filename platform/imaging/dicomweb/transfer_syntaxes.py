"""Transfer syntaxes and the media types that carry their frames (PS3.18 Table 8.7.3-5)."""

EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"
OCTET_STREAM = "application/octet-stream"

# Native pixel data in these syntaxes is already the little-endian bytes a client asks for
# with application/octet-stream: frames are served straight from the stored file.
RAW_LITTLE_ENDIAN = frozenset({EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN})

# Media type of a frame in each encapsulated syntax; the first name is the one we send.
# RLE keeps the older x- name first because that is what Cornerstone and dicomweb-client list.
_FRAME_MEDIA_TYPES: dict[str, tuple[str, ...]] = {
    "1.2.840.10008.1.2.5": ("image/x-dicom-rle", "image/dicom-rle"),
    "1.2.840.10008.1.2.4.50": ("image/jpeg",),
    "1.2.840.10008.1.2.4.51": ("image/jpeg",),
    "1.2.840.10008.1.2.4.57": ("image/jpeg",),
    "1.2.840.10008.1.2.4.70": ("image/jpeg",),
    "1.2.840.10008.1.2.4.80": ("image/jls", "image/x-jls"),
    "1.2.840.10008.1.2.4.81": ("image/jls", "image/x-jls"),
    "1.2.840.10008.1.2.4.90": ("image/jp2",),
    "1.2.840.10008.1.2.4.91": ("image/jp2",),
    "1.2.840.10008.1.2.4.92": ("image/jpx",),
    "1.2.840.10008.1.2.4.93": ("image/jpx",),
    "1.2.840.10008.1.2.4.201": ("image/jphc",),
    "1.2.840.10008.1.2.4.202": ("image/jphc",),
    "1.2.840.10008.1.2.4.203": ("image/jphc",),
}

# The transfer syntax a media type means when the request names none (PS3.18 8.7.3.5.2).
DEFAULT_FOR_MEDIA_TYPE: dict[str, str] = {
    OCTET_STREAM: EXPLICIT_VR_LITTLE_ENDIAN,
    "image/x-dicom-rle": "1.2.840.10008.1.2.5",
    "image/dicom-rle": "1.2.840.10008.1.2.5",
    "image/jpeg": "1.2.840.10008.1.2.4.50",
    "image/jls": "1.2.840.10008.1.2.4.80",
    "image/x-jls": "1.2.840.10008.1.2.4.80",
    "image/jp2": "1.2.840.10008.1.2.4.90",
    "image/jpx": "1.2.840.10008.1.2.4.92",
    "image/jphc": "1.2.840.10008.1.2.4.201",
}


def frame_media_types(transfer_syntax_uid: str) -> tuple[str, ...]:
    """The media types a frame stored in this syntax may be sent as, without re-encoding."""
    return _FRAME_MEDIA_TYPES.get(transfer_syntax_uid, (OCTET_STREAM,))


def is_raw_little_endian(transfer_syntax_uid: str) -> bool:
    return transfer_syntax_uid in RAW_LITTLE_ENDIAN
