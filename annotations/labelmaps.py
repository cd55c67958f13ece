"""The labelmap wire format (docs/labelmap-wire-format.md): encode, decode, check the grid."""

import gzip
import hashlib
import json
import struct
import zlib
from dataclasses import asdict, dataclass

import numpy as np

from config.errors import PlatformError
from imaging.models import Instance, Series

MAGIC = b"NFLM"
VERSION = 1
GZIP = 1
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


@dataclass(frozen=True, slots=True)
class Labelmap:
    header: LabelmapHeader
    voxels: np.ndarray  # uint8, shape == header.shape


def encode(voxels: np.ndarray, header: LabelmapHeader) -> bytes:
    """The wire bytes of `voxels` (uint8, C order) under `header` (its sha256 is filled in)."""
    if voxels.dtype != np.uint8 or tuple(voxels.shape) != tuple(header.shape):
        raise InvalidLabelmap(f"voxels must be uint8 of shape {header.shape}")
    raw = np.ascontiguousarray(voxels).tobytes()
    fields = asdict(header) | {"sha256": hashlib.sha256(raw).hexdigest()}
    header_bytes = json.dumps(fields, separators=(",", ":")).encode()
    prefix = MAGIC + struct.pack("<BBI", VERSION, GZIP, len(header_bytes))
    return prefix + header_bytes + gzip.compress(raw, compresslevel=6, mtime=0)


def read_header(payload: bytes) -> LabelmapHeader:
    """Parse and check the header only (cheap: no decompression)."""
    if len(payload) < 10 or payload[:4] != MAGIC:
        raise InvalidLabelmap("not a labelmap: the payload does not start with NFLM")
    version, compression, length = struct.unpack("<BBI", payload[4:10])
    if version != VERSION:
        raise InvalidLabelmap(f"labelmap version {version} is not supported (expected {VERSION})")
    if compression != GZIP:
        raise InvalidLabelmap(f"labelmap compression {compression} is not supported (1 = gzip)")
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
    except (ValueError, KeyError, TypeError) as error:
        raise InvalidLabelmap(f"labelmap header is malformed ({error})") from None
    if any(n <= 0 for n in header.shape):
        raise InvalidLabelmap("labelmap shape must be positive")
    return header


def decode(payload: bytes, *, max_voxels: int) -> Labelmap:
    """Decode and verify a payload; the inflated size is bounded before inflating."""
    header = read_header(payload)
    if header.voxel_count > max_voxels:
        raise InvalidLabelmap(f"labelmap has {header.voxel_count} voxels, over {max_voxels}")
    count = header.voxel_count
    # Inflated and hashed a chunk at a time, each chunk while it is still in the CPU cache,
    # straight into the voxel array: no growing buffer, no second pass over 35 MB to hash it.
    voxels = np.empty(count, dtype=np.uint8)
    digest = hashlib.sha256()
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    pending: bytes | memoryview = memoryview(payload)[10 + len(_header_bytes(payload)) :]
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
            f"labelmap voxels inflate to {filled} bytes, not the {count} of its shape"
        )
    if digest.hexdigest() != header.sha256:
        raise InvalidLabelmap("labelmap checksum does not match its voxels")
    return Labelmap(header=header, voxels=voxels.reshape(header.shape))


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
