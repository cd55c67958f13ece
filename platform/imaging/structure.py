"""A structural scan of a DICOM data set's bytes, before any library parses it.

pydicom reads truncated files without complaint and parses nesting recursively; this scan walks
the element headers only, so a value that runs past the end of the file, trailing garbage or a
sequence nested absurdly deep is refused up front, and the offset of the pixel data is known.
"""

import struct
from dataclasses import dataclass

from pydicom.datadict import dictionary_VR

from config.errors import PlatformError

UNDEFINED = 0xFFFFFFFF
ITEM, ITEM_END, SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
PIXEL_DATA = 0x7FE00010
LONG_VRS = {
    b"OB",
    b"OD",
    b"OF",
    b"OL",
    b"OV",
    b"OW",
    b"SQ",
    b"SV",
    b"UC",
    b"UN",
    b"UR",
    b"UT",
    b"UV",
}


class MalformedStructure(PlatformError):
    code = "invalid_dicom"


@dataclass(frozen=True, slots=True)
class PixelDataLocation:
    value_offset: int
    length: int | None  # None: undefined length (encapsulated fragments follow)


class _Scanner:
    def __init__(self, data: bytes, explicit: bool, max_depth: int) -> None:
        self.data = data
        self.explicit = explicit
        self.max_depth = max_depth
        self.pixel_data: PixelDataLocation | None = None

    def dataset(self, position: int, end: int, depth: int) -> int:
        """Scan elements from `position` until `end` (or an item delimiter when end is None)."""
        while position < end:
            if depth == 0 and self.data[position] == 0 and self._only_zeros_from(position):
                return len(self.data)  # zero padding after the last element is harmless
            tag, vr, length, value = self._header(position)
            if tag == ITEM_END:
                return value  # undefined-length item ends here
            if depth == 0 and tag == PIXEL_DATA:
                self.pixel_data = PixelDataLocation(value, None if length == UNDEFINED else length)
            if length == UNDEFINED:
                position = self._undefined(tag, vr, value, depth)
            else:
                if value + length > len(self.data):
                    raise MalformedStructure(
                        f"file is truncated: element ({tag >> 16:04X},{tag & 0xFFFF:04X}) "
                        "runs past the end of the file"
                    )
                if self._is_sequence(tag, vr) and length:
                    self._items(value, value + length, depth + 1)
                position = value + length
        return position

    def _only_zeros_from(self, position: int) -> bool:
        # Counted in place: slicing would copy the rest of the file for every element.
        return self.data.count(0, position) == len(self.data) - position

    def _header(self, position: int) -> tuple[int, bytes, int, int]:
        if position + 8 > len(self.data):
            raise MalformedStructure("file is truncated inside an element header")
        group, element = struct.unpack_from("<HH", self.data, position)
        tag = (group << 16) | element
        if group == 0xFFFE or not self.explicit:
            (length,) = struct.unpack_from("<I", self.data, position + 4)
            return tag, b"", length, position + 8
        vr = self.data[position + 4 : position + 6]
        if vr in LONG_VRS:
            if position + 12 > len(self.data):
                raise MalformedStructure("file is truncated inside an element header")
            (length,) = struct.unpack_from("<I", self.data, position + 8)
            return tag, vr, length, position + 12
        (length,) = struct.unpack_from("<H", self.data, position + 6)
        return tag, vr, length, position + 8

    def _is_sequence(self, tag: int, vr: bytes) -> bool:
        if self.explicit:
            return vr == b"SQ"
        try:
            return dictionary_VR(tag) == "SQ"
        except KeyError:
            return False

    def _undefined(self, tag: int, vr: bytes, position: int, depth: int) -> int:
        if tag == PIXEL_DATA:
            return self._fragments(position)
        return self._items(position, None, depth + 1)

    def _items(self, position: int, end: int | None, depth: int) -> int:
        """Scan sequence items; `end` None means undefined length, closed by a delimiter."""
        if depth > self.max_depth:
            raise MalformedStructure(f"sequences are nested more than {self.max_depth} levels deep")
        while end is None or position < end:
            tag, _, length, value = self._header(position)
            if tag == SEQUENCE_END:
                return value
            if tag != ITEM:
                raise MalformedStructure("a sequence holds something other than items")
            if length == UNDEFINED:
                position = self.dataset(value, len(self.data), depth)
            else:
                if value + length > len(self.data):
                    raise MalformedStructure("file is truncated inside a sequence item")
                self.dataset(value, value + length, depth)
                position = value + length
        if end is None:
            raise MalformedStructure("file is truncated inside a sequence")
        return position

    def _fragments(self, position: int) -> int:
        while True:
            tag, _, length, value = self._header(position)
            if tag == SEQUENCE_END:
                return value
            if tag != ITEM or length == UNDEFINED or value + length > len(self.data):
                raise MalformedStructure("encapsulated pixel data is truncated or malformed")
            position = value + length


def meta_end(data: bytes) -> int:
    """Offset of the first data set byte after the preamble, "DICM" and the file meta group."""
    # (0002,0000) UL group length: tag(4) VR(2) length(2) value(4) right after "DICM".
    if data[132:136] != b"\x02\x00\x00\x00" or len(data) < 144:
        raise MalformedStructure("file meta does not start with its group length")
    return 144 + int.from_bytes(data[140:144], "little")


def meta_value(data: bytes, tag: int) -> bytes | None:
    """The value of one element of the file meta group (always explicit VR little endian),
    read straight from its bytes; None where it is missing or the group is not well formed."""
    end, position = meta_end(data), 144
    while position + 8 <= end:
        group, element = struct.unpack_from("<HH", data, position)
        if data[position + 4 : position + 6] in LONG_VRS:
            length, position = struct.unpack_from("<I", data, position + 8)[0], position + 12
        else:
            length, position = struct.unpack_from("<H", data, position + 6)[0], position + 8
        if position + length > end:
            return None
        if (group << 16) | element == tag:
            return data[position : position + length]
        position += length
    return None


def scan(data: bytes, start: int, *, explicit: bool, max_depth: int) -> PixelDataLocation | None:
    """Check the data set from `start` to the end of `data`; return where PixelData is."""
    scanner = _Scanner(data, explicit, max_depth)
    end = scanner.dataset(start, len(data), 0)
    if end != len(data):
        raise MalformedStructure("file has bytes after its last element")
    return scanner.pixel_data
