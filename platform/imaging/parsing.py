"""Reading one received file into a validated DICOM dataset, refusing anything unsafe or broken.

Every refusal is an InvalidDicom whose message a person can act on. Nothing here writes.
"""

import contextlib
import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import pydicom
from django.conf import settings
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
)

from imaging.structure import MalformedStructure, PixelDataLocation, meta_end, meta_value, scan

# pydicom checks every value it reads against its VR only to warn, never to refuse: this module
# refuses what matters (UIDs, the pixel module, the structure) itself, and skipping the warnings
# saves ~10% of the CPU of ingesting a CT slice.
pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE

# PS3.5 9.1: components of digits, no leading zeros (except "0"), at most 64 characters.
UID_PATTERN = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
PIXEL_DATA_TAG = 0x7FE00010
TRANSFER_SYNTAX_TAG = 0x00020010
REQUIRED_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID")


class InvalidDicom(MalformedStructure):
    """Why a file is not accepted as a DICOM instance."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What a received file may claim. Passed along rather than read from settings where the
    parsing runs, so that a parse in another process (ingest_pool) applies the caller's limits."""

    max_instance_bytes: int
    max_rows_columns: int
    max_frames: int
    max_sequence_depth: int

    @classmethod
    def from_settings(cls) -> "Limits":
        return cls(
            max_instance_bytes=settings.DICOM_MAX_INSTANCE_BYTES,
            max_rows_columns=settings.DICOM_MAX_ROWS_COLUMNS,
            max_frames=settings.DICOM_MAX_FRAMES,
            max_sequence_depth=settings.DICOM_MAX_SEQUENCE_DEPTH,
        )


@dataclass(frozen=True, slots=True)
class ParsedInstance:
    dataset: FileDataset
    transfer_syntax: UID
    # The bytes to hash and, with de-identification off, to store: as received, except that a
    # deflated file is stored inflated (frames must be addressable by byte offset).
    data: bytes
    # Where PixelData is in `data` (None: no pixel data), from the structural scan.
    pixel_data: PixelDataLocation | None


def is_valid_uid(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 64 and bool(UID_PATTERN.match(value))


def parse_instance(
    data: bytes, limits: Limits | None = None, *, read_every_value: bool = True
) -> ParsedInstance:
    """Parse and validate a DICOM Part 10 file; raises InvalidDicom naming the first problem.

    Without `read_every_value` the values not checked here are left for the caller to read
    (and so check) under `reading_values()`, as building the instance's DICOM JSON does.
    """
    limits = limits or Limits.from_settings()
    limit = limits.max_instance_bytes
    if len(data) > limit:
        raise InvalidDicom(f"file is {len(data)} bytes, over the {limit}-byte limit")
    if len(data) < 132 or data[128:132] != b"DICM":
        raise InvalidDicom("not a DICOM Part 10 file: no 'DICM' file header")
    transfer_syntax = _transfer_syntax(data)
    if transfer_syntax == DeflatedExplicitVRLittleEndian:
        data = _inflated(data, limit)
        transfer_syntax = UID(ExplicitVRLittleEndian)
    pixel_data = locate_pixel_data(data, transfer_syntax, limits.max_sequence_depth)
    dataset = _read(data, read_every_value)
    with reading_values():
        _check_uids(dataset)
        _check_pixel_module(dataset, transfer_syntax, pixel_data, limits)
    return ParsedInstance(
        dataset=dataset, transfer_syntax=transfer_syntax, data=data, pixel_data=pixel_data
    )


def locate_pixel_data(
    data: bytes, transfer_syntax: UID, max_depth: int | None = None
) -> PixelDataLocation | None:
    """Scan the structure (raises InvalidDicom when truncated or nested too deep)."""
    try:
        return scan(
            data,
            meta_end(data),
            explicit=not transfer_syntax.is_implicit_VR,
            max_depth=settings.DICOM_MAX_SEQUENCE_DEPTH if max_depth is None else max_depth,
        )
    except MalformedStructure as error:
        raise InvalidDicom(error.detail) from None


def _file_meta(data: bytes) -> FileMetaDataset:
    """The file meta group alone, read without touching the data set after it."""
    try:
        meta_only = data[: meta_end(data)]
        return pydicom.dcmread(io.BytesIO(meta_only)).file_meta
    except MalformedStructure as error:
        raise InvalidDicom(error.detail) from None
    except Exception as error:  # pydicom raises many types for a malformed header
        raise InvalidDicom(
            f"file meta information is unreadable ({type(error).__name__})"
        ) from None


def _transfer_syntax(data: bytes) -> UID:
    try:
        raw = meta_value(data, TRANSFER_SYNTAX_TAG)
    except MalformedStructure as error:
        raise InvalidDicom(error.detail) from None
    # Read by pydicom only where the quick read found nothing: its errors say what is wrong.
    value = _file_meta(data).get("TransferSyntaxUID") if raw is None else _ui(raw)
    if not is_valid_uid(str(value or "")):
        raise InvalidDicom("file meta has no valid TransferSyntaxUID")
    syntax = UID(str(value))
    if syntax == ExplicitVRBigEndian:
        raise InvalidDicom("Explicit VR Big Endian is retired and not accepted; send little endian")
    if not syntax.is_transfer_syntax:
        raise InvalidDicom(f"transfer syntax {syntax} is not one this server knows")
    return syntax


def _ui(raw: bytes) -> str:
    return raw.decode("ascii", "replace").rstrip("\0 ")


@contextlib.contextmanager
def reading_values() -> Iterator[None]:
    """Around code that reads a dataset's values: pydicom converts a value when it is first
    read, and raises many types for a malformed one."""
    try:
        yield
    except InvalidDicom:
        raise
    except RecursionError:
        raise InvalidDicom("sequences are nested too deeply to read") from None
    except Exception as error:
        raise InvalidDicom(f"file is malformed ({type(error).__name__})") from None


def _read(data: bytes, read_every_value: bool) -> FileDataset:
    try:
        dataset = pydicom.dcmread(io.BytesIO(data))
    except InvalidDicomError as error:
        raise InvalidDicom(f"not a DICOM file: {error}") from None
    except Exception as error:  # pydicom raises many types for a malformed file
        raise InvalidDicom(f"file is malformed ({type(error).__name__})") from None
    if not isinstance(dataset, FileDataset):
        raise InvalidDicom("not a DICOM Part 10 file")
    if read_every_value:  # so that a malformed value fails here, not when it is served
        with reading_values():
            for element in dataset.iterall():
                element.value  # noqa: B018 - reading the value is the point
    return dataset


def _inflated(data: bytes, limit: int) -> bytes:
    """Re-encode a deflated file as explicit VR little endian, refusing a deflate bomb."""
    start = meta_end(data)
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        body = inflater.decompress(data[start:], limit + 1)
    except zlib.error:
        raise InvalidDicom("deflated data set is corrupt") from None
    if len(body) > limit or inflater.unconsumed_tail:
        raise InvalidDicom(f"deflated data set inflates past the {limit}-byte limit")
    meta = _file_meta(data)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    out = DicomBytesIO()
    out.write(b"\0" * 128 + b"DICM")
    write_file_meta_info(out, meta, enforce_standard=True)
    return out.getvalue() + body


def _check_uids(dataset: Dataset) -> None:
    for keyword in REQUIRED_UIDS:
        value = dataset.get(keyword)
        if value is None or value == "":
            raise InvalidDicom(f"{keyword} is missing")
        if not is_valid_uid(str(value)):
            raise InvalidDicom(f"{keyword} is not a valid UID")
    meta_sop = dataset.file_meta.get("MediaStorageSOPInstanceUID")
    if meta_sop and meta_sop != dataset.SOPInstanceUID:
        raise InvalidDicom("MediaStorageSOPInstanceUID differs from SOPInstanceUID")


def _check_pixel_module(
    dataset: Dataset, transfer_syntax: UID, pixel_data: PixelDataLocation | None, limits: Limits
) -> None:
    if pixel_data is None:
        return  # e.g. a structured report or a presentation state: nothing to check
    rows, columns = dataset.get("Rows"), dataset.get("Columns")
    bits_allocated, bits_stored = dataset.get("BitsAllocated"), dataset.get("BitsStored")
    samples = dataset.get("SamplesPerPixel", 1)
    if not all(isinstance(v, int) for v in (rows, columns, bits_allocated, bits_stored, samples)):
        raise InvalidDicom("pixel data without Rows, Columns, BitsAllocated and BitsStored")
    assert isinstance(rows, int) and isinstance(columns, int)
    assert isinstance(bits_allocated, int) and isinstance(bits_stored, int)
    assert isinstance(samples, int)
    limit = limits.max_rows_columns
    if not (0 < rows <= limit and 0 < columns <= limit):
        raise InvalidDicom(f"image is {rows}x{columns}; rows and columns must be 1-{limit}")
    if bits_allocated not in (1, 8, 16, 32, 64):
        raise InvalidDicom(f"BitsAllocated {bits_allocated} is not 1, 8, 16, 32 or 64")
    if not 0 < bits_stored <= bits_allocated:
        raise InvalidDicom(
            f"BitsStored ({bits_stored}) must be between 1 and BitsAllocated ({bits_allocated})"
        )
    if samples not in (1, 3):
        raise InvalidDicom(f"SamplesPerPixel {samples} is not 1 or 3")
    frames = number_of_frames(dataset)
    if not 0 < frames <= limits.max_frames:
        raise InvalidDicom(f"NumberOfFrames {frames} is out of range")
    if transfer_syntax.is_encapsulated:
        if pixel_data.length is not None:
            raise InvalidDicom("compressed pixel data must be encapsulated (undefined length)")
        return  # fragments are grouped into frames when the frame index is built
    if pixel_data.length is None:
        raise InvalidDicom("uncompressed pixel data cannot be encapsulated")
    expected = (rows * columns * samples * bits_allocated * frames + 7) // 8
    # The value is padded to an even length when the pixel bytes are odd.
    if pixel_data.length not in (expected, expected + (expected % 2)):
        raise InvalidDicom(
            f"pixel data is {pixel_data.length} bytes but Rows, Columns, BitsAllocated, "
            f"SamplesPerPixel and NumberOfFrames call for {expected}"
        )


def number_of_frames(dataset: Dataset) -> int:
    value = dataset.get("NumberOfFrames", 1)
    try:
        return int(value) if value not in (None, "") else 1
    except (TypeError, ValueError):
        raise InvalidDicom("NumberOfFrames is not a number") from None
