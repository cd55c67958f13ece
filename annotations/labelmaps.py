"""The labelmap wire format (docs/labelmap-wire-format.md): encode, decode, check the grid.

Two compressions: 1 gzips every voxel; 2 gzips only the box around the non-zero voxels (the
header's "box"), everything outside it being 0, and its checksum covers the voxels in the box.
A nodule labelmap is mostly background, so 2 makes saving and loading a 35 MB volume a matter
of milliseconds; both are always read.
"""

import gzip
import hashlib
import json
import struct
import zlib
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from config.errors import PlatformError
from imaging.models import Instance, Series

if TYPE_CHECKING:
    from hashlib import _Hash as Hash

MAGIC = b"NFLM"
VERSION = 1
GZIP = 1
GZIP_BOX = 2
COMPRESSIONS = {GZIP: "gzip", GZIP_BOX: "gzip of the non-zero box"}
MAX_HEADER_BYTES = 64 * 1024
_CHUNK = 1024 * 1024  # inflate step in bytes


class InvalidLabelmap(PlatformError):
    code = "invalid_labelmap"


@dataclass(frozen=True, slots=True)
class LabelmapHeader:
    shape: tuple[int, int, int]
    spacing: tuple[float, ...]  # 3 numbers: slice, row, column
    origin: tuple[float, ...]  # 3 numbers: x, y, z of slice 0
    direction: tuple[float, ...]  # 9 numbers: row, column, normal
    series: str
    sha256: str = ""

    @property
    def voxel_count(self) -> int:
        return self.shape[0] * self.shape[1] * self.shape[2]


# [first slice, first row, first column, end slice, end row, end column], ends exclusive.
Box = tuple[int, int, int, int, int, int]


def nonzero_box(voxels: np.ndarray) -> Box:
    """The smallest box holding every non-zero voxel; all zeros is the empty box at 0."""
    bounds: list[tuple[int, int]] = []
    for axis in range(3):
        others = tuple(a for a in range(3) if a != axis)
        (present,) = np.nonzero(voxels.any(axis=others))
        if present.size == 0:
            return (0, 0, 0, 0, 0, 0)
        bounds.append((int(present[0]), int(present[-1]) + 1))
    (z0, z1), (y0, y1), (x0, x1) = bounds
    return (z0, y0, x0, z1, y1, x1)


@dataclass(frozen=True, slots=True)
class Labelmap:
    header: LabelmapHeader
    voxels: np.ndarray  # uint8, shape == header.shape


def encode(voxels: np.ndarray, header: LabelmapHeader) -> bytes:
    """The wire bytes of `voxels` (uint8, C order) under `header` (its sha256 is filled in)."""
    if voxels.dtype != np.uint8 or tuple(voxels.shape) != tuple(header.shape):
        raise InvalidLabelmap(f"voxels must be uint8 of shape {header.shape}")
    box = nonzero_box(voxels)
    z0, y0, x0, z1, y1, x1 = box
    inside = voxels[z0:z1, y0:y1, x0:x1].tobytes()  # C order, whatever the array's layout
    fields = asdict(header) | {"sha256": hashlib.sha256(inside).hexdigest(), "box": box}
    header_bytes = json.dumps(fields, separators=(",", ":")).encode()
    prefix = MAGIC + struct.pack("<BBI", VERSION, GZIP_BOX, len(header_bytes))
    return prefix + header_bytes + gzip.compress(inside, compresslevel=6, mtime=0)


def read_header(payload: bytes) -> LabelmapHeader:
    """Parse and check the header only (cheap: no decompression)."""
    return _read_header(payload)[0]


def _read_header(payload: bytes) -> tuple[LabelmapHeader, Box | None]:
    """The header, and the box of a box-compressed payload (None: every voxel is in the body)."""
    if len(payload) < 10 or payload[:4] != MAGIC:
        raise InvalidLabelmap("not a labelmap: the payload does not start with NFLM")
    version, compression, length = struct.unpack("<BBI", payload[4:10])
    if version != VERSION:
        raise InvalidLabelmap(f"labelmap version {version} is not supported (expected {VERSION})")
    if compression not in COMPRESSIONS:
        known = ", ".join(f"{code} = {name}" for code, name in COMPRESSIONS.items())
        raise InvalidLabelmap(f"labelmap compression {compression} is not supported ({known})")
    if length > MAX_HEADER_BYTES or 10 + length > len(payload):
        raise InvalidLabelmap("labelmap header length is out of range")
    try:
        fields = json.loads(payload[10 : 10 + length])
        header = LabelmapHeader(
            shape=_ints(fields["shape"], 3),
            spacing=_floats(fields["spacing"], 3),
            origin=_floats(fields["origin"], 3),
            direction=_floats(fields["direction"], 9),
            series=str(fields["series"]),
            sha256=str(fields["sha256"]),
        )
        box = _box(fields["box"], header.shape) if compression == GZIP_BOX else None
    except (ValueError, KeyError, TypeError) as error:
        raise InvalidLabelmap(f"labelmap header is malformed ({error})") from None
    if any(n <= 0 for n in header.shape):
        raise InvalidLabelmap("labelmap shape must be positive")
    return header, box


def _box(value: object, shape: tuple[int, int, int]) -> Box:
    if not isinstance(value, list) or len(value) != 6 or not all(type(v) is int for v in value):
        raise ValueError("box must be 6 integers")
    z0, y0, x0, z1, y1, x1 = value
    for start, end, size in ((z0, z1, shape[0]), (y0, y1, shape[1]), (x0, x1, shape[2])):
        if not 0 <= start <= end <= size:
            raise ValueError(f"box {value} does not fit the shape {list(shape)}")
    return (z0, y0, x0, z1, y1, x1)


def decode(payload: bytes, *, max_voxels: int) -> Labelmap:
    """Decode and verify a payload; the inflated size is bounded before inflating."""
    header, box, inflated = _verified(payload, max_voxels)
    if box is None:
        return Labelmap(header=header, voxels=inflated.reshape(header.shape))
    z0, y0, x0, z1, y1, x1 = box
    voxels = np.zeros(header.shape, dtype=np.uint8)
    voxels[z0:z1, y0:y1, x0:x1] = inflated.reshape(z1 - z0, y1 - y0, x1 - x0)
    return Labelmap(header=header, voxels=voxels)


def verify(payload: bytes, *, max_voxels: int) -> LabelmapHeader:
    """decode()'s checks without building the grid: a save stores the payload as it came."""
    header, _, _ = _verified(payload, max_voxels)
    return header


def _verified(payload: bytes, max_voxels: int) -> tuple[LabelmapHeader, Box | None, np.ndarray]:
    """The header, the box (None: every voxel is sent) and the voxels sent, checksum checked."""
    header, box = _read_header(payload)
    if header.voxel_count > max_voxels:
        raise InvalidLabelmap(f"labelmap has {header.voxel_count} voxels, over {max_voxels}")
    body = memoryview(payload)[10 + len(_header_bytes(payload)) :]
    if box is None:
        inflated, digest = _inflate(body, header.voxel_count, "shape")
    else:
        z0, y0, x0, z1, y1, x1 = box
        inflated, digest = _inflate(body, (z1 - z0) * (y1 - y0) * (x1 - x0), "box")
    if digest.hexdigest() != header.sha256:
        raise InvalidLabelmap("labelmap checksum does not match its voxels")
    return header, box, inflated


def _inflate(body: memoryview, count: int, extent: str) -> tuple[np.ndarray, "Hash"]:
    """Exactly `count` bytes out of a gzip body, refusing more or fewer (or a bomb).

    Inflated (and hashed) a chunk at a time, each chunk while it is still in the CPU cache,
    straight into the voxel array: no growing buffer, no second pass over 35 MB to hash it.
    """
    voxels = np.empty(count, dtype=np.uint8)
    digest = hashlib.sha256()
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    pending: bytes | memoryview = body
    filled = 0
    try:
        while not inflater.eof:
            chunk = inflater.decompress(pending, min(_CHUNK, count + 1 - filled))
            pending = inflater.unconsumed_tail
            if not chunk:  # the input ran out
                break
            if filled + len(chunk) > count:
                filled += len(chunk)
                break
            voxels[filled : filled + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
            digest.update(chunk)
            filled += len(chunk)
    except zlib.error:
        raise InvalidLabelmap("labelmap voxels are not valid gzip data") from None
    if filled != count or (inflater.unconsumed_tail and not inflater.eof):
        raise InvalidLabelmap(
            f"labelmap voxels inflate to {filled} bytes, not the {count} of its {extent}"
        )
    return voxels, digest


def _header_bytes(payload: bytes) -> bytes:
    (length,) = struct.unpack("<I", payload[6:10])
    return payload[10 : 10 + length]


def _ints(value: object, count: int) -> tuple[int, int, int]:
    if not isinstance(value, list) or len(value) != count:
        raise ValueError(f"expected {count} integers")
    a, b, c = (int(v) for v in value)
    return a, b, c


def _floats(value: object, count: int) -> tuple[float, ...]:
    if not isinstance(value, list) or len(value) != count:
        raise ValueError(f"expected {count} numbers")
    return tuple(float(v) for v in value)


def series_header(series: Series) -> LabelmapHeader:
    """The grid of a processed series, as the labelmap header describes it."""
    geometry = series.geometry
    if not geometry or not geometry.get("order"):
        raise InvalidLabelmap("the series has no geometry yet; it is still being processed")
    first = Instance.objects.only("image_position", "image_orientation").get(
        pk=geometry["order"][0]
    )
    orientation = np.array(first.image_orientation or (1, 0, 0, 0, 1, 0), dtype=float)
    normal = np.cross(orientation[:3], orientation[3:])
    row_spacing, column_spacing = geometry.get("pixel_spacing") or (1.0, 1.0)
    return LabelmapHeader(
        shape=(geometry["slice_count"], geometry["rows"], geometry["columns"]),
        spacing=(float(geometry["slice_spacing"]), float(row_spacing), float(column_spacing)),
        origin=tuple(float(v) for v in (first.image_position or (0, 0, 0))),
        direction=tuple(float(v) for v in (*orientation, *normal)),
        series=series.series_instance_uid,
    )
