"""Where each frame's bytes are in a stored Part 10 file, found once at ingest.

WADO-RS frame requests then seek and read those ranges: no DICOM parsing per request.
"""

import struct

from pydicom.uid import UID

from imaging.parsing import InvalidDicom, locate_pixel_data
from imaging.structure import PixelDataLocation

ITEM = 0xFFFEE000
SEQUENCE_DELIMITER = 0xFFFEE0DD
UNDEFINED_LENGTH = 0xFFFFFFFF
ByteRange = list[int]  # [offset, length]


def frame_index(
    data: bytes, transfer_syntax: UID, frames: int, frame_bytes: int
) -> list[list[ByteRange]]:
    """Byte ranges of each frame: one range per native frame, the fragments of an encapsulated one.

    `frame_bytes` is the size of one native frame (ignored for encapsulated pixel data).
    Returns [] when the file has no pixel data.
    """
    return frame_ranges(data, locate_pixel_data(data, transfer_syntax), frames, frame_bytes)


def frame_ranges(
    data: bytes, location: PixelDataLocation | None, frames: int, frame_bytes: int
) -> list[list[ByteRange]]:
    """frame_index for a file whose pixel data has already been located by a scan of `data`."""
    if location is None:
        return []
    if location.length is not None:
        if frames * frame_bytes > location.length:
            raise InvalidDicom("pixel data is shorter than its frames")
        start = location.value_offset
        return [[[start + i * frame_bytes, frame_bytes]] for i in range(frames)]
    return _encapsulated(data, location.value_offset, frames)


def _encapsulated(data: bytes, offset: int, frames: int) -> list[list[ByteRange]]:
    """Fragments after the basic offset table, grouped into frames (PS3.5 A.4)."""
    items: list[ByteRange] = []
    position = offset
    while True:
        if position + 8 > len(data):
            raise InvalidDicom("encapsulated pixel data ends without a sequence delimiter")
        tag_group, tag_element, length = struct.unpack("<HHI", data[position : position + 8])
        tag = (tag_group << 16) | tag_element
        position += 8
        if tag == SEQUENCE_DELIMITER:
            break
        if tag != ITEM or length == UNDEFINED_LENGTH or position + length > len(data):
            raise InvalidDicom("encapsulated pixel data has a malformed fragment")
        items.append([position, length])
        position += length
    if not items:
        raise InvalidDicom("encapsulated pixel data has no basic offset table")
    offset_table, fragments = items[0], items[1:]
    if not fragments:
        raise InvalidDicom("encapsulated pixel data has no fragments")
    if frames == 1:
        return [fragments]
    if len(fragments) == frames:
        return [[fragment] for fragment in fragments]
    if offset_table[1] >= 4 * frames:
        return _by_offset_table(data, offset_table, fragments, frames)
    raise InvalidDicom(
        f"{len(fragments)} fragments for {frames} frames and no basic offset table to split them"
    )


def _by_offset_table(
    data: bytes, offset_table: ByteRange, fragments: list[ByteRange], frames: int
) -> list[list[ByteRange]]:
    table_start = offset_table[0]
    starts = struct.unpack(f"<{frames}I", data[table_start : table_start + 4 * frames])
    first_item = fragments[0][0] - 8  # offsets count from the first fragment's item tag
    grouped: list[list[ByteRange]] = [[] for _ in range(frames)]
    for fragment in fragments:
        relative = fragment[0] - 8 - first_item
        frame = max(i for i, start in enumerate(starts) if start <= relative)
        grouped[frame].append(fragment)
    if any(not group for group in grouped):
        raise InvalidDicom("basic offset table points at frames with no fragments")
    return grouped
